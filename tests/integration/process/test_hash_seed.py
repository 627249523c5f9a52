"""Determinism across processes: compiling the example specs gives the same bytes under any
hash seed and from any working directory, and the committed tree's bytes. Two real
interpreters, since the hash seed is fixed when one starts. (Everything else about
`mlspec compile`, in-process: tests/cli/test_compile.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import REPO, SPECS, run_mlspec
from support.trees import snapshot


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throwaway repository layout with the example specs."""
    shutil.copytree(SPECS, tmp_path / "specs")
    return tmp_path


def test_same_spec_gives_same_bytes_under_any_hash_seed_and_working_directory(project, tmp_path):
    run_mlspec("compile", "specs", "--out", "generated", cwd=project, env={"PYTHONHASHSEED": "0"}, check=True)
    first = snapshot(project / "generated")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_mlspec("compile", str(project / "specs"), "--out", str(project / "generated2"), cwd=elsewhere,
               env={"PYTHONHASHSEED": "12345"}, check=True)
    second = snapshot(project / "generated2")
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    # and equal to the committed tree: nothing depends on the machine or folder
    assert first == snapshot(REPO / "generated")
