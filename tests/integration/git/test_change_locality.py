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




def test_a_standard_mode_canary_lands_in_staging_only_and_keeps_the_stable_predictor(tmp_path):
    """KServe Standard mode (payments-risk's staging): completing the canary, then starting the next
    version's, reach the deployments repository as staging's InferenceService with the canary's
    model moved into the predictor, then the next version as `spec.canary` beside it."""
    import yaml

    project = tmp_path / "project"
    shutil.copytree(SPECS, project / "specs")
    env = git_env(tmp_path / "home")
    remote = make_remote(tmp_path, env)
    assert run_mlspec("compile", "specs/payments-risk.yaml", cwd=project).returncode == 0
    assert run_mlspec("publish", "specs/payments-risk.yaml", "--repo", str(remote), cwd=project,
                      env=env).returncode == 0
    service_file = "deployments/payments-risk/staging/inferenceservice-fraud-score.yaml"

    def published_service() -> dict:
        return yaml.safe_load(files_at(remote, "main", env)[service_file])

    assert [c["predictor"]["name"] for c in published_service()["spec"]["canary"]] == ["v11"]
    v11 = "s3://mlflow-artifacts/3/f00d/artifacts/model"
    v12 = "s3://mlflow-artifacts/3/v12/artifacts/model"
    steps = [("--version", "11", "--storage-uri", v11, "--force"), ("--version", "12", "--storage-uri", v12)]
    expected = [(("v11", v11), None), (("v11", v11), ("v12", v12))]
    for args, (stable, canary) in zip(steps, expected):
        published = files_at(remote, "main", env)
        result = run_mlspec("promote", "fraud-score", "--env", "staging", *args, "--repo", str(remote), "--push",
                            cwd=project, env=env)
        assert result.returncode == 0, result.stderr
        now = files_at(remote, "main", env)
        touched = sorted(p for p in set(published) | set(now) if published.get(p) != now.get(p))
        assert service_file in touched and all(p.startswith("deployments/payments-risk/staging/") for p in touched)
        spec = published_service()["spec"]
        assert (spec["predictor"]["name"], spec["predictor"]["model"]["storageUri"]) == stable
        canaries = [(c["predictor"]["name"], c["predictor"]["model"]["storageUri"]) for c in spec.get("canary", [])]
        assert canaries == ([canary] if canary else [])
