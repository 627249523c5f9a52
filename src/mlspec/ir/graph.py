"""The static lineage graph of a system, stored in manifest.json, drawn by `mlspec graph` and
walked downstream by `mlspec impact`.

Data and the jobs that move it alternate, the way the data flows:

    source -> ingestion DAG -> dataset -> feature view -> training DAG -> pipeline -> model
    label dataset ----------------------------------------^               model -> deployment
    model -> drift DAG -> training DAG (retraining); datasets the drift DAG compares -> drift DAG
    feature view -> Feast DAG (it applies and materializes each view)

A SQL source's nodes are every table its query reads (as OpenLineage URIs, ir.convert.source).
The Feast DAG hangs off each view rather than between the datasets and the views: it reads every
view's source, and an edge dataset -> Feast DAG -> view would put each view downstream of every
dataset.

so everything that reads a dataset (a training DAG through a feature view or the label, the
Kubeflow pipeline it submits, the drift check) is downstream of it.
"""

from __future__ import annotations

from mlspec import names
from mlspec.ir.model import IRFileSource, IRProject, IRSqlSource


def build_graph(project: IRProject) -> dict:
    base = project.base
    nodes: dict[str, dict] = {}
    edges: set[tuple[str, str]] = set()

    def node(node_id: str, kind: str, name: str) -> str:
        nodes[node_id] = {"id": node_id, "kind": kind, "name": name}
        return node_id

    by_storage = {d.storage: d for d in base.datasets if d.storage}
    for dataset in base.datasets:
        d = node(f"dataset:{dataset.name}", "dataset", dataset.name)
        if dataset.source is not None:
            dag = node(f"dag:{dataset.ingest_dag_id}", "dag", dataset.ingest_dag_id)
            edges.add((dag, d))
            source = dataset.source
            uris = source.tables if isinstance(source, IRSqlSource) else \
                (source.uri,) if isinstance(source, IRFileSource) else ()
            for uri in uris:
                edges.add((node(f"source:{uri}", "source", uri), dag))
    feast = node(f"dag:{names.feast_dag_id(base.name)}", "dag", names.feast_dag_id(base.name)) \
        if base.feature_views else None
    for view in base.feature_views:
        v = node(f"featureView:{view.name}", "featureView", view.name)
        edges.add((f"dataset:{view.source.name}", v))
        edges.add((v, feast))
    for model in base.models:
        m = node(f"model:{model.name}", "model", model.name)
        train = node(f"dag:{model.train_dag_id}", "dag", model.train_dag_id)
        pipeline = node(f"pipeline:{model.name}", "pipeline", names.pipeline_name(base.name, model.k8s_name))
        for view in model.feature_views:
            edges.add((f"featureView:{view}", train))
        edges.add((f"dataset:{model.label_dataset.name}", train))
        edges.add((train, pipeline))
        edges.add((pipeline, m))
        if model.drift_dag_id:
            drift = node(f"dag:{model.drift_dag_id}", "dag", model.drift_dag_id)
            edges.add((m, drift))
            edges.add((drift, train))
            if model.drift.predictions:
                edges.add((f"dataset:{model.drift.predictions}", drift))
            if model.drift_reference in by_storage:
                edges.add((f"dataset:{by_storage[model.drift_reference].name}", drift))
    for env in project.environments:
        for model in env.system.models:
            if model.serving:
                dep = node(f"deployment:{env.name}/{model.name}", "deployment",
                           f"{model.inference_service} ({env.name})")
                edges.add((f"model:{model.name}", dep))
    return {
        "nodes": [nodes[k] for k in sorted(nodes)],
        "edges": [{"from": a, "to": b} for a, b in sorted(edges)],
    }
