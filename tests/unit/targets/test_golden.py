"""Golden tests for the serving side: one small spec per rollout situation, with the exact
files expected. (The example specs' full output is pinned by generated/ itself.)"""

from __future__ import annotations

import pytest

from conftest import REPO
from golden_tree import assert_golden_tree

CASES = REPO / "tests" / "cases" / "golden"
SERVING_TARGETS = ["kserve", "rollout", "argocd"]


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_serving_output_matches_golden(case, tmp_path):
    from mlspec.compiler.compile import compile_spec

    # Compile from a copy beside the output folder, so the recorded spec path is `spec.yaml`.
    spec = tmp_path / "spec.yaml"
    spec.write_bytes((CASES / case / "spec.yaml").read_bytes())
    result = compile_spec(spec, tmp_path / "generated", targets=SERVING_TARGETS)
    assert result.ok, [d.message for d in result.diagnostics]
    assert_golden_tree(result.files, CASES / case / "expected")
