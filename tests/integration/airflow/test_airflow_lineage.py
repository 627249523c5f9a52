"""The generated OpenLineage config for Airflow: the client config builds an HTTP transport
to the spec's Marquez URL, and the Airflow settings name the spec's namespace and that same
transport. (That every task emits events with its datasets is shown by running the
ingestion DAG in test_airflow_ingest.py.)"""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import REPO, SPECS
from support.mlspec_data import project_of

GENERATED = REPO / "generated"
WITH_LINEAGE = ["customer-churn", "payments-risk"]


@pytest.mark.parametrize("system", WITH_LINEAGE)
def test_openlineage_yml_builds_an_http_transport_to_marquez(system):
    from openlineage.client.client import OpenLineageConfig
    from openlineage.client.transport import get_default_factory
    from openlineage.client.transport.http import HttpTransport

    lineage = project_of(SPECS / f"{system}.yaml").base.platform.lineage
    config = OpenLineageConfig.from_dict(yaml.safe_load((GENERATED / system / "lineage" / "openlineage.yml").read_text()))
    transport = get_default_factory().create(config.transport)
    assert isinstance(transport, HttpTransport)
    assert transport.url == lineage.url
    assert transport.endpoint == "api/v1/lineage"


@pytest.mark.parametrize("system", WITH_LINEAGE)
def test_airflow_settings_name_the_namespace_and_transport(system):
    lineage = project_of(SPECS / f"{system}.yaml").base.platform.lineage
    lines = (GENERATED / system / "lineage" / "openlineage.env").read_text().splitlines()
    settings = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert settings["AIRFLOW__OPENLINEAGE__NAMESPACE"] == lineage.namespace
    assert json.loads(settings["AIRFLOW__OPENLINEAGE__TRANSPORT"]) == {
        "type": "http", "url": lineage.url, "endpoint": "api/v1/lineage"}


def test_no_lineage_config_without_a_lineage_platform():
    assert not (GENERATED / "web-events" / "lineage").exists()
