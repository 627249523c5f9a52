"""`mlspec run --local` on a pull request's spec, through the real CLI and the real local
modules: locations that climb out of the work folder, a --workdir that is not the run's to
take, and a run ended by SIGTERM that leaves its processes behind (issue 23)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import REPO, SPECS, invoke_mlspec
from mlspec.errors import SpecError, UsageError
from mlspec.local.workspace import MARKER, claim_workdir, store_folder


def _spec(project: Path, name: str, text: str) -> Path:
    path = project / "specs" / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


MINIMAL = (SPECS / "minimal.yaml").read_text(encoding="utf-8")


# --- locations outside the work folder ---------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("storage", "s3://../../../outside/page_views.parquet"),  # a bucket named `..`
    ("storage", "s3://raw-data/../../../outside/page_views.parquet"),
    ("storage", "file:///srv/lake/../../../../outside/page_views.parquet"),
])
def test_a_location_climbing_out_of_the_work_folder_is_refused_before_the_run(project, outside, field, value):
    """Attack: `storage: s3://../../x` made the local run's store write outside --workdir."""
    spec = project / "specs" / "minimal.yaml"
    spec.write_text(MINIMAL.replace("storage: s3://raw-data/page_views.parquet", f'{field}: "{value}"'))
    work = project / "work"

    result = invoke_mlspec("run", str(spec), "--local", "--workdir", str(work), cwd=project)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "E112" in result.stdout + result.stderr and "`..`" in result.stdout + result.stderr
    assert not work.exists()
    assert sorted(p.name for p in outside.iterdir()) == ["credentials"]


def test_a_dvc_remote_and_the_feast_registry_climbing_out_are_refused(project):
    spec = _spec(project, "escape.yaml", MINIMAL.replace(
        "    schedule: \"@daily\"",
        "    schedule: \"@daily\"\n    versioning: {dvc: {remote: \"s3://../dvc\"}}")
        + "  feast: {registry: \"s3://../../registry.db\"}\n")

    result = invoke_mlspec("validate", str(spec), cwd=project)

    assert result.returncode == 1
    assert "datasets.page_views.versioning.dvc.remote" in result.stderr
    assert "platform.feast.registry" in result.stderr


def test_the_store_mapping_checks_the_path_it_derives(tmp_path, outside):
    """Behind validate: whatever reaches the mapping (a spec copy, MLflow's answer) is resolved
    and must stay in the store, links followed."""
    work = tmp_path / "work"
    (work / "store").mkdir(parents=True)
    assert store_folder(work, "s3://bucket/a/b.parquet") == str(work / "store" / "bucket/a/b.parquet")
    for uri in ("s3://../x", "s3://b/../../x", "file:///../../x", "/..", "s3://"):
        with pytest.raises(SpecError, match="outside"):
            store_folder(work, uri)
    (work / "store" / "bucket").symlink_to(outside)
    with pytest.raises(SpecError, match="outside"):
        store_folder(work, "s3://bucket/stolen.parquet")


# --- --workdir ----------------------------------------------------------------------------------


def test_the_spec_folder_is_not_taken_as_the_work_folder(project):
    """Attack: `--workdir specs/` overwrote the spec with the run's local copy."""
    spec = project / "specs" / "minimal.yaml"
    before = {p.name: p.read_bytes() for p in (project / "specs").iterdir()}

    result = invoke_mlspec("run", str(spec), "--local", "--workdir", str(project / "specs"), cwd=project)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "holds the spec being run" in result.stderr
    assert {p.name: p.read_bytes() for p in (project / "specs").iterdir()} == before


def test_the_repository_root_is_not_taken_as_the_work_folder(project):
    """Attack: `--workdir .` at the repository root rewrote the committed generated/."""
    (project / ".git").mkdir()
    (project / "generated").mkdir()
    (project / "generated" / "committed.txt").write_text("kept\n")
    spec = shutil.copy(project / "specs" / "minimal.yaml", project.parent / "minimal.yaml")

    result = invoke_mlspec("run", str(spec), "--local", "--workdir", str(project), cwd=project.parent)

    assert result.returncode == 2
    assert "root of a git repository" in result.stderr
    assert (project / "generated" / "committed.txt").read_text() == "kept\n"
    assert not (project / MARKER).exists() and not (project / "airflow").exists()


def test_a_folder_with_files_mlspec_did_not_create_is_not_taken(project, tmp_path):
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work\n")

    result = invoke_mlspec("run", str(project / "specs" / "minimal.yaml"), "--local", "--workdir", str(mine),
                           cwd=project)

    assert result.returncode == 2 and "files mlspec did not create" in result.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.tex"]


def test_a_new_or_empty_folder_is_claimed_and_marked_and_then_reused(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(MINIMAL)
    new = claim_workdir(tmp_path / "new" / "work", spec)
    assert (new / MARKER).is_file()
    (new / "airflow").mkdir()  # what a run leaves
    assert claim_workdir(new, spec) == new
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (claim_workdir(empty, spec) / MARKER).is_file()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "x").write_text("x")
    (linked / MARKER).symlink_to(new / MARKER)
    with pytest.raises(UsageError, match="did not create"):
        claim_workdir(linked, spec)


def test_the_promote_stage_deletes_no_repository_it_did_not_make(tmp_path):
    """Attack: a work folder holding someone's `deployments/` clone lost it to the promote stage."""
    from mlspec.local.repos import make_repos

    work = tmp_path / "work"
    (work / "deployments" / ".git").mkdir(parents=True)
    (work / "deployments" / "prod.yaml").write_text("the team's manifests\n")
    spec = work / "spec.yaml"
    spec.write_text(MINIMAL)

    with pytest.raises(UsageError, match="not made by a local run"):
        make_repos(work, spec, deployer=None)  # refused before anything is published

    assert (work / "deployments" / "prod.yaml").read_text() == "the team's manifests\n"


# --- SIGTERM ------------------------------------------------------------------------------------


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (by parent links in /proc), whatever its process group."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _sigterm_and_check(process: subprocess.Popen, seen: set[int]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=90)
    finally:
        left = _running(seen)
        for pid in left:  # do not leave them to the next test
            os.kill(pid, signal.SIGKILL)
    assert left == set(), f"processes left running after SIGTERM: {left}"


pytestmark_linux = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


@pytestmark_linux
@pytest.mark.slow
def test_sigterm_ends_the_scoring_server_and_its_worker(tmp_path):
    """Attack: `timeout`/a cancelled CI job sends SIGTERM to mlspec; `mlflow models serve` and
    its worker kept serving. The real serving module, under the CLI's SIGTERM handling."""
    pytest.importorskip("mlflow")
    model = tmp_path / "model"
    subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import mlflow.sklearn, numpy as np
        from sklearn.linear_model import LogisticRegression
        mlflow.sklearn.save_model(LogisticRegression().fit(np.array([[0.], [1.]]), [0, 1]), {str(model)!r})
    """)], check=True, cwd=tmp_path, timeout=300, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    harness = tmp_path / "harness.py"
    harness.write_text(textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from mlspec.local.processes import Terminated, handle_sigterm
        from mlspec.local.serving import ScoringServer
        try:
            with handle_sigterm():
                server = ScoringServer(Path({str(model)!r}), Path({str(tmp_path / 'serve.log')!r}))
                server.start()
                print(server.url, flush=True)
                while True:
                    time.sleep(1)
        except Terminated:
            sys.exit(143)
    """))
    process = subprocess.Popen([sys.executable, str(harness)], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), (tmp_path / "serve.log").read_text()
    seen = _descendants(process.pid)
    assert len(seen) >= 2  # mlflow models serve, and the uvicorn worker it starts

    _sigterm_and_check(process, seen)

    assert process.returncode == 143
    import urllib.error
    import urllib.request

    with pytest.raises((urllib.error.URLError, OSError)):
        urllib.request.urlopen(f"{url}/ping", timeout=2)


@pytestmark_linux
@pytest.mark.slow
def test_sigterm_to_the_cli_ends_every_process_the_run_started(project):
    """The real CLI in a subprocess, stopped by SIGTERM while Airflow runs the first DAG."""
    work = project / "work"
    process = subprocess.Popen([sys.executable, "-m", "mlspec", "run", "specs/minimal.yaml", "--local",
                                "--workdir", str(work)], cwd=project, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"})
    deadline = time.monotonic() + 600
    seen: set[int] = set()
    while time.monotonic() < deadline and process.poll() is None:
        seen |= _descendants(process.pid)
        if list((work / "logs").glob("*ingest*.log")) and len(_descendants(process.pid)) >= 1:
            time.sleep(3)  # Airflow is running the DAG
            seen |= _descendants(process.pid)
            break
        time.sleep(0.5)
    assert process.poll() is None, process.stdout.read()
    assert seen, "the run started no process"

    _sigterm_and_check(process, seen)

    output = process.stdout.read()
    assert process.returncode == 143, output
    assert "terminated (SIGTERM)" in output


def test_the_feast_online_store_file_is_moved_into_the_store(tmp_path, outside):
    """Attack: `onlineStore: {type: sqlite, path: ~/.bashrc}` made Feast write its SQLite file
    over the user's file; the run's copy puts it in the store, and refuses one climbing out."""
    import yaml

    from mlspec.local.workspace import prepare_workspace

    spec = tmp_path / "spec.yaml"
    spec.write_text(MINIMAL + f"  feast: {{onlineStore: {{type: sqlite, path: {outside / 'bashrc'}}}}}\n")
    workspace = prepare_workspace(spec, tmp_path / "work")
    copy = yaml.safe_load(workspace.spec.read_text())
    path = Path(copy["platform"]["feast"]["onlineStore"]["path"])
    assert path.is_relative_to(tmp_path / "work" / "store") and path.name == "bashrc"

    spec.write_text(MINIMAL + "  feast: {onlineStore: {type: sqlite, path: ../../../../bashrc}}\n")
    with pytest.raises(SpecError, match="outside"):
        prepare_workspace(spec, tmp_path / "work")
    assert sorted(p.name for p in outside.iterdir()) == ["credentials"]
