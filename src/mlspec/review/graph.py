"""Drawing the lineage graph (`mlspec graph`) and walking it downstream (`mlspec impact`).

The graph itself is `ir.graph.build_graph` (the one stored in manifest.json); this module
loads it for specs and renders it (Mermaid, which GitHub renders in pull requests;
Graphviz DOT; JSON). `review.impact` walks it downstream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

KIND_ORDER = ("source", "dataset", "featureView", "model", "deployment", "dag", "pipeline")
KIND_TITLES = {"source": "sources", "dataset": "datasets", "featureView": "feature views", "model": "models",
               "deployment": "deployments", "dag": "DAGs", "pipeline": "pipelines"}


@dataclass
class SystemGraph:
    system: str
    spec_file: str
    graph: dict  # {"nodes": [...], "edges": [...]} as build_graph makes it
    project: object  # the IR, for feature-level questions


def load_graphs(files: list[Path]) -> tuple[list[SystemGraph], list]:
    """(graphs, front-end units) for every spec; graphs only for those that resolve."""
    from mlspec.compiler.session import load_unit
    from mlspec.ir.graph import build_graph

    graphs, units = [], []
    for path in files:
        unit = load_unit(path)
        units.append(unit)
        if unit.ok:
            graphs.append(SystemGraph(unit.project.base.name, str(path), build_graph(unit.project), unit.project))
    return graphs, units


# --- rendering -----------------------------------------------------------------------------------

_MERMAID_SHAPES = {"dataset": ('[("', '")]'), "featureView": ('[["', '"]]'), "model": ('(["', '"])'),
                   "deployment": ('{{"', '"}}'), "dag": ('>"', '"]'), "source": ('[("', '")]'),
                   "pipeline": ('>"', '"]')}
_MERMAID_STYLES = {
    "source": "fill:#fafafa,stroke:#90a4ae,color:#37474f",
    "pipeline": "fill:#fce4ec,stroke:#ad1457,color:#880e4f",
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
               "dag": "cds", "source": "cylinder", "pipeline": "cds"}


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
