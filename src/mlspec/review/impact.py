"""`mlspec impact`: everything downstream of a node of the lineage graph ("if this table
changes, which models are affected?")."""

from __future__ import annotations

import re
from collections import deque

from mlspec.errors import UsageError
from mlspec.review.graph import KIND_ORDER, KIND_TITLES, SystemGraph

REF_KINDS = {"dataset": "dataset", "column": "column", "feature": "featureView", "featureview": "featureView",
             "featureView": "featureView", "model": "model", "dag": "dag", "pipeline": "pipeline",
             "deployment": "deployment", "table": "source", "source": "source"}


class UnknownNode(UsageError):
    """The node named on the command line is not in any spec's graph."""


def parse_ref(ref: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z]+):(.+)$", ref)
    if not match or match.group(1) not in REF_KINDS and match.group(1).lower() not in REF_KINDS:
        raise UnknownNode(f"`{ref}` is not a node: write table:NAME (a table a SQL source reads, or a source's"
                          " URI), dataset:NAME, column:DATASET.COLUMN, feature:VIEW[.FEATURE], model:NAME, dag:ID,"
                          " pipeline:MODEL or deployment:ENV/MODEL")
    kind = REF_KINDS.get(match.group(1)) or REF_KINDS[match.group(1).lower()]
    return kind, match.group(2)


def downstream(graph: dict, starts: list[str]) -> list[dict]:
    """Every node reachable from `starts` (not the starts themselves), breadth first; the
    graph may have cycles (drift DAG -> training DAG -> model -> drift DAG)."""
    children: dict[str, list[str]] = {}
    for edge in graph["edges"]:
        children.setdefault(edge["from"], []).append(edge["to"])
    nodes = {n["id"]: n for n in graph["nodes"]}
    seen = set(starts)
    order = []
    queue = deque(starts)
    while queue:
        current = queue.popleft()
        for child in sorted(children.get(current, [])):
            if child not in seen:
                seen.add(child)
                order.append(nodes[child])
                queue.append(child)
    return order


def impact(graphs: list[SystemGraph], ref: str) -> list[dict]:
    """Per system where the node exists: {"system", "node", "affected": {kind: [names]}}."""
    from mlspec.diagnostics import did_you_mean

    kind, name = parse_ref(ref)
    found = []
    candidates = []
    for g in graphs:
        ids = {n["id"] for n in g.graph["nodes"]}
        candidates += [n["id"] for n in g.graph["nodes"] if n["kind"] == ("dataset" if kind == "column" else kind)]
        if kind == "featureView" and "." in name:
            view, feature = name.split(".", 1)
            if f"featureView:{view}" not in ids:
                continue
            known = {f.name for v in g.project.base.feature_views if v.name == view for f in v.features}
            if feature not in known:
                raise UnknownNode(f"feature view `{view}` has no feature `{feature}`; "
                                  + did_you_mean(feature, known))
            # Only the models that read this feature (their training runs), not every model of the view.
            starts = [f"dag:{m.train_dag_id}" for m in g.project.base.models
                      if any(f.view == view and f.name == feature for f in m.features)]
            affected = [n for n in g.graph["nodes"] if n["id"] in starts] + downstream(g.graph, starts)
        elif kind == "source":
            starts = source_nodes(g.graph, name)
            if not starts:
                continue
            affected = downstream(g.graph, starts)
        elif kind == "column":
            dataset, dot, column = name.partition(".")
            if f"dataset:{dataset}" not in ids:
                continue
            if not dot or not column:
                raise UnknownNode(f"`{ref}` is not a column: write column:DATASET.COLUMN")
            views, starts = column_readers(g.project.base, dataset, column)
            shown = set(views) | set(starts)
            affected = [n for n in g.graph["nodes"] if n["id"] in shown]
            affected += [n for n in downstream(g.graph, starts) if n["id"] not in shown]
        else:
            node_id = f"{kind}:{name}"
            if node_id not in ids:
                continue
            affected = downstream(g.graph, [node_id])
        grouped = {KIND_TITLES[k]: sorted({n["name"] for n in affected if n["kind"] == k}) for k in KIND_ORDER}
        found.append({"system": g.system, "spec": g.spec_file, "node": ref,
                      "affected": {k: v for k, v in grouped.items() if v}})
    if not found:
        names = sorted({c.split(":", 1)[1] for c in candidates})
        what = {"dag": "DAG", "column": "dataset", "source": "source or table"}.get(kind) \
            or KIND_TITLES.get(kind, kind)[:-1]
        raise UnknownNode(f"no {what} `{name.split('.')[0] if kind == 'column' else name}` in the"
                          f" specs; " + (did_you_mean(name.split('.')[0], names) or "there are none"))
    return found


def source_nodes(graph: dict, name: str) -> list[str]:
    """The source nodes `name` names: a source's URI (`postgres://host:5432/db.public.orders`,
    `s3://bucket/key`), a table's OpenLineage name (`db.public.orders`), or its last name parts
    as a query writes them (`orders`, `public.orders`); table names compare case-insensitively."""
    found = []
    wanted = name.lower().split(".")
    for node in graph["nodes"]:
        if node["kind"] != "source":
            continue
        uri = node["name"]
        if uri == name:
            found.append(node["id"])
            continue
        scheme, sep, rest = uri.partition("://")
        table = rest.partition("/")[2] if sep else ""
        parts = table.lower().split(".")
        if table and "/" not in table and len(parts) >= 2 and parts[len(parts) - len(wanted):] == wanted:
            found.append(node["id"])
    return found


def column_readers(system, dataset_name: str, column: str) -> tuple[list[str], list[str]]:
    """(feature views that expose the column, graph nodes whose runs read it): the training DAGs
    of models that use it as a feature, label, sensitive attribute, split column, timestamp or join key,
    and the feature views keyed or timed by it (everything they feed reads it). A UnknownNode
    when the dataset has typed columns and this is not one of them."""
    from mlspec.diagnostics import did_you_mean

    dataset = next(d for d in system.datasets if d.name == dataset_name)
    if dataset.columns and dataset.column(column) is None:
        raise UnknownNode(f"dataset `{dataset_name}` has no column `{column}`; "
                          + did_you_mean(column, [c.name for c in dataset.columns]))
    views, starts = [], []
    for view in system.feature_views:
        if view.source.name != dataset_name:
            continue
        keys = {k for e in view.entities for k in e.join_keys} | {view.timestamp_field}
        if column in keys:
            starts.append(f"featureView:{view.name}")
        elif any(f.name == column for f in view.features):
            views.append(f"featureView:{view.name}")
    for model in system.models:
        reads = any(f"featureView:{f.view}" in views and f.name == column for f in model.features)
        if model.label_dataset.name == dataset_name:
            label_columns = {model.label_column, model.split.column,
                             *(model.fairness.sensitive if model.fairness else ())}
            label_columns |= {k for v in system.feature_views if v.name in model.feature_views
                              for e in v.entities for k in e.join_keys}
            label_columns |= {c.name for c in dataset.columns if c.type == "timestamp"}
            reads = reads or column in label_columns
        if reads:
            starts.append(f"dag:{model.train_dag_id}")
    return views, starts


def render_impact_text(results: list[dict]) -> str:
    out = []
    for r in results:
        total = sum(len(v) for v in r["affected"].values())
        out.append(f"{r['node']} in {r['system']} ({r['spec']}): {total} downstream\n")
        if not total:
            out.append("  nothing downstream\n")
        for title, names in r["affected"].items():
            out.append(f"  {title}:\n" + "".join(f"    {name}\n" for name in names))
        if "events" in r:  # answered from a run's events (review.run_events)
            out.append("  model versions (in the events):\n" + "".join(f"    {v}\n" for v in r["versions"])
                       if r["versions"] else "  no model version in the events\n")
            out.append(f"  from the events in {r['events']}\n")
    return "".join(out)
