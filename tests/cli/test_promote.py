"""`mlspec promote` / `mlspec rollback`: the spec changes by exactly the values that
matter (comments, order and formatting untouched), the recompiled InferenceService carries
the new canary / promotion / rollback, and --repo turns it into one deployments commit.
Offline: the version's storage folder is given with --storage-uri (the MLflow lookup is
exercised end to end in tests/integration/mlflow/test_webhook.py)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml

from conftest import invoke_mlspec
from support.git_repos import clone, files_at, git_env, log, make_remote

NEW_URI = "s3://mlflow-artifacts/1/def456/artifacts/model"


@pytest.fixture
def project(compiled_project: Path) -> Path:
    """The example specs, compiled (once per session, copied for this test)."""
    return compiled_project


def _changed_lines(old: str, new: str) -> list[str]:
    return [line for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def _service(project: Path, env: str, model: str = "churn", system: str = "customer-churn") -> dict:
    return yaml.safe_load((project / f"generated/{system}/k8s/{env}/inferenceservice-{model}.yaml").read_text())


def _body(path: Path) -> str:
    """A generated file without its comment lines (the header)."""
    return "".join(line for line in path.read_text().splitlines(keepends=True) if not line.startswith("# "))


def test_promoting_a_new_version_starts_a_canary_in_that_environment_only(project):
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()
    prod_before = _body(project / "generated/customer-churn/k8s/prod/inferenceservice-churn.yaml")

    result = invoke_mlspec("promote", "churn", "--version", "3", "--storage-uri", NEW_URI, "--env", "dev", cwd=project)

    assert result.returncode == 0, result.stderr
    after = spec.read_text()
    # the diff is the two new values, in dev's overrides; every other byte is as it was
    assert _changed_lines(before, after) == [
        f"+      models.churn.serving.storageUri: {NEW_URI}",
        '+      models.churn.serving.modelVersion: "3"',
    ]
    assert result.stdout.startswith("--- a/specs/customer-churn.yaml")  # the diff is shown
    service = _service(project, "dev")
    predictor = service["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == NEW_URI
    assert predictor["canaryTrafficPercent"] == 50  # dev's canary share
    assert service["metadata"]["annotations"]["mlspec.dev/model-version"] == "3"
    run = yaml.safe_load((project / "generated/customer-churn/k8s/dev/analysisrun-churn.yaml").read_text())
    assert run["metadata"]["annotations"]["mlspec.dev/model-version"] == "3"
    # prod keeps serving version 2
    assert _body(project / "generated/customer-churn/k8s/prod/inferenceservice-churn.yaml") == prod_before
    assert invoke_mlspec("compile", "specs/customer-churn.yaml", "--check", cwd=project).returncode == 0


def test_completing_a_canary_needs_a_successful_analysis_or_force(project):
    args = ("promote", "churn", "--version", "3", "--storage-uri", NEW_URI, "--env", "dev")
    assert invoke_mlspec(*args, cwd=project).returncode == 0
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()

    result = invoke_mlspec(*args, cwd=project)

    assert result.returncode == 2, result.stderr
    assert "completing it needs a successful analysis" in result.stderr and "--force" in result.stderr
    assert spec.read_text() == before
    assert (project / "generated/customer-churn/k8s/dev/analysisrun-churn.yaml").exists()


def test_promoting_the_version_in_canary_with_force_completes_it_and_removes_the_split(project):
    args = ("promote", "churn", "--version", "3", "--storage-uri", NEW_URI, "--env", "dev")
    assert invoke_mlspec(*args, cwd=project).returncode == 0
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()

    result = invoke_mlspec(*args, "--force", cwd=project)

    assert result.returncode == 0, result.stderr
    assert "promoted in dev" in result.stderr
    assert "decided by: forced with --force, without a successful analysis" in result.stderr  # the output says so
    assert _changed_lines(before, spec.read_text()) == ["+      models.churn.rollout.phase: promoted"]
    predictor = _service(project, "dev")["spec"]["predictor"]
    assert "canaryTrafficPercent" not in predictor and predictor["model"]["storageUri"] == NEW_URI
    assert not (project / "generated/customer-churn/k8s/dev/analysisrun-churn.yaml").exists()
    # promoting once more changes nothing
    again = invoke_mlspec(*args, cwd=project)
    assert again.returncode == 0 and "already promoted" in again.stderr
    assert _changed_lines(before, spec.read_text()) == ["+      models.churn.rollout.phase: promoted"]


def _analysis_run_file(project: Path, tmp_path: Path, phase: str) -> Path:
    """The generated AnalysisRun with the status Argo Rollouts writes (metric results and
    measurements included: a phase alone proves nothing)."""
    import json

    from support.analysis_objects import analysis_run

    path = tmp_path / f"analysisrun-{phase}.json"
    path.write_text(json.dumps(analysis_run(project, "dev", phase)))
    return path


def test_a_successful_analysis_completes_the_canary_and_the_commit_records_it(project, tmp_path):
    from support.git_repos import git

    env = git_env(tmp_path / "home")
    args = ("promote", "churn", "--version", "3", "--storage-uri", NEW_URI, "--env", "dev")
    assert invoke_mlspec(*args, cwd=project).returncode == 0
    git(project, "init", "--quiet", "-b", "main", env=env)
    git(project, "add", "-A", env=env)
    git(project, "commit", "--quiet", "-m", "canary of version 3", env=env)
    failed = _analysis_run_file(project, tmp_path, "Failed")
    refused = invoke_mlspec(*args, "--analysis", str(failed), cwd=project, env=env)
    assert refused.returncode == 2 and "Failed" in refused.stderr, refused.stderr

    result = invoke_mlspec(*args, "--analysis", str(_analysis_run_file(project, tmp_path, "Successful")), "--commit",
                        cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    message = git(project, "log", "-1", "--format=%B", env=env)
    assert "decided by: AnalysisRun models-dev/customer-churn-churn-v3: Successful" in message, message
    assert "promoted in dev" in message


def test_rollback_sends_all_traffic_back_to_the_previous_revision(project):
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()

    result = invoke_mlspec("rollback", "churn", "--env", "prod", cwd=project)

    assert result.returncode == 0, result.stderr
    # prod had no overrides: the block is added under the environment, nothing else moves
    assert _changed_lines(before, spec.read_text()) == ["+    overrides:",
                                                        "+      models.churn.rollout.phase: rolledBack"]
    predictor = _service(project, "prod")["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 0
    assert predictor["model"]["storageUri"] == "s3://mlflow-artifacts/1/abc123/artifacts/model"
    assert _service(project, "dev")["spec"]["predictor"]["canaryTrafficPercent"] == 50
    again = invoke_mlspec("rollback", "churn", "--env", "prod", cwd=project)
    assert again.returncode == 0 and "already rolled back" in again.stderr


def test_an_existing_override_that_covers_the_value_is_edited_in_place(project):
    spec = project / "specs/payments-risk.yaml"
    before = spec.read_text()

    # staging overrides `models.fraud-score.rollout.canaryTrafficPercent`; a flow-style rollout in the base
    result = invoke_mlspec("rollback", "chargeback-loss", "--env", "staging", cwd=project)

    assert result.returncode == 0, result.stderr
    assert _changed_lines(before, spec.read_text()) == [
        "+      models.chargeback-loss.rollout.phase: rolledBack"]
    predictor = _service(project, "staging", "chargeback-loss", "payments-risk")["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 0
    assert _service(project, "prod", "chargeback-loss", "payments-risk")["spec"]["predictor"][
        "canaryTrafficPercent"] == 20


def test_promote_with_repo_publishes_exactly_one_commit(project, tmp_path):
    env = git_env(tmp_path / "home")
    remote = make_remote(tmp_path, env)
    work = clone(remote, tmp_path / "work", env)
    assert invoke_mlspec("publish", "specs", "--repo", str(work), cwd=project, env=env).returncode == 0
    commits = len(log(work, env))

    result = invoke_mlspec("promote", "churn", "--version", "3", "--storage-uri", NEW_URI, "--env", "prod",
                           "--repo", str(work), cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    assert len(log(work, env)) == commits + 1
    published = files_at(work, "HEAD", env)
    service = yaml.safe_load(published["deployments/customer-churn/prod/inferenceservice-churn.yaml"])
    assert service["spec"]["predictor"]["model"]["storageUri"] == NEW_URI
    assert service["spec"]["predictor"]["canaryTrafficPercent"] == 10


@pytest.mark.parametrize("args, message", [
    (("promote", "chrun", "--version", "3", "--storage-uri", NEW_URI, "--env", "dev",
      "--spec", "specs/customer-churn.yaml"), "did you mean `churn`?"),
    (("promote", "churn", "--version", "3", "--storage-uri", NEW_URI, "--env", "prd"), "did you mean `prod`?"),
    (("promote", "churn", "--version", "3", "--storage-uri", "models:/ChurnModel/3", "--env", "dev"),
     "KServe cannot read"),
])
def test_mistakes_are_reported_without_touching_the_spec(project, args, message):
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()

    result = invoke_mlspec(*args, cwd=project)

    assert result.returncode in (1, 2), result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert spec.read_text() == before


def test_version_or_alias_is_required(project):
    result = invoke_mlspec("promote", "churn", "--env", "dev", cwd=project)
    assert result.returncode == 2 and "exactly one of --version or --alias" in result.stderr
