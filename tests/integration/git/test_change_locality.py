"""A change shows up where it acts: a promotion in one environment changes that
environment's files only, in generated/ and in the deployments repository."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import SPECS, run_mlspec
from support.git_repos import files_at, git, git_env, make_remote


def test_promoting_in_prod_changes_prod_files_only(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(SPECS, project / "specs")
    env = git_env(tmp_path / "home")
    remote = make_remote(tmp_path, env)
    assert run_mlspec("compile", "specs/payments-risk.yaml", cwd=project).returncode == 0
    assert run_mlspec("publish", "specs/payments-risk.yaml", "--repo", str(remote), cwd=project,
                      env=env).returncode == 0
    before = _tree(project / "generated/payments-risk")
    published = files_at(remote, "main", env)

    result = run_mlspec("promote", "fraud-score", "--env", "prod", "--version", "9", "--storage-uri",
                        "s3://mlflow-artifacts/3/v9/artifacts/model", "--repo", str(remote), "--push",
                        cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    after = _tree(project / "generated/payments-risk")
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    assert changed and all(p.startswith("k8s/prod/") or p == "manifest.json" for p in changed), changed
    now = files_at(remote, "main", env)
    touched = sorted(p for p in set(published) | set(now) if published.get(p) != now.get(p))
    assert touched and all(p.startswith("deployments/payments-risk/prod/") for p in touched), touched
    stat = git(remote, "show", "--stat", "--format=", "main", env=env)
    assert "/dev/" not in stat and "/staging/" not in stat


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()}


