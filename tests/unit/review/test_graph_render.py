"""The graph renderings (mlspec.review.graph) escape what a spec's names may hold. (`mlspec graph`
and `mlspec impact` themselves: tests/cli/test_graph.py.)"""

from __future__ import annotations

import pydot
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydot's pyparsing calls


def test_mermaid_and_dot_escape_labels():
    from mlspec.review.graph import SystemGraph, render_dot, render_mermaid

    graph = {"nodes": [{"id": "dataset:a", "kind": "dataset", "name": 'say "hi" <b>'},
                       {"id": "model:m", "kind": "model", "name": "m"}],
             "edges": [{"from": "dataset:a", "to": "model:m"}]}
    systems = [SystemGraph('sys "x"', "s.yaml", graph, None)]

    mermaid = render_mermaid(systems)
    assert '"say #quot;hi#quot; #lt;b#gt;"' in mermaid and 'say "hi"' not in mermaid
    parsed = pydot.graph_from_dot_data(render_dot(systems))[0]
    labels = [n.get_label() for sub in parsed.get_subgraphs() for n in sub.get_nodes()]
    assert '"say \\"hi\\" <b>"' in labels
