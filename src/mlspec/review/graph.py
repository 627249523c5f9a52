"""Drawing the lineage graph (`mlspec graph`) and walking it downstream (`mlspec impact`).

The graph itself is `graph.build_graph` (the one stored in manifest.json); this module
only loads it for specs, renders it (Mermaid, which GitHub renders in pull requests;
Graphviz DOT; JSON) and answers "if this table changes, which models are affected?".
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

KIND_ORDER = ("dataset", "featureView", "model", "deployment", "dag")
KIND_TITLES = {"dataset": "datasets", "featureView": "feature views", "model": "models",
               "deployment": "deployments", "dag": "DAGs"}
REF_KINDS = {"dataset": "dataset", "feature": "featureView", "featureview": "featureView",
             "featureView": "featureView", "model": "model", "dag": "dag", "deployment": "deployment"}


@dataclass
class SystemGraph:
    system: str
    spec_file: str
    graph: dict  # {"nodes": [...], "edges": [...]} as build_graph makes it
    project: object  # the IR, for feature-level questions


def load_graphs(files: list[Path]):
    """(graphs, frontend results) for every spec; graphs only for those that resolve."""
    from mlspec.build.session import load_and_check
    from mlspec.ir.graph import build_graph
    from mlspec.ir.resolve import resolve_project

    graphs, fronts = [], []
    for path in files:
        front = load_and_check(path)
        fronts.append(front)
        if not front.ok:
            continue
        project, diagnostics = resolve_project(front.source, front.spec, str(path))
        front.diagnostics += diagnostics
        if project is not None:
            graphs.append(SystemGraph(project.base.name, str(path), build_graph(project), project))
    return graphs, fronts


# --- rendering -----------------------------------------------------------------------------------

_MERMAID_SHAPES = {"dataset": ('[("', '")]'), "featureView": ('[["', '"]]'), "model": ('(["', '"])'),
                   "deployment": ('{{"', '"}}'), "dag": ('>"', '"]')}
_MERMAID_STYLES = {
    "dataset": "fill:#e3f2fd,stroke:#1565c0,color:#0d47a1",
    "featureView": "fill:#ede7f6,stroke:#5e35b1,color:#311b92",
    "model": "fill:#e8f5e9,stroke:#2e7d32,color:#1b5e20",
    "deployment": "fill:#fff3e0,stroke:#ef6c00,color:#e65100",
    "dag": "fill:#f5f5f5,stroke:#616161,color:#212121",
}


def _mermaid_label(text: str) -> str:
    return (str(text).replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
            .replace("\n", " "))


def render_mermaid(graphs: list[SystemGraph]) -> str:
    lines = ["flowchart LR"]
    ids: dict[tuple[str, str], str] = {}
    for s, g in enumerate(graphs):
        lines.append(f'  subgraph sys{s}["{_mermaid_label(g.system)}"]')
        for n, node in enumerate(g.graph["nodes"]):
            ident = f"s{s}n{n}"
            ids[(g.system, node["id"])] = ident
            left, right = _MERMAID_SHAPES.get(node["kind"], ('["', '"]'))
            lines.append(f"    {ident}{left}{_mermaid_label(node['name'])}{right}:::{node['kind']}")
        lines.append("  end")
    for g in graphs:
        for edge in g.graph["edges"]:
            a, b = ids.get((g.system, edge["from"])), ids.get((g.system, edge["to"]))
            if a and b:
                lines.append(f"  {a} --> {b}")
    for kind in KIND_ORDER:
        lines.append(f"  classDef {kind} {_MERMAID_STYLES[kind]}")
    return "\n".join(lines) + "\n"


_DOT_SHAPES = {"dataset": "cylinder", "featureView": "box3d", "model": "ellipse", "deployment": "hexagon",
               "dag": "cds"}


def _dot(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(graphs: list[SystemGraph]) -> str:
    lines = ["digraph mlspec {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for g in graphs:
        lines.append(f"  subgraph {_dot('cluster_' + g.system)} {{")
        lines.append(f"    label={_dot(g.system)};")
        for node in g.graph["nodes"]:
            lines.append(f"    {_dot(g.system + '/' + node['id'])} [label={_dot(node['name'])},"
                         f" shape={_DOT_SHAPES.get(node['kind'], 'box')}];")
        lines.append("  }")
        for edge in g.graph["edges"]:
            lines.append(f"  {_dot(g.system + '/' + edge['from'])} -> {_dot(g.system + '/' + edge['to'])};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_json(graphs: list[SystemGraph]) -> str:
    return json.dumps({"systems": [{"system": g.system, "spec": g.spec_file, **g.graph} for g in graphs]},
                      indent=2, sort_keys=True) + "\n"


# --- impact --------------------------------------------------------------------------------------


class UnknownNode(Exception):
    pass


def parse_ref(ref: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z]+):(.+)$", ref)
    if not match or match.group(1) not in REF_KINDS and match.group(1).lower() not in REF_KINDS:
        raise UnknownNode(f"`{ref}` is not a node: write dataset:NAME, feature:VIEW[.FEATURE], model:NAME,"
                          " dag:ID or deployment:ENV/MODEL")
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
        candidates += [n["id"] for n in g.graph["nodes"] if n["kind"] == kind]
        if kind == "featureView" and "." in name:
            view, feature = name.split(".", 1)
            if f"featureView:{view}" not in ids:
                continue
            known = {f.name for v in g.project.base.feature_views if v.name == view for f in v.features}
            if feature not in known:
                raise UnknownNode(f"feature view `{view}` has no feature `{feature}`; "
                                  + did_you_mean(feature, known))
            # Only the models that read this feature, not every model of the view.
            starts = [f"model:{m.name}" for m in g.project.base.models
                      if any(f.view == view and f.name == feature for f in m.features)]
            affected = [n for n in g.graph["nodes"] if n["id"] in starts] + downstream(g.graph, starts)
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
        raise UnknownNode(f"no {KIND_TITLES.get(kind, kind)[:-1] if kind != 'dag' else 'DAG'} `{name}` in the"
                          f" specs; " + (did_you_mean(name.split('.')[0], names) or "there are none"))
    return found


def render_impact_text(results: list[dict]) -> str:
    out = []
    for r in results:
        total = sum(len(v) for v in r["affected"].values())
        out.append(f"{r['node']} in {r['system']} ({r['spec']}): {total} downstream\n")
        if not total:
            out.append("  nothing downstream\n")
        for title, names in r["affected"].items():
            out.append(f"  {title}:\n" + "".join(f"    {name}\n" for name in names))
    return "".join(out)


def run_graph(paths: list[str], fmt: str, report) -> int:
    import click

    from mlspec.build.session import spec_files

    files = spec_files(paths)
    graphs, fronts = load_graphs(files)
    if report(fronts, "human"):
        return 1
    click.echo({"mermaid": render_mermaid, "dot": render_dot, "json": render_json}[fmt](graphs), nl=False)
    return 0


def run_impact(ref: str, paths: list[str], fmt: str, report) -> int:
    import click

    from mlspec.build.session import spec_files

    files = spec_files(paths)
    graphs, fronts = load_graphs(files)
    if report(fronts, "human"):
        return 1
    try:
        results = impact(graphs, ref)
    except UnknownNode as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(json.dumps(results, indent=2) + "\n" if fmt == "json" else render_impact_text(results), nl=False)
    return 0
