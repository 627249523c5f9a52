"""`mlspec lineage emit`: the static lineage graph as OpenLineage run events.

Marquez learns the lineage of a system before any DAG has run: each job of the graph (the
ingestion DAGs, feature materialisation, the training DAGs, the deployments and the drift
DAGs) becomes one COMPLETE RunEvent (openlineage-python's `event_v2` API) with its input
and output datasets, datasets carrying their column schema. Events go to the spec's
Marquez URL (`platform.lineage.url`, POST `/api/v1/lineage`) through the client's HTTP
transport, or to a file (one JSON event per line) through its file transport.

Dataset names follow OpenLineage's naming: object-store datasets are `s3://bucket` +
path, as the Airflow integration reports them; feature views, registered models and
deployments live in the system's lineage namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

PRODUCER = "https://mlspec.dev/lineage-emit"


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


def build_events(project, graph: dict, event_time: str | None = None) -> list:
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import schema_dataset
    from openlineage.client.uuid import generate_new_uuid

    base = project.base
    namespace = base.platform.lineage.namespace if base.platform.lineage else base.name
    when = event_time or datetime.now(timezone.utc).isoformat()
    datasets = {d.name: d for d in base.datasets}
    views = {v.name: v for v in base.feature_views}
    models = {m.name: m for m in base.models}
    nodes = {n["id"]: n for n in graph["nodes"]}

    def identify(node_id: str) -> tuple[str, str, dict]:
        node = nodes[node_id]
        kind, name = node["kind"], node_id.split(":", 1)[1]
        facets = {}
        if kind == "dataset" and name in datasets:
            dataset = datasets[name]
            facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=[
                schema_dataset.SchemaDatasetFacetFields(name=c.name, type=c.type, description=c.description)
                for c in dataset.columns])
            if dataset.storage and "://" in dataset.storage:
                scheme, rest = dataset.storage.split("://", 1)
                bucket, _, path = rest.partition("/")
                return f"{scheme}://{bucket}", path or "/", facets
            return namespace, name, facets
        if kind == "featureView" and name in views:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=[
                schema_dataset.SchemaDatasetFacetFields(name=f.name, type=f.type) for f in views[name].features])
            return namespace, f"feast.{name}", facets
        if kind == "model" and name in models:
            return namespace, f"mlflow.{models[name].registry_name}", facets
        if kind == "deployment":
            return namespace, f"kserve.{name.replace('/', '.')}", facets
        return namespace, f"{kind}.{name}", facets

    events = []
    for job in graph_jobs(graph):
        inputs = [InputDataset(namespace=ns, name=n, facets=f) for ns, n, f in map(identify, job.inputs)]
        outputs = [OutputDataset(namespace=ns, name=n, facets=f) for ns, n, f in map(identify, job.outputs)]
        events.append(RunEvent(eventType=RunState.COMPLETE, eventTime=when, run=Run(runId=str(generate_new_uuid())),
                               job=Job(namespace=namespace, name=job.name), producer=PRODUCER,
                               inputs=inputs, outputs=outputs))
    return events


def event_json(event) -> str:
    from openlineage.client.serde import Serde

    return Serde.to_json(event)


def run_emit(paths: list[str], url: str | None, endpoint: str, file: str | None, report) -> int:
    import click

    from mlspec.build.session import spec_files
    from mlspec.review.graph import load_graphs

    files = spec_files(paths)
    if url and file:
        raise click.UsageError("give --url or --file, not both")
    graphs, fronts = load_graphs(files)
    if report(fronts, "human"):
        return 1
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.file import FileConfig, FileTransport
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    for g in graphs:
        events = build_events(g.project, g.graph)
        if file:
            if file == "-":
                for event in events:
                    click.echo(event_json(event))
                continue
            transport = FileTransport(FileConfig(log_file_path=str(Path(file)), append=True))
            where = file
        else:
            target = url or (g.project.base.platform.lineage.url if g.project.base.platform.lineage else None)
            if not target:
                raise click.UsageError(f"{g.spec_file} has no platform.lineage.url: give --url or --file")
            transport = HttpTransport(HttpConfig(url=target, endpoint=endpoint, timeout=10.0,
                                                 retry={"total": 2, "backoff_factor": 0.2}))
            where = f"{target.rstrip('/')}/{endpoint.lstrip('/')}"
        client = OpenLineageClient(transport=transport)
        try:
            for event in events:
                client.emit(event)
        except Exception as exc:  # the transport's own errors (connection refused, HTTP 4xx/5xx)
            click.echo(f"error: sending lineage of {g.system} to {where} failed: {type(exc).__name__}: {exc}",
                       err=True)
            return 2
        click.echo(f"{g.system}: {len(events)} OpenLineage run events -> {where}", err=True)
    return 0
