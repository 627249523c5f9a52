"""`mlspec compile`: the tree it writes, and the promises around it (the committed tree's bytes,
--check and --diff write nothing, stale files pruned). Same bytes under any hash seed, and
interrupted writes: tests/integration/process/ (real processes) and tests/unit/build/."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from conftest import SPECS, invoke_mlspec
from support.trees import snapshot


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throwaway repository layout with the example specs."""
    shutil.copytree(SPECS, tmp_path / "specs")
    return tmp_path


def test_committed_generated_tree_is_fresh():
    result = invoke_mlspec("compile", "specs", "--check")
    assert result.returncode == 0, f"generated/ is stale; run `mlspec compile specs`\n{result.stdout[-3000:]}"


def test_every_file_has_a_header_and_the_manifest_indexes_it(compiled_examples):
    project = compiled_examples  # read only: specs/ compiled once per session
    for system_dir in sorted((project / "generated").iterdir()):
        if not system_dir.is_dir():
            continue
        manifest = json.loads((system_dir / "manifest.json").read_text())
        spec_sha = hashlib.sha256((project / manifest["spec"]["path"]).read_bytes()).hexdigest()
        assert manifest["spec"]["sha256"] == spec_sha
        listed = {a["path"]: a["sha256"] for a in manifest["artifacts"]}
        on_disk = {p.relative_to(system_dir).as_posix() for p in system_dir.rglob("*") if p.is_file()}
        assert set(listed) == on_disk - {"manifest.json"}
        for relative, digest in listed.items():
            content = (system_dir / relative).read_bytes()
            assert hashlib.sha256(content).hexdigest() == digest, relative
            text = content.decode("utf-8")
            assert spec_sha in text and "generated" in text.lower(), f"{relative} lacks the header"
            assert "\r\n" not in text


def test_check_reports_stale_output_with_a_diff_and_the_fix_command_and_writes_nothing(compiled_project):
    project = compiled_project  # a copy of specs/ compiled once per session
    service = project / "generated/customer-churn/k8s/prod/inferenceservice-churn.yaml"
    service.write_text(service.read_text().replace("maxReplicas: 5", "maxReplicas: 7"))
    stray = project / "generated/customer-churn/k8s/prod/leftover.yaml"
    stray.write_text("kind: Leftover\n")
    before = snapshot(project / "generated")

    result = invoke_mlspec("compile", "specs", "--check", cwd=project)

    assert result.returncode == 1
    assert "-    maxReplicas: 7" in result.stdout and "+    maxReplicas: 5" in result.stdout
    assert "leftover.yaml" in result.stdout
    assert "run `mlspec compile specs`" in result.stderr
    assert snapshot(project / "generated") == before


def test_diff_shows_changes_without_writing(compiled_project):
    project = compiled_project  # a copy of specs/ compiled once per session
    spec = project / "specs/customer-churn.yaml"
    spec.write_text(spec.read_text().replace("replicas: {min: 1, max: 5}", "replicas: {min: 2, max: 5}"))
    before = snapshot(project / "generated")
    result = invoke_mlspec("compile", "specs", "--diff", cwd=project)
    assert result.returncode == 0
    assert "+    minReplicas: 2" in result.stdout
    assert snapshot(project / "generated") == before


def test_files_the_spec_no_longer_produces_are_pruned(compiled_project):
    project = compiled_project  # a copy of specs/ compiled once per session
    assert (project / "generated/payments-risk/k8s/staging").is_dir()
    spec = project / "specs/payments-risk.yaml"
    text = spec.read_text()
    start = text.index("  staging:")
    end = text.index("  prod:\n    namespace: risk")
    spec.write_text(text[:start] + text[end:])
    invoke_mlspec("compile", "specs", cwd=project, check=True)
    assert not (project / "generated/payments-risk/k8s/staging").exists()
    assert not (project / "generated/payments-risk/argocd/staging").exists()
    # and a system whose spec file was deleted disappears with it
    (project / "specs/minimal.yaml").unlink()
    invoke_mlspec("compile", "specs", cwd=project, check=True)
    assert not (project / "generated/web-events").exists()


def test_invalid_spec_writes_nothing(compiled_project):
    project = compiled_project  # a copy of specs/ compiled once per session
    before = snapshot(project / "generated")
    spec = project / "specs/customer-churn.yaml"
    spec.write_text(spec.read_text().replace("slo: churn-api", "slo: churn-apx"))
    result = invoke_mlspec("compile", "specs", cwd=project)
    assert result.returncode == 1
    assert "unknown SLO `churn-apx`" in result.stderr and "nothing was written" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(project / "generated") == before


def test_target_and_env_selection_leave_other_output_alone(compiled_project):
    project = compiled_project  # a copy of specs/ compiled once per session
    full = snapshot(project / "generated")
    spec = project / "specs/customer-churn.yaml"
    spec.write_text(spec.read_text().replace("replicas: {min: 1, max: 5}", "replicas: {min: 1, max: 6}"))
    invoke_mlspec("compile", "specs/customer-churn.yaml", "--target", "kserve", "--env", "prod", cwd=project,
                  check=True)
    after = snapshot(project / "generated")
    changed = sorted(k for k in after if after[k] != full.get(k))
    # the prod InferenceService changed (and the manifest indexing it); nothing else was touched or lost
    assert changed == ["customer-churn/k8s/prod/inferenceservice-churn.yaml", "customer-churn/manifest.json"]
    assert set(after) == set(full)


def test_compiling_the_argocd_target_alone_keeps_each_kustomization_whole(compiled_project):
    """The kustomization lists what every target deploys, also what the targets left out of a
    --target selection deploy (their files stay on disk as they are)."""
    project = compiled_project  # a copy of specs/ compiled once per session
    full = snapshot(project / "generated")
    invoke_mlspec("compile", "specs/customer-churn.yaml", "--target", "argocd", "--env", "prod", cwd=project,
                  check=True)
    assert snapshot(project / "generated") == full
    assert b"inferenceservice-churn.yaml" in full["customer-churn/k8s/prod/kustomization.yaml"]


def test_unknown_target_and_environment_are_usage_errors(project):
    result = invoke_mlspec("compile", "specs", "--target", "nope", cwd=project)
    assert result.returncode == 2 and "unknown target nope" in result.stderr
    result = invoke_mlspec("compile", "specs/customer-churn.yaml", "--env", "qa", cwd=project)
    assert result.returncode == 2 and "environment `qa` is not defined" in result.stderr


def test_the_lock_file_stays_out_of_commits(project):
    import subprocess

    subprocess.run(["git", "init", "--quiet", str(project)], check=True)
    assert invoke_mlspec("compile", "specs/minimal.yaml", cwd=project).returncode == 0
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project,
                            capture_output=True, text=True, check=True).stdout
    assert "generated/.mlspec.lock" not in status and "generated/.gitignore" in status
