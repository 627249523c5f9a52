"""`mlspec publish`: the deployable manifests become one reviewed commit in a real
deployments repository (a bare "remote" and clones in a temp dir), at the folder the Argo
CD Application points at; nothing changes when nothing changed; dirty repositories are
refused; pushes are never forced and racing publishers all land."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SPECS, run_mlspec
from support.git_repos import clone, files_at, git, git_env, log, make_remote


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return git_env(tmp_path / "home")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A spec repository layout with the example specs (cwd of the CLI)."""
    root = tmp_path / "project"
    shutil.copytree(SPECS, root / "specs")
    return root


@pytest.fixture
def remote(tmp_path: Path, env) -> Path:
    return make_remote(tmp_path, env)


def _publish(project: Path, env, *args: str) -> subprocess.CompletedProcess:
    return run_mlspec("publish", *args, cwd=project, env=env)


def test_publish_commits_the_deployable_manifests_where_the_argocd_application_looks(project, remote, env,
                                                                                    tmp_path):
    work = clone(remote, tmp_path / "work", env)
    result = _publish(project, env, "specs/customer-churn.yaml", "--repo", str(work))
    assert result.returncode == 0, result.stderr

    assert log(work, env) == [log(work, env)[0], "initial"]
    published = files_at(work, "HEAD", env)
    ours = {p: c for p, c in published.items() if p.startswith("deployments/")}
    expected = {}
    for env_name in ("dev", "prod"):
        folder = REPO / "generated/customer-churn/k8s" / env_name
        for file in folder.iterdir():
            expected[f"deployments/customer-churn/{env_name}/{file.name}"] = file.read_text()
    assert ours == expected  # byte for byte what `mlspec compile` writes, nothing else
    assert set(published) - set(ours) == {"README.md"}
    # the Application of each environment points at exactly the folder that was written
    for env_name in ("dev", "prod"):
        app = yaml.safe_load((REPO / f"generated/customer-churn/argocd/{env_name}/application.yaml").read_text())
        assert f"{app['spec']['source']['path']}/kustomization.yaml" in published
    message = git(work, "log", "-1", "--format=%B", env=env)
    spec_sha = hashlib.sha256((project / "specs/customer-churn.yaml").read_bytes()).hexdigest()
    assert spec_sha in message and "specs/customer-churn.yaml" in message
    assert "added    deployments/customer-churn/prod/inferenceservice-churn.yaml" in message
    assert git(work, "log", "-1", "--format=%an <%ae>", env=env).strip() == "Test Publisher <publisher@example.com>"
    # a local clone is committed, not pushed, unless asked
    assert log(remote, env) == ["initial"]
    assert result.stdout.strip() == git(work, "rev-parse", "HEAD", env=env).strip()


def test_publishing_again_without_a_change_makes_no_commit(project, remote, env, tmp_path):
    work = clone(remote, tmp_path / "work", env)
    assert _publish(project, env, "specs", "--repo", str(work)).returncode == 0
    head = git(work, "rev-parse", "HEAD", env=env)

    again = _publish(project, env, "specs", "--repo", str(work))

    assert again.returncode == 0, again.stderr
    assert git(work, "rev-parse", "HEAD", env=env) == head
    assert "nothing to publish" in again.stderr and again.stdout == ""


def test_a_changed_spec_updates_files_and_deletes_the_ones_no_longer_produced(project, remote, env, tmp_path):
    work = clone(remote, tmp_path / "work", env)
    assert _publish(project, env, "specs/customer-churn.yaml", "--repo", str(work)).returncode == 0
    spec = project / "specs/customer-churn.yaml"
    text = spec.read_text()
    # drop the canary: the analysis objects disappear, the InferenceService loses its split
    start = text.index("    rollout:\n")
    end = text.index("    monitoring:\n")
    text = text[:start] + text[end:]
    # (Kargo verifies each environment with the canary's analysis: without one, promote directly.)
    text = text.replace("  promotion: kargo\n", "")
    spec.write_text(text.replace("      models.churn.rollout.canaryTrafficPercent: 50\n", ""))

    result = _publish(project, env, "specs/customer-churn.yaml", "--repo", str(work))

    assert result.returncode == 0, result.stderr
    published = files_at(work, "HEAD", env)
    assert "deployments/customer-churn/prod/analysistemplate-churn.yaml" not in published
    assert "deployments/customer-churn/prod/analysisrun-churn.yaml" not in published
    assert not (work / "deployments/customer-churn/prod/analysisrun-churn.yaml").exists()
    assert "canaryTrafficPercent" not in published["deployments/customer-churn/prod/inferenceservice-churn.yaml"]
    message = git(work, "log", "-1", "--format=%B", env=env)
    assert "removed  deployments/customer-churn/prod/analysisrun-churn.yaml" in message
    assert "changed  deployments/customer-churn/prod/inferenceservice-churn.yaml" in message
    assert hashlib.sha256(spec.read_bytes()).hexdigest() in message


def test_a_repository_with_uncommitted_changes_is_refused_and_left_alone(project, remote, env, tmp_path):
    work = clone(remote, tmp_path / "work", env)
    (work / "README.md").write_text("edited by hand\n")
    head = git(work, "rev-parse", "HEAD", env=env)

    result = _publish(project, env, "specs", "--repo", str(work))

    assert result.returncode == 4  # a failed external operation (git)
    assert "uncommitted changes" in result.stderr and "README.md" in result.stderr
    assert "Traceback" not in result.stderr
    assert git(work, "rev-parse", "HEAD", env=env) == head
    assert not (work / "deployments").exists()
    assert (work / "README.md").read_text() == "edited by hand\n"


def test_spec_errors_publish_nothing(project, remote, env, tmp_path):
    work = clone(remote, tmp_path / "work", env)
    spec = project / "specs/customer-churn.yaml"
    spec.write_text(spec.read_text().replace("slo: churn-api", "slo: churn-apii"))

    result = _publish(project, env, "specs/customer-churn.yaml", "--repo", str(work))

    assert result.returncode == 1
    assert "churn-apii" in result.stderr and "nothing was published" in result.stderr
    assert log(work, env) == ["initial"]


def test_a_bare_repository_is_cloned_committed_and_pushed(project, remote, env):
    result = _publish(project, env, "specs", "--repo", str(remote))

    assert result.returncode == 0, result.stderr
    subjects = log(remote, env)
    assert len(subjects) == 2 and subjects[0].startswith("mlspec publish: customer-churn, payments-risk")
    published = files_at(remote, "main", env)
    assert "deployments/payments-risk/staging/inferenceservice-fraud-score.yaml" in published
    assert "README.md" in published


def test_a_clone_behind_its_remote_rebases_its_commit_and_pushes_without_force(project, remote, env, tmp_path):
    work = clone(remote, tmp_path / "work", env)  # cloned before the remote moves on
    other = clone(remote, tmp_path / "other", env)
    (other / "NOTES.md").write_text("someone else's change\n")
    git(other, "add", "NOTES.md", env=env)
    git(other, "commit", "--quiet", "-m", "someone else's change", env=env)
    git(other, "push", "--quiet", "origin", "main", env=env)
    assert _publish(project, env, "specs/payments-risk.yaml", "--repo", str(remote)).returncode == 0
    before = git(remote, "rev-parse", "main", env=env).strip()

    result = _publish(project, env, "specs/customer-churn.yaml", "--repo", str(work), "--push")

    assert result.returncode == 0, result.stderr
    assert "rebasing and retrying" in result.stderr
    subjects = log(remote, env)
    assert subjects[0].startswith("mlspec publish: customer-churn") and subjects[1].startswith(
        "mlspec publish: payments-risk") and subjects[2:] == ["someone else's change", "initial"]
    # a fast-forward of what was there: nothing lost, no merge commit
    git(remote, "merge-base", "--is-ancestor", before, "main", env=env)
    assert git(remote, "rev-list", "--merges", "main", env=env) == ""
    published = files_at(remote, "main", env)
    assert "NOTES.md" in published
    assert "deployments/payments-risk/dev/kustomization.yaml" in published
    assert "deployments/customer-churn/dev/kustomization.yaml" in published
    assert git(work, "rev-parse", "HEAD", env=env) == git(remote, "rev-parse", "main", env=env)


BARRIER_HOOK = """#!/bin/sh
# Hold every push until two are in flight (at most 30 s): both publishers then push from
# the same base, so one of them must lose the race and retry.
mkdir -p "$GIT_DIR/arrivals" && touch "$GIT_DIR/arrivals/$$"
i=0
while [ "$(ls "$GIT_DIR/arrivals" | wc -l)" -lt 2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
exit 0
"""


def test_two_publishers_racing_on_one_bare_repository_both_land(project, remote, env):
    hook = remote / "hooks/pre-receive"
    hook.write_text(BARRIER_HOOK)
    hook.chmod(0o755)
    command = [sys.executable, "-m", "mlspec", "publish", "--repo", str(remote)]
    merged = {**os.environ, **env, "NO_COLOR": "1"}
    racers = [subprocess.Popen([*command, spec], cwd=project, env=merged, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
              for spec in ("specs/customer-churn.yaml", "specs/payments-risk.yaml")]
    outputs = [racer.communicate(timeout=300) for racer in racers]

    assert [racer.returncode for racer in racers] == [0, 0], outputs
    # one of them found the branch moved under it, rebased and pushed again
    assert sum("rebasing and retrying" in err for _, err in outputs) >= 1, outputs
    subjects = log(remote, env)
    assert len(subjects) == 3 and subjects[-1] == "initial"
    assert sorted(s.split(" (")[0] for s in subjects[:2]) == ["mlspec publish: customer-churn",
                                                              "mlspec publish: payments-risk"]
    assert git(remote, "rev-list", "--merges", "main", env=env) == ""
    published = files_at(remote, "main", env)
    # per environment: 4 serving and analysis files, and 3 of mlspec in the cluster
    assert sum(p.startswith("deployments/customer-churn/") for p in published) == 14
    assert sum(p.startswith("deployments/payments-risk/") for p in published) == 21
    git(remote, "fsck", "--no-progress", env=env)


def test_without_a_configured_identity_commits_are_authored_by_mlspec(project, remote, tmp_path):
    env = git_env(tmp_path / "anonymous", identity=False)
    work = clone(remote, tmp_path / "work", env)

    result = _publish(project, env, "specs/customer-churn.yaml", "--repo", str(work))

    assert result.returncode == 0, result.stderr
    assert git(work, "log", "-1", "--format=%an <%ae>|%cn <%ce>", env=env).strip() == (
        "mlspec <mlspec@localhost>|mlspec <mlspec@localhost>")
