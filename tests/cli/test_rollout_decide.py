"""`mlspec rollout decide`: the canary's analysis result lands in git as a promotion or a
rollback, or changes nothing while the analysis runs.

The analysis objects are the ones mlspec generated, as the controllers leave them
(tests/support/analysis_objects.py), each validated against the strict CRD schema in
vendor/crds before use, so the shapes are the controllers' own.

Reading from the cluster is tested against a fake Kubernetes API: no real API server can
run on these machines (no container daemon, no kind/k3s), so a loopback HTTP server answers
the one endpoint the `kubernetes` client calls (GET of a namespaced custom object), through
a kubeconfig, as an API server would (the object as JSON, or a 404/403 `Status`).
Those tests start the CLI as a process: the `kubernetes` client reads KUBECONFIG when it is
imported, so only a fresh interpreter sees the test's kubeconfig.
"""

from __future__ import annotations

import difflib
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import SPECS, invoke_mlspec, run_mlspec
from support.analysis_objects import analysis_run, iter8_experiment
from support.analysis_objects import write as _write
from support.crds import schema_errors
from support.git_repos import clone, files_at, git, git_env, log, make_remote


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(SPECS, root / "specs")
    invoke_mlspec("compile", "specs", cwd=root, check=True)
    return root


def _changed_lines(old: str, new: str) -> list[str]:
    return [line for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


# --- Argo Rollouts ---------------------------------------------------------------------------------


def test_a_successful_analysis_promotes_the_canary(project, tmp_path, vendor_dir):
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()
    analysis = _write(tmp_path, analysis_run(project, "prod", "Successful"), vendor_dir)

    result = invoke_mlspec("rollout", "decide", "churn", "--env", "prod", "--analysis", str(analysis), cwd=project)

    assert result.returncode == 0, result.stderr
    assert _changed_lines(before, spec.read_text()) == ["+    overrides:", "+      models.churn.rollout.phase: promoted"]
    assert "AnalysisRun models/customer-churn-churn-v2: Successful" in result.stderr
    service = yaml.safe_load((project / "generated/customer-churn/k8s/prod/inferenceservice-churn.yaml").read_text())
    assert "canaryTrafficPercent" not in service["spec"]["predictor"]
    assert not (project / "generated/customer-churn/k8s/prod/analysisrun-churn.yaml").exists()
    assert invoke_mlspec("compile", "specs", "--check", cwd=project).returncode == 0
    # deciding again on the same result changes nothing
    again = invoke_mlspec("rollout", "decide", "churn", "--env", "prod", "--analysis", str(analysis), cwd=project)
    assert again.returncode == 0 and "already promoted" in again.stderr, again.stderr


@pytest.mark.parametrize("phase", ["Failed", "Error"])
def test_a_failed_analysis_rolls_the_canary_back(project, tmp_path, vendor_dir, phase):
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()
    analysis = _write(tmp_path, analysis_run(project, "dev", phase), vendor_dir)

    result = invoke_mlspec("rollout", "decide", "churn", "--env", "dev", "--analysis", str(analysis), cwd=project)

    assert result.returncode == 0, result.stderr
    assert _changed_lines(before, spec.read_text()) == ["+      models.churn.rollout.phase: rolledBack"]
    assert f"customer-churn-churn-v2: {phase}" in result.stderr
    service = yaml.safe_load((project / "generated/customer-churn/k8s/dev/inferenceservice-churn.yaml").read_text())
    assert service["spec"]["predictor"]["canaryTrafficPercent"] == 0


@pytest.mark.parametrize("phase", ["Running", "Pending", "Inconclusive", None])
def test_a_running_or_inconclusive_analysis_changes_nothing(project, tmp_path, vendor_dir, phase):
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()
    generated = (project / "generated/customer-churn/manifest.json").read_text()
    analysis = _write(tmp_path, analysis_run(project, "prod", phase), vendor_dir)

    result = invoke_mlspec("rollout", "decide", "churn", "--env", "prod", "--analysis", str(analysis), cwd=project)

    assert result.returncode == 0, result.stderr
    assert "no change:" in result.stderr and f"{phase or 'no status yet'}" in result.stderr, result.stderr
    assert "stays in canary" in result.stderr
    assert spec.read_text() == before
    assert (project / "generated/customer-churn/manifest.json").read_text() == generated


def test_a_terminated_run_is_not_a_success(project, tmp_path, vendor_dir):
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()
    analysis = _write(tmp_path, analysis_run(project, "prod", "Successful", terminate=True), vendor_dir)

    result = invoke_mlspec("rollout", "decide", "churn", "--env", "prod", "--analysis", str(analysis), cwd=project)

    assert result.returncode == 0 and "terminated" in result.stderr, result.stderr
    assert spec.read_text() == before


def test_an_analysis_of_another_version_or_model_is_refused(project, tmp_path, vendor_dir):
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()
    other_version = analysis_run(project, "prod", "Successful")
    other_version["metadata"]["annotations"]["mlspec.dev/model-version"] = "1"
    dev_run = analysis_run(project, "dev", "Successful")  # namespace models-dev, not prod's
    for obj, message in ((other_version, "judged version 1, but version 2"), (dev_run, "models-dev")):
        analysis = _write(tmp_path, obj, vendor_dir)
        result = invoke_mlspec("rollout", "decide", "churn", "--env", "prod", "--analysis", str(analysis), cwd=project)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    assert spec.read_text() == before


def test_a_model_without_a_canary_is_a_usage_error(project, tmp_path):
    (tmp_path / "x.json").write_text("{}")
    result = invoke_mlspec("rollout", "decide", "events", "--env", "prod", "--spec", "specs/web-events.yaml",
                        "--analysis", str(tmp_path / "x.json"), cwd=project)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr


# --- Iter8 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage, recommended, failed, phase", [
    ("Completed", "vlatest", False, "promoted"),
    ("Completed", "stable", False, "rolledBack"),
    ("Running", None, True, "rolledBack"),
    ("Running", None, False, None),
    ("Waiting", None, False, None),
])
def test_an_iter8_experiment_decides_the_same_way(project, tmp_path, vendor_dir, stage, recommended, failed, phase):
    spec = project / "specs/payments-risk.yaml"
    before = spec.read_text()
    analysis = _write(tmp_path, iter8_experiment(project, "staging", stage, recommended, failed), vendor_dir)

    result = invoke_mlspec("rollout", "decide", "chargeback-loss", "--env", "staging", "--analysis", str(analysis),
                        cwd=project)

    assert result.returncode == 0, result.stderr
    assert "Experiment risk-staging/payments-risk-chargeback-loss-canary" in result.stderr
    if phase is None:
        assert "no change:" in result.stderr and spec.read_text() == before
    else:
        assert _changed_lines(before, spec.read_text()) == [f"+      models.chargeback-loss.rollout.phase: {phase}"]


# --- git: the spec commit and the deployments commit ------------------------------------------------


def _spec_repo(project: Path, env: dict) -> None:
    git(project, "init", "--quiet", "-b", "main", env=env)
    git(project, "add", "-A", env=env)
    git(project, "commit", "--quiet", "-m", "specs and their output", env=env)


def test_commit_records_the_decision_in_the_spec_repository_and_repo_publishes_it(project, tmp_path, vendor_dir):
    env = git_env(tmp_path / "home")
    _spec_repo(project, env)
    (project / "notes.txt").write_text("staged, unrelated\n")
    git(project, "add", "notes.txt", env=env)
    remote = make_remote(tmp_path, env)
    work = clone(remote, tmp_path / "work", env)
    assert invoke_mlspec("publish", "specs", "--repo", str(work), cwd=project, env=env).returncode == 0
    published = len(log(work, env))
    analysis = _write(tmp_path, analysis_run(project, "prod", "Failed"), vendor_dir)

    result = invoke_mlspec("rollout", "decide", "churn", "--env", "prod", "--analysis", str(analysis), "--commit",
                        "--repo", str(work), cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    message = git(project, "log", "-1", "--format=%B", env=env)
    for part in ("churn", "prod", "version: 2", "AnalysisRun models/customer-churn-churn-v2: Failed",
                 "rolled back"):
        assert part in message, message
    changed = git(project, "show", "--name-only", "--format=", "HEAD", env=env).split()
    assert "specs/customer-churn.yaml" in changed
    assert all(p == "specs/customer-churn.yaml" or p.startswith("generated/customer-churn/") for p in changed), changed
    assert git(project, "status", "--porcelain", env=env).strip() == "A  notes.txt"  # still staged, not committed
    assert invoke_mlspec("compile", "specs", "--check", cwd=project, env=env).returncode == 0
    assert len(log(work, env)) == published + 1
    service = yaml.safe_load(files_at(work, "HEAD", env)["deployments/customer-churn/prod/inferenceservice-churn.yaml"])
    assert service["spec"]["predictor"]["canaryTrafficPercent"] == 0


def test_a_committed_decision_whose_publish_fails_stays_committed_with_a_retry_path(project, tmp_path, vendor_dir):
    """The spec commit is the source of truth once made: a publish that fails after it leaves
    the commit (and the checkout equal to it), and says how to retry, instead of undoing the
    edit in the working tree, which would leave the checkout disagreeing with its HEAD."""
    env = git_env(tmp_path / "home")
    _spec_repo(project, env)
    remote = make_remote(tmp_path, env)
    work = clone(remote, tmp_path / "work", env)
    assert invoke_mlspec("publish", "specs", "--repo", str(work), cwd=project, env=env).returncode == 0
    published = git(work, "rev-parse", "HEAD", env=env)
    stray = work / "deployments/customer-churn/prod/stray.yaml"
    stray.write_text("kind: ConfigMap\n")  # an uncommitted file in the folder publish owns
    analysis = _write(tmp_path, analysis_run(project, "prod", "Failed"), vendor_dir)

    result = invoke_mlspec("rollout", "decide", "churn", "--env", "prod", "--analysis", str(analysis), "--commit",
                           "--repo", str(work), cwd=project, env=env)

    assert result.returncode != 0, result.stderr
    assert "committed but not published" in result.stderr and "mlspec publish" in result.stderr, result.stderr
    assert "rolled back" in git(project, "log", "-1", "--format=%B", env=env)
    assert git(project, "status", "--porcelain", env=env).strip() == ""  # the checkout is its HEAD
    assert git(work, "rev-parse", "HEAD", env=env) == published
    stray.unlink()  # the retry the message names publishes the committed decision
    assert invoke_mlspec("publish", "specs", "--repo", str(work), cwd=project, env=env).returncode == 0
    service = yaml.safe_load(files_at(work, "HEAD", env)["deployments/customer-churn/prod/inferenceservice-churn.yaml"])
    assert service["spec"]["predictor"]["canaryTrafficPercent"] == 0


def test_commit_refuses_a_spec_with_uncommitted_changes(project, tmp_path, vendor_dir):
    env = git_env(tmp_path / "home")
    _spec_repo(project, env)
    spec = project / "specs/customer-churn.yaml"
    spec.write_text(spec.read_text() + "# a hand edit\n")
    before = spec.read_text()
    analysis = _write(tmp_path, analysis_run(project, "prod", "Successful"), vendor_dir)

    result = invoke_mlspec("rollout", "decide", "churn", "--env", "prod", "--analysis", str(analysis), "--commit",
                        cwd=project, env=env)

    assert result.returncode == 4 and "uncommitted changes" in result.stderr, result.stderr
    assert spec.read_text() == before


# --- the cluster, through a fake Kubernetes API --------------------------------------------------------


class _FakeApi(BaseHTTPRequestHandler):
    objects: dict = {}  # path -> object
    status: int = 200
    requests: list = []

    def do_GET(self):  # noqa: N802
        self.requests.append((self.path, self.headers.get("Authorization")))
        path = self.path.split("?")[0]
        if self.status != 200 or path not in self.objects:
            code = self.status if self.status != 200 else 404
            reason = {403: "Forbidden", 404: "NotFound"}[code]
            body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": f"{path} {reason.lower()}", "reason": reason, "code": code}
        else:
            code, body = 200, self.objects[path]
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_api(tmp_path):
    _FakeApi.objects, _FakeApi.status, _FakeApi.requests = {}, 200, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "users": [{"name": "decider", "user": {"token": "test-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "decider"}}]}))
    try:
        yield {"KUBECONFIG": str(kubeconfig), "KUBERNETES_SERVICE_HOST": "", "KUBERNETES_SERVICE_PORT": ""}
    finally:
        server.shutdown()
        server.server_close()


RUN_PATH = "/apis/argoproj.io/v1alpha1/namespaces/models/analysisruns/customer-churn-churn-v2"


def test_decide_reads_the_analysis_run_from_the_cluster(project, fake_api, vendor_dir):
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()
    obj = analysis_run(project, "prod", "Successful")
    assert not schema_errors(vendor_dir / "crds", obj)
    _FakeApi.objects[RUN_PATH] = obj

    result = run_mlspec("rollout", "decide", "churn", "--env", "prod", cwd=project, env=fake_api)

    assert result.returncode == 0, result.stderr
    assert _FakeApi.requests and _FakeApi.requests[0] == (RUN_PATH, "Bearer test-token")
    assert _changed_lines(before, spec.read_text()) == ["+    overrides:", "+      models.churn.rollout.phase: promoted"]


def test_no_analysis_in_the_cluster_yet_changes_nothing(project, fake_api):
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()

    result = run_mlspec("rollout", "decide", "churn", "--env", "prod", cwd=project, env=fake_api)

    assert result.returncode == 0, result.stderr
    assert "no change: no AnalysisRun models/customer-churn-churn-v2 yet" in result.stderr
    assert spec.read_text() == before


def test_an_older_versions_run_in_the_cluster_changes_nothing(project, fake_api):
    obj = analysis_run(project, "prod", "Failed")
    obj["metadata"]["annotations"]["mlspec.dev/model-version"] = "1"
    _FakeApi.objects[RUN_PATH] = obj
    before = (project / "specs/customer-churn.yaml").read_text()

    result = run_mlspec("rollout", "decide", "churn", "--env", "prod", cwd=project, env=fake_api)

    assert result.returncode == 0 and "not synced yet" in result.stderr, result.stderr
    assert (project / "specs/customer-churn.yaml").read_text() == before


def test_an_api_error_is_an_external_error(project, fake_api):
    _FakeApi.status = 403
    result = run_mlspec("rollout", "decide", "churn", "--env", "prod", cwd=project, env=fake_api)
    assert result.returncode == 4 and "403 Forbidden" in result.stderr, result.stderr


def test_push_spec_lands_the_decision_in_the_spec_remote_on_top_of_what_was_pushed_meanwhile(project, tmp_path,
                                                                                              vendor_dir):
    env = git_env(tmp_path / "home")
    _spec_repo(project, env)
    specs = tmp_path / "specs.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(specs), env=env)
    git(project, "remote", "add", "origin", str(specs), env=env)
    git(project, "push", "--quiet", "--set-upstream", "origin", "main", env=env)
    person = clone(specs, tmp_path / "person", env)  # a person pushes an unrelated change meanwhile
    (person / "NOTES.md").write_text("on-call: growth-ml\n")
    git(person, "add", "NOTES.md", env=env)
    git(person, "commit", "--quiet", "-m", "notes", env=env)
    git(person, "push", "--quiet", "origin", "main", env=env)
    analysis = _write(tmp_path, analysis_run(project, "prod", "Failed"), vendor_dir)

    result = invoke_mlspec("rollout", "decide", "churn", "--env", "prod", "--analysis", str(analysis), "--commit",
                           "--push-spec", cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    assert log(specs, env)[:2] == [git(project, "log", "-1", "--format=%s", env=env).strip(), "notes"]
    assert git(project, "rev-parse", "HEAD", env=env) == git(specs, "rev-parse", "main", env=env)
    assert "rolledBack" in files_at(specs, "main", env)["specs/customer-churn.yaml"]


def test_push_spec_needs_commit(project, tmp_path, vendor_dir):
    analysis = _write(tmp_path, analysis_run(project, "prod", "Failed"), vendor_dir)
    result = invoke_mlspec("rollout", "decide", "churn", "--env", "prod", "--analysis", str(analysis), "--push-spec",
                           cwd=project)
    assert result.returncode == 2 and "--push-spec" in result.stderr, result.stderr
