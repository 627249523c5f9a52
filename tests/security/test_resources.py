"""Documents built to keep mlspec busy: a long string referenced by thousands of aliases.
(Alias bombs, deep nesting and huge files are tests/test_hostile_input.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEADER = "apiVersion: mlspec/v1alpha1\nkind: MLSystem\n"


def _validate(path: Path) -> subprocess.CompletedProcess:
    # No timing is asserted: a regression shows as this timeout, not as a slow pass.
    return subprocess.run([sys.executable, "-m", "mlspec", "validate", "--format", "json", str(path)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MLSPEC_NO_CACHE": "1", "NO_COLOR": "1"})


@pytest.mark.parametrize("where", ["labels", "list"])
def test_a_long_string_behind_thousands_of_aliases_is_refused_before_it_is_checked(tmp_path, where):
    """Attack: a 4 MB string and 4000 aliases to it: a few MB of YAML that expands to 16 GB
    of text, which every check then walks once per alias (validate stayed busy for hours,
    yet the value count was far under the alias-bomb limit). The loader also budgets the
    characters every expansion builds and refuses the document (E009) before building it."""
    long = "x" * (4 * 1024 * 1024)
    if where == "labels":
        body = f"metadata: {{name: churn, description: &d {long}}}\nlabels:\n" + "".join(
            f"  k{i}: *d\n" for i in range(4000))
    else:
        body = f"metadata: {{name: churn}}\nnotes: [&d {long}, " + ", ".join(["*d"] * 4000) + "]\n"
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEADER + body)

    result = _validate(spec)

    assert result.returncode == 1, result.stderr[-2000:]
    (diagnostic,) = json.loads(result.stdout)["diagnostics"]
    assert diagnostic["code"] == "E009" and "characters of text" in diagnostic["message"]
