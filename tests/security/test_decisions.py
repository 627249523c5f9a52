"""`mlspec rollout decide` and `mlspec promote` change what production serves: each decision
must be bound to what it judged, and every value it takes from the cluster or MLflow is
hostile until checked. Each attack runs through the real CLI, with real git repositories
(a bare spec remote, the decider's checkout, another party's clone)."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
import yaml

from conftest import SPECS, invoke_mlspec
from support.analysis_objects import analysis_run, iter8_experiment, write
from support.git_repos import clone, files_at, git, git_env, log

SPEC = "specs/customer-churn.yaml"


@pytest.fixture
def repos(tmp_path: Path):
    """(project, spec remote, git environment): a spec checkout, compiled and committed, that
    tracks a bare spec remote; version 2 of `churn` is in canary in prod."""
    env = git_env(tmp_path / "home")
    project = tmp_path / "project"
    shutil.copytree(SPECS, project / "specs")
    invoke_mlspec("compile", "specs", cwd=project, env=env, check=True)
    git(project, "init", "--quiet", "-b", "main", env=env)
    git(project, "add", "-A", env=env)
    git(project, "commit", "--quiet", "-m", "specs and their output", env=env)
    remote = tmp_path / "specs.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(remote), env=env)
    git(project, "remote", "add", "origin", str(remote), env=env)
    git(project, "push", "--quiet", "--set-upstream", "origin", "main", env=env)
    return project, remote, env


def _prepare_concurrent_push(tmp_path: Path, project: Path, remote: Path, env: dict, edit) -> Path:
    """Another party's commit on the spec remote (`edit(text) -> text` of the spec), made
    ready in its own clone and pushed by the decider's own post-commit hook: it lands after
    the decider synced and judged, and before it pushes its decision (the race window)."""
    person = clone(remote, tmp_path / "person", env)
    spec = person / SPEC
    spec.write_text(edit(spec.read_text()))
    invoke_mlspec("compile", "specs", cwd=person, env=env, check=True)
    git(person, "add", "-A", env=env)
    git(person, "commit", "--quiet", "-m", "the other party's change", env=env)
    marker = tmp_path / "pushed-once"
    hook = project / ".git/hooks/post-commit"
    hook.write_text("#!/bin/sh\n"
                    f"[ -e '{marker}' ] && exit 0\n"
                    f"touch '{marker}'\n"
                    "unset GIT_INDEX_FILE GIT_DIR GIT_WORK_TREE GIT_LITERAL_PATHSPECS\n"
                    f"exec git -C '{person}' push --quiet origin HEAD:refs/heads/main\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    return person


def _serving(text: str, env_name: str = "prod") -> tuple[str, str]:
    """(modelVersion, rollout phase) of churn in `env_name` as the spec text says."""
    data = yaml.safe_load(text)
    churn = data["models"]["churn"]
    overrides = data["environments"][env_name].get("overrides") or {}
    version = overrides.get("models.churn.serving.modelVersion", churn["serving"]["modelVersion"])
    phase = overrides.get("models.churn.rollout.phase", churn["rollout"].get("phase", "canary"))
    return str(version), phase


def test_a_decision_never_promotes_a_version_it_did_not_judge(repos, tmp_path, vendor_dir):
    """Attack: while `rollout decide` judged version 2's successful analysis, another party
    pushed version 3 into the spec (here the base `serving` the prod environment inherits).
    The decision commit was rebased as a text merge (the two edits touch different lines)
    and pushed: version 3, never judged, went to 100% in prod, under a commit message naming
    version 2. Now the decision is re-planned on the spec as pushed meanwhile, finds another
    version there, and is abandoned with a non-zero exit; the remote keeps the other party's
    commit only, and version 3 stays in canary."""
    project, remote, env = repos
    _prepare_concurrent_push(tmp_path, project, remote, env, lambda text: text.replace(
        "storageUri: s3://mlflow-artifacts/1/abc123/artifacts/model\n      modelVersion: \"2\"",
        "storageUri: s3://mlflow-artifacts/1/def456/artifacts/model\n      modelVersion: \"3\""))
    analysis = write(tmp_path, analysis_run(project, "prod", "Successful"), vendor_dir)

    result = invoke_mlspec("rollout", "decide", "churn", "--env", "prod", "--analysis", str(analysis), "--commit",
                           "--push-spec", cwd=project, env=env)

    pushed = files_at(remote, "main", env)[SPEC]
    assert _serving(pushed) == ("3", "canary"), _serving(pushed)  # version 3 was not promoted
    assert log(remote, env)[0] == "the other party's change"
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "version 3" in result.stderr and "version 2" in result.stderr and "abandoned" in result.stderr, \
        result.stderr
    assert git(project, "status", "--porcelain", env=env).strip() == ""


def test_a_decision_is_replanned_on_a_spec_that_moved_without_touching_what_was_judged(repos, tmp_path,
                                                                                        vendor_dir):
    """The other side of the binding: another party's change of the same environment's
    overrides (a text conflict for a merge) leaves version 2 in canary in prod, so the
    decision is planned again on the spec as pushed and lands on top of it."""
    project, remote, env = repos
    _prepare_concurrent_push(tmp_path, project, remote, env, lambda text: text.replace(
        "  prod:\n    namespace: models\n    cluster: https://kubernetes.default.svc\n",
        "  prod:\n    namespace: models\n    cluster: https://kubernetes.default.svc\n    overrides:\n"
        "      models.churn.serving.replicas: {min: 2, max: 6}\n"))
    analysis = write(tmp_path, analysis_run(project, "prod", "Successful"), vendor_dir)

    result = invoke_mlspec("rollout", "decide", "churn", "--env", "prod", "--analysis", str(analysis), "--commit",
                           "--push-spec", cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    pushed = files_at(remote, "main", env)
    assert _serving(pushed[SPEC]) == ("2", "promoted")
    assert "models.churn.serving.replicas: {min: 2, max: 6}" in pushed[SPEC]
    assert log(remote, env)[1] == "the other party's change"
    message = git(remote, "log", "-1", "--format=%B", "main", env=env)
    assert "version: 2" in message and "AnalysisRun models/customer-churn-churn-v2: Successful" in message
    service = yaml.safe_load(pushed["generated/customer-churn/k8s/prod/inferenceservice-churn.yaml"])
    assert "canaryTrafficPercent" not in service["spec"]["predictor"]
    assert service["spec"]["predictor"]["minReplicas"] == 2
    assert invoke_mlspec("compile", "specs", "--check", cwd=project, env=env).returncode == 0


# --- what rollout decide accepts as an analysis ------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(SPECS, root / "specs")
    invoke_mlspec("compile", "specs", cwd=root, check=True)
    return root


def _decide(project: Path, analysis: Path, model: str = "churn", env_name: str = "prod", *extra: str,
            env: dict | None = None):
    spec = "specs/customer-churn.yaml" if model == "churn" else "specs/payments-risk.yaml"
    return invoke_mlspec("rollout", "decide", model, "--env", env_name, "--spec", spec, "--analysis", str(analysis),
                         *extra, cwd=project, env=env)


def _forged_runs(project: Path) -> dict[str, dict]:
    """AnalysisRuns named, namespaced and annotated as the one compiled for churn version 2 in
    prod, with `status.phase: Successful`, that do not show the compiled metrics succeeding."""
    empty = analysis_run(project, "prod", "Successful")
    empty["spec"]["metrics"], empty["status"]["metricResults"] = [], []
    no_results = analysis_run(project, "prod", "Successful")
    no_results["status"]["metricResults"] = []
    other_metric = analysis_run(project, "prod", "Successful")
    other_metric["spec"]["metrics"][0]["name"] = "always-true"
    other_metric["status"]["metricResults"][0]["name"] = "always-true"
    missing_one = analysis_run(project, "prod", "Successful")
    missing_one["status"]["metricResults"].pop()
    no_measurement = analysis_run(project, "prod", "Successful")
    no_measurement["status"]["metricResults"][1]["measurements"] = []
    failed_measurement = analysis_run(project, "prod", "Successful")
    failed_measurement["status"]["metricResults"][0]["measurements"][0]["phase"] = "Failed"
    return {"no metrics, no results": empty, "no results": no_results, "another metric": other_metric,
            "a metric without result": missing_one, "a result without measurement": no_measurement,
            "only a failed measurement": failed_measurement}


@pytest.mark.parametrize("case", ["no metrics, no results", "no results", "another metric", "a metric without result",
                                  "a result without measurement", "only a failed measurement"])
def test_a_successful_phase_alone_does_not_promote(project, tmp_path, vendor_dir, case):
    """Attack: an AnalysisRun with no metrics and no results, `phase: Successful` (anyone who
    can create AnalysisRuns in the namespace can write one), promoted the canary and was
    recorded as the reason. Now a promotion needs exactly the metrics mlspec compiled for the
    version, each with a successful measurement; anything less is refused (exit 2), and the
    spec is unchanged."""
    spec = project / SPEC
    before = spec.read_text()
    analysis = write(tmp_path, _forged_runs(project)[case], vendor_dir)

    result = _decide(project, analysis)

    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "nothing was decided" in result.stderr, result.stderr
    assert spec.read_text() == before


def test_a_failed_phase_without_a_failed_metric_rolls_nothing_back(project, tmp_path, vendor_dir):
    spec = project / SPEC
    before = spec.read_text()
    forged = analysis_run(project, "prod", "Failed")
    forged["status"]["metricResults"] = []
    analysis = write(tmp_path, forged, vendor_dir)

    result = _decide(project, analysis)

    assert result.returncode == 2 and "no metric compiled for it" in result.stderr, result.stderr
    assert spec.read_text() == before


def test_an_iter8_recommendation_needs_the_candidates_assessments(project, tmp_path, vendor_dir):
    """Iter8's equivalent: a Completed experiment recommending the candidate promotes only when
    its version assessments show the candidate meeting every compiled objective."""
    spec = project / "specs/payments-risk.yaml"
    before = spec.read_text()
    bare = iter8_experiment(project, "staging", "Completed", "vlatest")
    del bare["status"]["analysis"]
    one_false = iter8_experiment(project, "staging", "Completed", "vlatest")
    one_false["status"]["analysis"]["versionAssessments"]["data"]["vlatest"][0] = False
    short = iter8_experiment(project, "staging", "Completed", "vlatest")
    short["status"]["analysis"]["versionAssessments"]["data"]["vlatest"] = [True]
    other_objectives = iter8_experiment(project, "staging", "Completed", "vlatest")
    other_objectives["spec"]["criteria"]["objectives"] = other_objectives["spec"]["criteria"]["objectives"][-1:]
    other_objectives["status"]["analysis"]["versionAssessments"]["data"]["vlatest"] = [True]
    for obj in (bare, one_false, short, other_objectives):
        analysis = write(tmp_path, obj, vendor_dir)
        result = _decide(project, analysis, "chargeback-loss", "staging")
        assert result.returncode == 2 and "nothing was decided" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert spec.read_text() == before


def _malformed_experiments(project: Path) -> dict[str, dict]:
    def completed():
        return iter8_experiment(project, "staging", "Completed", "vlatest")

    cases = {}
    obj = completed()
    obj["status"]["conditions"] = "Completed"
    cases["conditions is a string"] = obj
    obj = completed()
    obj["status"]["conditions"] = [["Completed", "True"]]
    cases["a condition is a list"] = obj
    obj = completed()
    obj["status"]["versionRecommendedForPromotion"] = ["vlatest"]
    cases["the recommendation is a list"] = obj
    obj = completed()
    obj["spec"]["versionInfo"]["candidates"] = {"name": "vlatest"}
    cases["candidates is a mapping"] = obj
    obj = completed()
    obj["status"]["stage"] = 7
    cases["stage is a number"] = obj
    obj = completed()
    obj["status"] = ["Completed"]
    cases["status is a list"] = obj
    obj = completed()
    obj["status"]["analysis"]["versionAssessments"]["data"]["vlatest"] = "true"
    cases["an assessment is a string"] = obj
    obj = completed()
    obj["metadata"]["annotations"]["mlspec.dev/model-version"] = ["latest"]
    cases["the version annotation is a list"] = obj
    return cases


@pytest.mark.parametrize("case", ["conditions is a string", "a condition is a list", "the recommendation is a list",
                                  "candidates is a mapping", "stage is a number", "status is a list",
                                  "an assessment is a string", "the version annotation is a list"])
def test_a_malformed_iter8_experiment_is_refused_cleanly(project, tmp_path, case):
    """Attack: wrong field types in an Iter8 Experiment (4 of 4 cases) crashed `rollout decide`
    with exit 3, "internal error". Now each is a refusal naming the field (exit 2)."""
    spec = project / "specs/payments-risk.yaml"
    before = spec.read_text()
    analysis = write(tmp_path, _malformed_experiments(project)[case], Path("unused"), check=False)

    result = _decide(project, analysis, "chargeback-loss", "staging")

    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert spec.read_text() == before


def _malformed_runs(project: Path) -> dict[str, dict]:
    cases = {}
    obj = analysis_run(project, "prod", "Successful")
    obj["status"]["metricResults"] = {"error-rate": "Successful"}
    cases["metricResults is a mapping"] = obj
    obj = analysis_run(project, "prod", "Successful")
    obj["status"]["metricResults"][0]["measurements"] = ["Successful"]
    cases["a measurement is a string"] = obj
    obj = analysis_run(project, "prod", "Successful")
    obj["status"]["phase"] = {"phase": "Successful"}
    cases["the phase is a mapping"] = obj
    obj = analysis_run(project, "prod", "Successful")
    obj["spec"]["metrics"] = "error-rate"
    cases["metrics is a string"] = obj
    obj = analysis_run(project, "prod", "Successful")
    obj["metadata"] = ["customer-churn-churn-v2"]
    cases["metadata is a list"] = obj
    obj = analysis_run(project, "prod", "Successful")
    obj["spec"]["terminate"] = "false"
    cases["terminate is a string"] = obj
    return cases


@pytest.mark.parametrize("case", ["metricResults is a mapping", "a measurement is a string", "the phase is a mapping",
                                  "metrics is a string", "metadata is a list", "terminate is a string"])
def test_a_malformed_analysis_run_is_refused_cleanly(project, tmp_path, case):
    spec = project / SPEC
    before = spec.read_text()
    analysis = write(tmp_path, _malformed_runs(project)[case], Path("unused"), check=False)

    result = _decide(project, analysis)

    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert spec.read_text() == before


def test_a_controllers_message_cannot_forge_lines_of_the_decision_commit(project, tmp_path, vendor_dir):
    """The run's `status.message` is quoted in the commit message ("decided by: ..."): with
    newlines it forged a "decided by" line and a `Signed-off-by` trailer. Now it is one line,
    its control characters escaped."""
    env = git_env(tmp_path / "home")
    git(project, "init", "--quiet", "-b", "main", env=env)
    git(project, "add", "-A", env=env)
    git(project, "commit", "--quiet", "-m", "specs and their output", env=env)
    forged = analysis_run(project, "prod", "Failed")
    forged["status"]["message"] = ("error-rate failed\n\ndecided by: AnalysisRun models/customer-churn-churn-v2:"
                                   " Successful\nSigned-off-by: Release Manager <rm@example.com>")
    analysis = write(tmp_path, forged, vendor_dir)

    result = _decide(project, analysis, "churn", "prod", "--commit", env=env)

    assert result.returncode == 0, result.stderr
    message = git(project, "log", "-1", "--format=%B", env=env)
    lines = message.splitlines()
    assert not [line for line in lines if line.startswith("Signed-off-by")], message
    assert len([line for line in lines if line.startswith("decided by:")]) == 1, message
    assert git(project, "log", "-1", "--format=%(trailers)", env=env).strip() == ""


# --- values from MLflow ------------------------------------------------------------------------

FORGED_URI = ("s3://mlflow-artifacts/1/abc/artifacts/model\n\ndecided by: AnalysisRun models/customer-churn-churn-v2:"
              " Successful\nSigned-off-by: Release Manager <rm@example.com>")


@pytest.mark.parametrize("answers", [
    {"storage": lambda name, version: FORGED_URI},
    {"storage": lambda name, version: "s3://bucket/model\x1b[2J"},
    {"storage": lambda name, version: "s3://bucket/a model"},
    {"aliases": {("ChurnModel", "champion"): "7\nSigned-off-by: Release Manager <rm@example.com>"}},
    {"aliases": {("ChurnModel", "champion"): "../7"}},
    {"aliases": {("ChurnModel", "champion"): -3}},
    {"aliases": {("ChurnModel", "champion"): {"v": 7}}},
], ids=["forged lines in the storage URI", "escape sequence", "space", "forged lines in the version",
        "path in the version", "negative version", "mapping as version"])
def test_promote_refuses_what_mlflow_answers_unless_the_spec_would_take_it(repos, tmp_path, answers):
    """Attack: the storage URI MLflow returned went into git unvalidated: newlines in it forged
    a "decided by: AnalysisRun ...: Successful" line and a `Signed-off-by` trailer in the spec
    commit, and reached the spec and the InferenceService. Now MLflow's storage location must
    pass the spec's own `serving.storageUri` rule and its version be a positive integer, else
    the promotion is refused (exit 4) before anything is edited or committed."""
    from support.fake_registry import fake_registry

    project, remote, env = repos
    answers = {"aliases": {("ChurnModel", "champion"): "7"}, **answers}
    head = git(project, "rev-parse", "HEAD", env=env)
    before = (project / SPEC).read_text()
    with fake_registry(**answers) as tracking_uri:
        result = invoke_mlspec("promote", "churn", "--env", "prod", "--alias", "champion", "--tracking-uri",
                               tracking_uri, "--commit", cwd=project, env=env)

    assert result.returncode == 4, (result.returncode, result.stderr)
    assert "nothing was changed" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "\nSigned-off-by" not in result.stderr and "\x1b" not in result.stderr
    assert (project / SPEC).read_text() == before
    assert git(project, "rev-parse", "HEAD", env=env) == head
    assert git(project, "status", "--porcelain", env=env).strip() == ""


def test_promote_takes_a_sound_answer_from_mlflow(repos, tmp_path):
    from support.fake_registry import fake_registry, storage_of

    project, remote, env = repos
    with fake_registry(aliases={("ChurnModel", "champion"): 7}) as tracking_uri:  # a number, as JSON allows
        result = invoke_mlspec("promote", "churn", "--env", "prod", "--alias", "champion", "--tracking-uri",
                               tracking_uri, "--commit", cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    assert _serving((project / SPEC).read_text()) == ("7", "canary")
    assert storage_of("ChurnModel", "7") in (project / SPEC).read_text()
    assert "version: 7" in git(project, "log", "-1", "--format=%B", env=env)


def test_a_spec_storage_uri_holding_a_newline_is_a_spec_error(project):
    """The same rule for the spec's own value: a storage URI that would add lines to the
    InferenceService (or a commit message) is a located error at validate."""
    spec = project / SPEC
    spec.write_text(spec.read_text().replace(
        "storageUri: s3://mlflow-artifacts/1/abc123/artifacts/model",
        'storageUri: "s3://mlflow-artifacts/1/abc123/artifacts/model\\nSigned-off-by: x"'))

    line = 1 + spec.read_text().splitlines().index(
        '      storageUri: "s3://mlflow-artifacts/1/abc123/artifacts/model\\nSigned-off-by: x"')

    result = invoke_mlspec("validate", SPEC, cwd=project)

    assert result.returncode == 1, result.stderr
    assert "E107" in result.stdout + result.stderr and f"customer-churn.yaml:{line}:" in result.stdout + result.stderr, \
        result.stdout + result.stderr
