"""`mlspec lineage emit`: the static lineage graph as OpenLineage run events.

Marquez learns the lineage of a system before any DAG has run: each job of the graph (the
ingestion DAGs, feature materialisation, the training DAGs, the deployments and the drift
DAGs) becomes one COMPLETE RunEvent of the OpenLineage 2-0-2 spec with its input and
output datasets, datasets carrying their column schema (SchemaDatasetFacet 1-2-0). Events
go to the spec's Marquez URL (`platform.lineage.url`, POST `/api/v1/lineage`) or to a file
(one JSON event per line). The events are plain JSON written here, to the spec's JSON
Schema, rather than through openlineage-python: mlspec's runtime install stays light, and a
POST needs nothing but the standard library. No ambient credentials (no ~/.netrc) are sent
to a URL that a spec, and so a pull request, chose.

Dataset names follow OpenLineage's naming: object-store datasets are `s3://bucket` +
path, as the Airflow integration reports them; feature views, registered models and
deployments live in the system's lineage namespace.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mlspec.errors import ExternalError

PRODUCER = "https://mlspec.dev/lineage-emit"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
SCHEMA_FACET = "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class JobSpec:
    name: str
    inputs: tuple[str, ...]  # graph node ids
    outputs: tuple[str, ...]


def graph_jobs(graph: dict) -> list[JobSpec]:
    """The jobs of a lineage graph: every DAG, plus a job for each data node that no DAG
    produces but that is derived from other data (feature views, deployments)."""
    kinds = {n["id"]: n["kind"] for n in graph["nodes"]}
    names = {n["id"]: n["name"] for n in graph["nodes"]}
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for edge in graph["edges"]:
        parents.setdefault(edge["to"], []).append(edge["from"])
        children.setdefault(edge["from"], []).append(edge["to"])

    def data(ids):
        return [i for i in ids if kinds[i] != "dag"]

    jobs = []
    for node in graph["nodes"]:
        node_id = node["id"]
        if node["kind"] == "dag":
            outputs = data(children.get(node_id, []))
            inputs = set(data(parents.get(node_id, [])))
            for out in outputs:  # a DAG reads what its outputs are derived from
                inputs |= set(data(parents.get(out, [])))
            jobs.append(JobSpec(names[node_id], tuple(sorted(inputs)), tuple(sorted(outputs))))
        elif not any(kinds[p] == "dag" for p in parents.get(node_id, [])) and data(parents.get(node_id, [])):
            jobs.append(JobSpec(f"{node['kind']}.{node_id.split(':', 1)[1].replace('/', '.')}",
                                tuple(sorted(data(parents[node_id]))),
                                (node_id,)))
    return sorted(jobs, key=lambda j: j.name)


def build_events(project, graph: dict, event_time: str | None = None) -> list[dict]:
    base = project.base
    namespace = base.platform.lineage.namespace if base.platform.lineage else base.name
    when = event_time or datetime.now(timezone.utc).isoformat()
    datasets = {d.name: d for d in base.datasets}
    views = {v.name: v for v in base.feature_views}
    models = {m.name: m for m in base.models}
    nodes = {n["id"]: n for n in graph["nodes"]}

    def schema(fields: list[dict]) -> dict:
        return {"schema": {"_producer": PRODUCER, "_schemaURL": SCHEMA_FACET, "fields": fields}}

    def identify(node_id: str) -> dict:
        node = nodes[node_id]
        kind, name = node["kind"], node_id.split(":", 1)[1]
        if kind == "dataset" and name in datasets:
            dataset = datasets[name]
            facets = schema([{"name": c.name, "type": c.type, **({"description": c.description}
                                                                  if c.description else {})}
                             for c in dataset.columns])
            if dataset.storage and "://" in dataset.storage:
                scheme, rest = dataset.storage.split("://", 1)
                bucket, _, path = rest.partition("/")
                return {"namespace": f"{scheme}://{bucket}", "name": path or "/", "facets": facets}
            return {"namespace": namespace, "name": name, "facets": facets}
        if kind == "featureView" and name in views:
            return {"namespace": namespace, "name": f"feast.{name}",
                    "facets": schema([{"name": f.name, "type": f.type} for f in views[name].features])}
        if kind == "model" and name in models:
            return {"namespace": namespace, "name": f"mlflow.{models[name].registry_name}", "facets": {}}
        if kind == "deployment":
            return {"namespace": namespace, "name": f"kserve.{name.replace('/', '.')}", "facets": {}}
        return {"namespace": namespace, "name": f"{kind}.{name}", "facets": {}}

    return [{
        "eventType": "COMPLETE",
        "eventTime": when,
        "run": {"runId": _uuid7(), "facets": {}},
        "job": {"namespace": namespace, "name": job.name, "facets": {}},
        "inputs": [identify(i) for i in job.inputs],
        "outputs": [identify(o) for o in job.outputs],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    } for job in graph_jobs(graph)]


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
