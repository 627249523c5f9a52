"""A compile never leaves a half-written tree: killed at any point, out of disk space, in
a folder it may not write, or missing a template, the previous output stays as it was;
two compiles into one folder take turns.

The compile under test is the real executable in a process of its own; the compiles that set
the scene or check the result run in this process (conftest.invoke_mlspec)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SPECS, invoke_mlspec, run_mlspec
from support.trees import snapshot


def _system_trees(out: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(out).items() if not k.startswith(".mlspec-")}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(SPECS, tmp_path / "specs")
    return tmp_path


def _edit(spec: Path, old: str, new: str) -> None:
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new))


def test_sigkill_at_any_moment_leaves_the_old_or_the_newsnapshot(compiled_project):
    project = compiled_project  # a copy of specs/ compiled once per session
    old = _system_trees(project / "generated")
    _edit(project / "specs/payments-risk.yaml", "replicas: {min: 2, max: 20}", "replicas: {min: 3, max: 20}")
    rng = random.Random(7)
    seen_states = set()
    for attempt in range(8):
        process = subprocess.Popen([sys.executable, "-m", "mlspec", "compile", "specs"], cwd=project,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = _system_trees(project / "generated")
        if state == old:
            seen_states.add("old")
        else:
            # Whatever finished is a complete, consistent tree: exactly what a full compile writes.
            invoke_mlspec("compile", "specs", "--check", cwd=project, check=True)
            seen_states.add("new")
            # put the old tree back for the next attempt
            shutil.rmtree(project / "generated")
            for path, content in old.items():
                target = project / "generated" / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
    assert seen_states, "no attempt observed"
    # A later compile cleans up what killed ones left and completes normally.
    invoke_mlspec("compile", "specs", cwd=project, check=True)
    invoke_mlspec("compile", "specs", "--check", cwd=project, check=True)
    assert not [p for p in (project / "generated").iterdir() if p.name.startswith(".mlspec-")]


def test_concurrent_compiles_are_serialized_by_the_lock(project):
    out = project / "generated"
    out.mkdir()
    with open(out / ".mlspec.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # another compile is "running"
        process = subprocess.Popen([sys.executable, "-m", "mlspec", "compile", "specs/minimal.yaml"], cwd=project,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        assert process.poll() is None, "the second compile must wait for the lock"
        assert not (out / "web-events").exists()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    assert process.wait(timeout=120) == 0
    assert (out / "web-events/manifest.json").is_file()


@contextlib.contextmanager
def _tmpfs(path: Path, size: str):
    """A tmpfs of `size` mounted at `path` for the block (the test is skipped where mounting
    is not allowed), unmounted afterwards whatever happens."""
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                            capture_output=True)
    if result.returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)")
def test_a_full_disk_fails_closed_with_exit_3(project):
    # Room for minimal.yaml's output (50-70 KB, most of it the DAGs' runtime helper), not for all specs'.
    with _tmpfs(project / "small", "128k") as out:
        invoke_mlspec("compile", "specs/minimal.yaml", "--out", "small", cwd=project, check=True)
        before = snapshot(out)
        result = run_mlspec("compile", "specs", "--out", "small", cwd=project)
        assert result.returncode == 3, result.stderr
        assert "cannot write the output" in result.stderr and "No space left" in result.stderr
        assert "Traceback" not in result.stderr
        assert snapshot(out) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only folder needs root (CI runs as root)")
def test_an_unwritable_output_folder_fails_closed_with_exit_3(project):
    with _tmpfs(project / "readonly", "4m") as out:
        invoke_mlspec("compile", "specs/minimal.yaml", "--out", "readonly", cwd=project, check=True)
        before = snapshot(out)
        subprocess.run(["mount", "-o", "remount,ro", str(out)], check=True)
        _edit(project / "specs/minimal.yaml", '"@daily"', '"@hourly"')
        result = run_mlspec("compile", "specs/minimal.yaml", "--out", "readonly", cwd=project)
        assert result.returncode == 3, result.stdout + result.stderr
        assert "cannot write the output" in result.stderr and "Read-only file system" in result.stderr
        assert "Traceback" not in result.stderr
        assert snapshot(out) == before


PLUGIN = '''
from mlspec.targets.base import Target
from mlspec.targets.templating import render_template


class Broken(Target):
    name = "broken"
    description = "renders a template that does not exist"

    def generate(self, project):
        return [self.artifact("x.txt", render_template("nowhere/missing.txt.j2"))]
'''


def test_a_missing_template_fails_closed_with_exit_3(project):
    site = project / "site"
    site.mkdir()
    (site / "broken_target.py").write_text(PLUGIN)
    info = site / "broken_target-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-target\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[mlspec.targets]\nbroken = broken_target:Broken\n")
    invoke_mlspec("compile", "specs/minimal.yaml", cwd=project, check=True)
    before = snapshot(project / "generated")
    result = run_mlspec("compile", "specs/minimal.yaml", "--target", "broken", cwd=project,
                        env={"PYTHONPATH": str(site)})
    assert result.returncode == 3, result.stderr
    assert "error[E902]" in result.stderr and "nowhere/missing.txt.j2" in result.stderr
    assert snapshot(project / "generated") == before
