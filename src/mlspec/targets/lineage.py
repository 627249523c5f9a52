"""OpenLineage for Airflow: the client config (`lineage/openlineage.yml`, HTTP transport to
the spec's Marquez) and the Airflow settings that switch it on (`lineage/openlineage.env`).

The DAGs declare every task's inputs and outputs as OpenLineage datasets (inlets/outlets),
so the OpenLineage provider emits START/COMPLETE events with them; jobs are named
`{dag_id}.{task_id}` in the spec's namespace.
"""

from __future__ import annotations

import json

from mlspec.targets.emit import dump_yaml
from mlspec.ir.model import IRProject, IRSqlSource
from mlspec.targets.base import Artifact, Target

ENDPOINT = "api/v1/lineage"


def transport(url: str) -> dict:
    return {"type": "http", "url": url.rstrip("/"), "endpoint": ENDPOINT}


class LineageTarget(Target):
    name = "lineage"
    description = "OpenLineage client config and Airflow settings (Marquez transport, namespace)"

    def generate(self, project: IRProject) -> list[Artifact]:
        system = project.base
        lineage = system.platform.lineage
        if lineage is None:
            return []
        # One line without surrounding spaces: the spec's Lineage model (E107).
        for dataset in system.datasets:
            if isinstance(dataset.source, IRSqlSource) and not dataset.source.tables:
                self.warn(f"dataset `{dataset.name}`: the lineage graph shows no source for it; describe its"
                          f" connection under `platform.connections.{dataset.source.connection}` ({{type, host,"
                          " port, database, schema}}), so every table the query reads is named", system.spec_path,
                          ("datasets", dataset.name, "source"))
        env = [
            "# Airflow settings for the OpenLineage provider (one KEY=value per line, values literal).",
            "# Load into the Airflow scheduler/worker environment, e.g. docker --env-file or a ConfigMap.",
            f"AIRFLOW__OPENLINEAGE__NAMESPACE={lineage.namespace}",
            f"AIRFLOW__OPENLINEAGE__TRANSPORT={json.dumps(transport(lineage.url), sort_keys=True)}",
        ]
        return [
            self.artifact("lineage/openlineage.yml", dump_yaml({"transport": transport(lineage.url)})),
            self.artifact("lineage/openlineage.env", "\n".join(env) + "\n"),
        ]
