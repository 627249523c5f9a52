"""ruff finds no syntax error, undefined name or unused import (rules F and E9) in mlspec's own
code, which includes the runtime code it copies into generated files (mlspec.runtime), nor in
the committed generated/ tree, whose Python (DAG files, pipelines, Feast definitions, drift
checks, notebooks) is assembled by templates that no linter reads."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.parametrize("folder", ["src/mlspec", "generated"])
def test_ruff_finds_nothing(folder):
    command = ["ruff", "check", "--select", "F,E9", "--no-cache", folder]
    result = subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"`{' '.join(command)}` found:\n{result.stdout}{result.stderr}"
