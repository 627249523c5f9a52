"""Every command of the README's tour works after the README's install, and only that.

A copy of the repository is installed with `make run` into a virtual environment of its
own (mlspec's runtime dependencies only: no mlflow, no openlineage-python, no Airflow), and
the tour's lines are run in order, as written, from the copy's root, against what they
need on loopback: a clone of a deployments repository in ../ml-deployments, a real
`mlflow server` holding a registered version under the alias `champion`, and a receiver
standing in for Marquez. The webhook line is started in the background and sent a signed
MLflow alias event. There is no cluster here, so before the `rollout decide` line the test
saves `analysisrun.json` as `kubectl get analysisrun ... -o json` would once Argo Rollouts
finished the canary's analysis: the AnalysisRun mlspec generated for the version the webhook
put in canary, with the status Argo Rollouts writes (`phase: Successful`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import REPO
from support.git_repos import clone, git_env, log, make_remote
from support.mlflow_server import mlflow_server

pytestmark = pytest.mark.slow

SECRET = "change-me"  # the README's placeholder secret


def tour_lines() -> list[str]:
    """The command lines of the README's `## A tour` block (comment lines left out)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A tour\n.*?```sh\n(.*?)```", readme, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _copy_working_tree(dest: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(project copy, its venv's bin folder) after `make run` in the copy."""
    root = tmp_path_factory.mktemp("tour")
    project = root / "project"
    _copy_working_tree(project)
    venv = root / "runtime-venv"
    result = subprocess.run(["make", "run", f"VENV={venv}"], cwd=project, capture_output=True, text=True,
                            timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project, venv / "bin"


def test_the_runtime_install_is_light(installed):
    _, bin_dir = installed
    for heavy in ("mlflow", "openlineage", "airflow", "feast", "great_expectations"):
        probe = subprocess.run([str(bin_dir / "python"), "-c", f"import {heavy}"], capture_output=True)
        assert probe.returncode != 0, f"`make run` installed {heavy}; mlspec's runtime must not need it"


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        self.received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _register(tracking_uri: str, version_source: str) -> str:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    if not client.search_registered_models(filter_string="name='ChurnModel'"):
        client.create_registered_model("ChurnModel")
    version = client.create_model_version("ChurnModel", source=version_source).version
    client.set_registered_model_alias("ChurnModel", "champion", version)
    return str(version)


def _signed_alias_event(version: str) -> tuple[bytes, dict]:
    from mlflow.webhooks.delivery import _generate_hmac_signature  # sign exactly as MLflow does

    body = json.dumps({"entity": "model_version_alias", "action": "created", "timestamp": "2026-01-01T00:00:00Z",
                       "data": {"name": "ChurnModel", "alias": "champion", "version": version}})
    delivery, stamp = str(uuid.uuid4()), str(int(time.time()))
    return body.encode(), {"Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery,
                           "X-MLflow-Timestamp": stamp,
                           "X-MLflow-Signature": _generate_hmac_signature(SECRET, delivery, stamp, body)}


def _split(line: str) -> tuple[dict[str, str], list[str]]:
    """`VAR=x mlspec ...  # comment` -> ({VAR: x}, [mlspec, ...])."""
    words = shlex.split(line, comments=True)
    assignments = {}
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        key, _, value = words.pop(0).partition("=")
        assignments[key] = value
    return assignments, words


def test_every_tour_command_works_after_make_run(installed, tmp_path):
    project, bin_dir = installed
    env = git_env(tmp_path / "home")
    remote = make_remote(tmp_path, env)
    clone(remote, project.parent / "ml-deployments", env)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    marquez = f"http://127.0.0.1:{server.server_address[1]}"
    env = {**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}", "NO_COLOR": "1"}
    env.pop("PYTHONPATH", None)
    env.pop("MLSPEC_CACHE_DIR", None)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    lines = tour_lines()
    assert len(lines) >= 15 and all(_split(line)[1][0] == "mlspec" for line in lines)
    try:
        with mlflow_server(tmp_path / "mlflow") as tracking_uri:
            env["MLFLOW_TRACKING_URI"] = tracking_uri
            _register(tracking_uri, "s3://mlflow-artifacts/1/tour1/artifacts/model")
            for line in lines:
                assignments, words = _split(line.replace("http://localhost:5000", marquez))
                if words[1:3] == ["webhook", "serve"]:
                    _run_webhook(words, {**env, **assignments}, project, tracking_uri, remote)
                    continue
                if words[1:3] == ["rollout", "decide"]:
                    _save_successful_analysis(project, words[words.index("--analysis") + 1])
                result = subprocess.run(words, cwd=project, env={**env, **assignments}, capture_output=True,
                                        text=True, timeout=600)
                assert result.returncode == 0, f"`{line}` exited {result.returncode}:\n{result.stderr[-3000:]}"
    finally:
        server.shutdown()
        server.server_close()
    subjects = log(remote, env)
    # publish, promote, rollback, webhook, rollout decide: each a deployments commit
    assert sum(s.startswith("mlspec publish") for s in subjects) >= 5, subjects
    assert (project / "events.jsonl").read_text().count("\n") >= 7
    assert {path for path, _ in _Receiver.received} == {"/api/v1/lineage"}
    spec = (project / "specs/customer-churn.yaml").read_text()
    # promote started a canary of version 1, rollback ended it, the webhook started version 2's, and
    # its successful analysis promoted it
    assert "tour2/artifacts/model" in spec and "models.churn.rollout.phase: promoted" in spec, spec
    service = (project / "generated/customer-churn/k8s/prod/inferenceservice-churn.yaml").read_text()
    assert "tour2/artifacts/model" in service and "canaryTrafficPercent" not in service


def _save_successful_analysis(project: Path, name: str) -> None:
    import yaml

    run = yaml.safe_load((project / "generated/customer-churn/k8s/prod/analysisrun-churn.yaml").read_text())
    run["metadata"].update({"uid": str(uuid.uuid4()), "resourceVersion": "1", "creationTimestamp": "2026-12-01T10:00:00Z"})
    run["status"] = {"phase": "Successful", "startedAt": "2026-12-01T10:00:00Z", "completedAt": "2026-12-01T10:02:00Z",
                     "runSummary": {"count": len(run["spec"]["metrics"]), "successful": len(run["spec"]["metrics"])},
                     # each metric measured, as Argo Rollouts records it (what `rollout decide` requires)
                     "metricResults": [{"name": m["name"], "phase": "Successful", "count": 1, "successful": 1,
                                        "measurements": [{"phase": "Successful", "startedAt": "2026-12-01T10:00:00Z",
                                                          "finishedAt": "2026-12-01T10:00:10Z", "value": "[0]"}]}
                                       for m in run["spec"]["metrics"]]}
    (project / name).write_text(json.dumps(run, indent=2))


def _run_webhook(words: list[str], env: dict, project: Path, tracking_uri: str, remote: Path) -> None:
    before = len(log(remote, env))
    version = _register(tracking_uri, "s3://mlflow-artifacts/1/tour2/artifacts/model")
    handle = open(project.parent / "webhook.log", "w")
    process = subprocess.Popen(words + ["--host", "127.0.0.1", "--port", "0"], cwd=project, env=env,
                               stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            assert process.poll() is None, (project.parent / "webhook.log").read_text()
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+/)", (project.parent / "webhook.log").read_text())
            url = match.group(1) if match else None
            time.sleep(0.1)
        assert url, (project.parent / "webhook.log").read_text()
        body, headers = _signed_alias_event(version)
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=300) as response:
            assert response.status == 200, response.read()
        assert len(log(remote, env)) == before + 1
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        handle.close()
