"""The real CLI under a memory cap: `mlspec validate` in a process that cannot map more than
MEMORY_CAP answers hostile files too big to commit with diagnostics; a front end that expanded a
bomb or copied a huge document would die of MemoryError instead. (The same input in this
process: tests/unit/source/test_hostile_input.py.)"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SPECS
from support.hostile import HEADER, bomb
from mlspec.source.loader import MAX_FILE_BYTES

MEMORY_CAP = 1536 * 1024 * 1024  # address space: a few times what validating a real spec takes


def _validate_capped(path: Path) -> subprocess.CompletedProcess:
    """`mlspec validate` in a process that cannot map more than MEMORY_CAP: a front end that
    expanded a bomb or copied a huge document would die of MemoryError instead of answering."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    return subprocess.run([sys.executable, "-m", "mlspec", "validate", "--format", "json", str(path)],
                          capture_output=True, text=True, preexec_fn=cap, timeout=300,
                          env={**os.environ, "MLSPEC_NO_CACHE": "1", "NO_COLOR": "1"})


HOSTILE_FILES = {
    "alias-bomb": lambda: bomb(30, 10),
    "merge-bomb": lambda: HEADER + "\n".join(
        ["m0: &m0 {" + ", ".join(f"k{j}: [lol, lol]" for j in range(10)) + "}"]
        + [f"m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i - 1}" for j in range(10)) + "}" for i in range(1, 12)]) + "\n",
    "deep-nesting": lambda: HEADER + "x: " + "[" * 50_000 + "]" * 50_000 + "\n",
    "wide-mapping": lambda: HEADER + "labels:\n" + "".join(f"  k{i}: v\n" for i in range(200_000)),
    "long-line": lambda: HEADER + "description: " + "x" * (MAX_FILE_BYTES - 200) + "\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_files_get_diagnostics_within_a_memory_cap(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(HOSTILE_FILES[name]())
    result = _validate_capped(path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    diagnostics = json.loads(result.stdout)["diagnostics"]
    assert diagnostics and all(d["file"] == str(path) for d in diagnostics), diagnostics[:3]


def test_a_real_spec_validates_under_the_same_cap():
    # The cap must not be what refuses the hostile files above.
    result = _validate_capped(SPECS / "customer-churn.yaml")
    assert result.returncode == 0, result.stderr[-2000:]
