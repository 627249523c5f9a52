"""The output writer (mlspec.compiler.writer): a new tree replaces the old in one atomic exchange,
and a write that fails part-way leaves the previous tree as it was. (The same promises with a
real kill, a full disk and a read-only mount: tests/integration/process/test_crash_safety.py.)"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from conftest import SPECS
from support.trees import snapshot


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throwaway repository layout with the example specs."""
    shutil.copytree(SPECS, tmp_path / "specs")
    return tmp_path


def test_an_interrupted_write_leaves_the_previous_tree(project, monkeypatch):
    """Fail the writer part-way (as a full disk or a kill would) and check nothing changed."""
    from mlspec.compiler import writer
    from mlspec.compiler.compile import compile_spec

    out = project / "generated"
    result = compile_spec(project / "specs/customer-churn.yaml", out)
    with writer.output_lock(out):
        writer.write_tree(out, result.system, result.files)
    before = snapshot(out)
    changed = dict(result.files)
    changed["k8s/prod/inferenceservice-churn.yaml"] += "# changed\n"
    calls = {"n": 0}

    def failing_open(path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(28, "No space left on device", str(path))
        return open(path, *args, **kwargs)

    # the writer's own `open` (a module global shadows the builtin)
    monkeypatch.setattr(writer, "open", failing_open, raising=False)
    with pytest.raises(OSError):
        with writer.output_lock(out):
            writer.write_tree(out, result.system, changed)
    monkeypatch.delattr(writer, "open")
    writer.recover(out)
    assert snapshot(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".mlspec-")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_the_new_tree_replaces_the_old_in_one_atomic_exchange(tmp_path):
    """On Linux the swap is renameat2(RENAME_EXCHANGE), so no moment exists at which the
    system folder is missing; the rename fallback (and its recovery) is for other systems."""
    from mlspec.compiler import writer

    old, new = tmp_path / "system", tmp_path / "staging"
    old.mkdir()
    new.mkdir()
    (old / "file.txt").write_text("old\n")
    (new / "file.txt").write_text("new\n")
    assert writer._exchange(new, old) is True
    assert (old / "file.txt").read_text() == "new\n" and (new / "file.txt").read_text() == "old\n"
