"""The static lineage graph of a system: datasets -> feature views -> models -> deployments,
with the DAGs that produce and consume them. Stored in manifest.json and drawn by
`mlspec graph`; `mlspec impact` walks it downstream."""

from __future__ import annotations

from mlspec.ir.model import IRProject


def build_graph(project: IRProject) -> dict:
    base = project.base
    nodes: dict[str, dict] = {}
    edges: set[tuple[str, str]] = set()

    def node(node_id: str, kind: str, name: str) -> str:
        nodes[node_id] = {"id": node_id, "kind": kind, "name": name}
        return node_id

    for dataset in base.datasets:
        d = node(f"dataset:{dataset.name}", "dataset", dataset.name)
        if dataset.source is not None:
            dag = node(f"dag:{dataset.ingest_dag_id}", "dag", dataset.ingest_dag_id)
            edges.add((dag, d))
    for view in base.feature_views:
        v = node(f"featureView:{view.name}", "featureView", view.name)
        edges.add((f"dataset:{view.source.name}", v))
    for model in base.models:
        m = node(f"model:{model.name}", "model", model.name)
        for view in model.feature_views:
            edges.add((f"featureView:{view}", m))
        edges.add((f"dataset:{model.label_dataset.name}", m))
        train = node(f"dag:{model.train_dag_id}", "dag", model.train_dag_id)
        edges.add((train, m))
        if model.drift_dag_id:
            drift = node(f"dag:{model.drift_dag_id}", "dag", model.drift_dag_id)
            edges.add((m, drift))
            edges.add((drift, train))
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
