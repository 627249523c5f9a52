"""`mlspec lineage emit`: the static lineage graph as OpenLineage run events.

Marquez learns the lineage of a system before any DAG has run: each job (every task of the
ingestion, training and drift DAGs, each feature view and each deployment) becomes one
COMPLETE RunEvent of the OpenLineage 2-0-2 spec with its input and output datasets, datasets carrying their column schema (SchemaDatasetFacet 1-2-0). Events
go to the spec's Marquez URL (`platform.lineage.url`, POST `/api/v1/lineage`) or to a file
(one JSON event per line). The events are plain JSON written here, to the spec's JSON
Schema, rather than through openlineage-python: mlspec's runtime install stays light, and a
POST needs nothing but the standard library. No ambient credentials (no ~/.netrc) are sent
to a URL that a spec, and so a pull request, chose.

The jobs are the tasks of the generated DAGs, named as Airflow's OpenLineage provider names
them (`{dag_id}.{task_id}`, in the spec's lineage namespace), plus a job for what no DAG runs
(each feature view, each deployment); their datasets are named by `mlspec.targets.lineage_names`,
which the DAG files' inlets and outlets are written from too. So the events Airflow sends when
the DAGs run describe the same jobs and datasets, and Marquez joins both into one graph.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

from mlspec.errors import ExternalError

PRODUCER = "https://mlspec.dev/lineage-emit"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
SCHEMA_FACET = "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
TIMEOUT_SECONDS = 10


def build_events(project, event_time: str | None = None) -> list[dict]:
    """One COMPLETE RunEvent per job of `lineage_names.static_jobs`, datasets with their schema."""
    from mlspec.targets import lineage_names as names

    base = project.base
    namespace = names.job_namespace(base)
    when = event_time or datetime.now(timezone.utc).isoformat()

    def schema(fields: list[dict]) -> dict:
        return {"schema": {"_producer": PRODUCER, "_schemaURL": SCHEMA_FACET, "fields": fields}}

    facets: dict = {}
    for dataset in base.datasets:
        fields = [{"name": c.name, "type": c.type, **({"description": c.description} if c.description else {})}
                  for c in dataset.columns]
        for copy in (names.storage_dataset(dataset), names.dvc_dataset(dataset)):
            if copy is not None and fields:
                facets[copy] = schema(fields)
    for view in base.feature_views:
        facets[names.feature_view_dataset(base, view.name)] = schema(
            [{"name": f.name, "type": f.type} for f in view.features])

    def identify(dataset) -> dict:
        return {"namespace": dataset.namespace, "name": dataset.name, "facets": facets.get(dataset, {})}

    return [{
        "eventType": "COMPLETE",
        "eventTime": when,
        "run": {"runId": _uuid7(), "facets": {}},
        "job": {"namespace": namespace, "name": job.name, "facets": {}},
        "inputs": [identify(d) for d in job.inputs],
        "outputs": [identify(d) for d in job.outputs],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    } for job in names.static_jobs(project)]


def _uuid7() -> str:
    """A time-ordered UUID (version 7), as OpenLineage recommends for run ids."""
    value = (int(time.time() * 1000) << 80) | (0x7 << 76) | (int.from_bytes(os.urandom(10), "big") & ((1 << 76) - 1))
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def event_json(event: dict) -> str:
    return json.dumps(event, sort_keys=True, ensure_ascii=False)


def append_events(events: list[dict], path: Path) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        for event in events:
            handle.write(event_json(event) + "\n")


def post_events(events: list[dict], url: str, endpoint: str) -> str:
    """POST each event to `url`/`endpoint`; returns where they went. ExternalError on failure."""
    where = f"{url.rstrip('/')}/{endpoint.lstrip('/')}"
    if not where.startswith(("http://", "https://")):
        raise ExternalError(f"lineage URL {where} is not http:// or https://")
    for event in events:
        request = urllib.request.Request(where, data=event_json(event).encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - http(s) only
                response.read()
        except urllib.error.HTTPError as exc:
            raise ExternalError(f"{where} answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ExternalError(f"{where} is not reachable: {getattr(exc, 'reason', exc)}") from None
    return where
