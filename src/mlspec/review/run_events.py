"""`mlspec impact NODE --events FILE`: the same question as `mlspec impact` ("if this table
changes, which models are affected?"), answered from the OpenLineage events a run collected
(`mlspec run --local` writes them to `<workdir>/lineage/events.jsonl`) instead of from the spec.

The events are a graph of their own: each run event's input datasets -> its job -> its output
datasets. The walk downstream happens there; the spec only names what the walk reached, so the
answer reads like the spec's (`models: churn`), and lists the model versions the run
registered besides. An event node is named after a spec node when:

- a dataset is a table a SQL source reads (its OpenLineage name, `lineage_names.of_table`), or
  what an ingestion DAG's extract task reads (a file source, wherever the run put it): a source;
- a dataset is written by a task of a dataset's ingestion DAG: that dataset;
- a dataset is `feast.<view>`, `mlflow.<registered model>`, `kserve.<env>.<model>` in the
  system's namespace (lineage_names), or `models/<registered model>/<version>` in an
  `mlflow://` namespace: the feature view, the model, the deployment;
- a job is `<dag id>.<task id>` of a generated DAG, or `<pipeline name>.<step>` of a model's
  training pipeline: that DAG, that pipeline.

A run's events describe what ran: a stage that did not run (or a table no query read) is not
in them, and the answer says only what the events show. Their lineage is task-level: the Feast
DAG's tasks read every view's source and write every view, so each view (and what reads it) is
downstream of every view's source here, where the spec's graph keeps a view with its source.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

from mlspec.errors import UsageError
from mlspec.review.graph import KIND_ORDER, KIND_TITLES, SystemGraph


class BadEvents(UsageError):
    """The events file cannot be read as OpenLineage run events."""


def read_events(path: Path) -> list[dict]:
    """The run events of a file of one JSON event per line (blank lines skipped); a BadEvents
    naming the line otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise BadEvents(f"--events {path}: cannot read it: {error.strerror or error}") from None
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as error:
            raise BadEvents(f"{path}:{number}:{error.colno}: not a JSON event: {error.msg}") from None
        if not isinstance(event, dict) or not isinstance(event.get("job"), dict) or "name" not in event["job"]:
            raise BadEvents(f"{path}:{number}:1: not an OpenLineage run event (no job name)")
        events.append(event)
    return events


def _dataset_key(dataset: dict) -> str:
    return f"dataset|{dataset.get('namespace')}|{dataset.get('name')}"


def event_graph(events: list[dict]) -> tuple[dict[str, set[str]], dict[str, dict]]:
    """(children of each node, node key -> {"kind": "dataset"|"job", "namespace", "name"})."""
    children: dict[str, set[str]] = {}
    nodes: dict[str, dict] = {}
    for event in events:
        job = event["job"]
        job_key = f"job|{job.get('namespace')}|{job['name']}"
        nodes[job_key] = {"kind": "job", "namespace": job.get("namespace"), "name": job["name"]}
        for dataset in event.get("inputs") or []:
            key = _dataset_key(dataset)
            nodes[key] = {"kind": "dataset", "namespace": dataset.get("namespace"), "name": dataset.get("name")}
            children.setdefault(key, set()).add(job_key)
        for dataset in event.get("outputs") or []:
            key = _dataset_key(dataset)
            nodes[key] = {"kind": "dataset", "namespace": dataset.get("namespace"), "name": dataset.get("name")}
            children.setdefault(job_key, set()).add(key)
    return children, nodes


def spec_names(g: SystemGraph, events: list[dict]) -> tuple[dict[str, str], dict[str, str]]:
    """(event node key -> spec graph node id, model version dataset key -> `Name version N`)."""
    from mlspec.targets import airflow_common as common
    from mlspec.targets import lineage_names as names
    from mlspec import names as system_names
    from mlspec.ir.model import IRSqlSource

    system = g.project.base
    namespace = names.job_namespace(system)
    found: dict[str, str] = {}
    versions: dict[str, str] = {}
    by_registry = {m.registry_name: m for m in system.models}
    ingest = {d.ingest_dag_id: d for d in common.ingested_datasets(system)}
    dags = {job.dag_id for job in names.dag_jobs(system, None)}
    pipelines = {system_names.pipeline_name(system.name, m.k8s_name): m for m in system.models}
    for dataset in system.datasets:
        if isinstance(dataset.source, IRSqlSource):
            for table in dataset.source.tables:
                ol = names.of_table(table)
                found[f"dataset|{ol.namespace}|{ol.name}"] = f"source:{table}"
    for view in system.feature_views:
        found[f"dataset|{namespace}|feast.{view.name}"] = f"featureView:{view.name}"
    for model in system.models:
        found[f"dataset|{namespace}|mlflow.{model.registry_name}"] = f"model:{model.name}"
    for node in g.graph["nodes"]:
        if node["kind"] == "deployment":
            env, model = node["id"].split(":", 1)[1].split("/", 1)
            found[f"dataset|{namespace}|kserve.{env}.{model}"] = node["id"]
    for event in events:
        job = event["job"]
        if job.get("namespace") != namespace:
            continue
        job_key = f"job|{namespace}|{job['name']}"
        dag_id, _, task = job["name"].partition(".")
        if dag_id in dags and task:
            found[job_key] = f"dag:{dag_id}"
        elif dag_id in pipelines and task:
            found[job_key] = f"pipeline:{pipelines[dag_id].name}"
        dataset = ingest.get(dag_id)
        if dataset is not None and task:
            for output in event.get("outputs") or []:
                found.setdefault(_dataset_key(output), f"dataset:{dataset.name}")
            source = dataset.source
            uri = getattr(source, "uri", None)
            if task == "extract" and uri and not isinstance(source, IRSqlSource):
                for read in event.get("inputs") or []:  # the file the run read, wherever it was
                    found.setdefault(_dataset_key(read), f"source:{uri}")
        for output in event.get("outputs") or []:
            if str(output.get("namespace", "")).startswith("mlflow://"):
                parts = str(output.get("name", "")).split("/")
                if len(parts) == 3 and parts[0] == "models" and parts[1] in by_registry:
                    key = _dataset_key(output)
                    found[key] = f"model:{by_registry[parts[1]].name}"
                    versions[key] = f"{parts[1]} version {parts[2]}"
    return found, versions


def impact_from_events(graphs: list[SystemGraph], ref: str, path: Path) -> list[dict]:
    """`review.impact.impact`'s answer, walked in the events of `path`: per system whose jobs
    are in them, {"system", "spec", "node", "affected": {kind: [names]}, "versions": [...],
    "events": path}."""
    from mlspec.review.impact import UnknownNode, impact, parse_ref, source_nodes
    from mlspec.targets.lineage_names import job_namespace

    kind, name = parse_ref(ref)
    if kind == "column" or (kind == "featureView" and "." in name):
        raise UsageError(f"`{ref}`: --events answers for tables, datasets, feature views, models, DAGs, pipelines"
                         " and deployments; a column or a single feature is the spec's to say (drop --events)")
    impact(graphs, ref)  # the node must be the spec's: the same error as without --events
    events = read_events(path)
    namespaces = {str((e.get("job") or {}).get("namespace")) for e in events}
    children, nodes = event_graph(events)
    found = []
    for g in graphs:
        if job_namespace(g.project.base) not in namespaces:
            continue
        named, versions = spec_names(g, events)
        wanted = set(source_nodes(g.graph, name)) if kind == "source" else {f"{kind}:{name}"}
        starts = [key for key, node_id in named.items() if node_id in wanted and key in nodes]
        seen, queue = set(starts), deque(starts)
        while queue:
            for child in sorted(children.get(queue.popleft(), ())):
                if child not in seen:
                    seen.add(child)
                    queue.append(child)
        reached = {named[k] for k in seen - set(starts) if k in named} - wanted
        spec_nodes = {n["id"]: n for n in g.graph["nodes"]}
        affected = [spec_nodes[i] for i in reached if i in spec_nodes]
        grouped = {KIND_TITLES[k]: sorted({n["name"] for n in affected if n["kind"] == k}) for k in KIND_ORDER}
        found.append({"system": g.system, "spec": g.spec_file, "node": ref,
                      "affected": {k: v for k, v in grouped.items() if v},
                      "versions": sorted(versions[k] for k in seen if k in versions), "events": str(path)})
    if not found:
        raise UnknownNode(f"--events {path}: no event of the specs' systems (namespaces"
                          f" {', '.join(sorted(job_namespace(g.project.base) for g in graphs)) or 'none'}; the"
                          f" events' jobs are in {', '.join(sorted(namespaces)) or 'none'})")
    return found
