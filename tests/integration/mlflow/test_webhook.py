"""`mlspec webhook serve`: signed MLflow webhooks promote and publish; anything unsigned,
wrongly signed, stale or replayed is refused with a 4xx and changes nothing. The end-to-end
test runs a real `mlflow server` (sqlite backend) that calls the receiver on loopback."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from conftest import SPECS, run_mlspec
from support.git_repos import files_at, git_env, log, make_remote
from support.mlflow_server import mlflow_server, webhook_receiver

SECRET = "s3cr3t-for-tests"


@pytest.fixture
def setup(tmp_path: Path):
    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    shutil.copy(SPECS / "customer-churn.yaml", project / "specs")
    env = git_env(tmp_path / "home")
    remote = make_remote(tmp_path, env)
    assert run_mlspec("publish", "specs", "--repo", str(remote), cwd=project, env=env).returncode == 0
    return project, remote, env


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _signed(body: str, secret: str = SECRET, delivery: str | None = None, timestamp: int | None = None) -> dict:
    from mlflow.webhooks.delivery import _generate_hmac_signature  # sign exactly as MLflow does

    delivery = delivery or str(uuid.uuid4())
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-MLflow-Delivery-Id": delivery, "X-MLflow-Timestamp": stamp,
            "X-MLflow-Signature": _generate_hmac_signature(secret, delivery, stamp, body)}


def _event(name: str, alias: str = "champion", version: str = "7") -> str:
    return json.dumps({"entity": "model_version_alias", "action": "created", "timestamp": "2026-01-01T00:00:00Z",
                       "data": {"name": name, "alias": alias, "version": version}})


def test_unsigned_forged_stale_and_replayed_requests_are_refused_without_side_effects(setup):
    project, remote, env = setup
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()
    commits = log(remote, env)
    args = ["specs", "--env", "prod", "--repo", str(remote)]
    # the MLflow lookup would fail (no server): a request that got past verification would show as a 422
    with webhook_receiver(project, args, {**env, "MLSPEC_WEBHOOK_SECRET": SECRET,
                                          "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}) as (url, _):
        body = _event("ChurnModel")
        assert _post(url, body.encode(), {})[0] == 401
        assert _post(url, body.encode(), _signed(body, secret="wrong"))[0] == 401
        tampered = _signed(body)
        assert _post(url, body.replace('"7"', '"8"').encode(), tampered)[0] == 401
        assert _post(url, body.encode(), _signed(body, timestamp=int(time.time()) - 3600))[0] == 401
        # an authentic event that is not for us is accepted and ignored; replaying it is refused
        other = _event("SomeoneElsesModel")
        headers = _signed(other)
        status, reply = _post(url, other.encode(), headers)
        assert (status, reply["message"]) == (202, "ignored: no spec serves registered model `SomeoneElsesModel`")
        assert _post(url, other.encode(), headers)[0] == 409
        ignored_alias = _event("ChurnModel", alias="challenger")
        assert _post(url, ignored_alias.encode(), _signed(ignored_alias))[0] == 202
    assert spec.read_text() == before
    assert not (project / "generated").exists()
    assert log(remote, env) == commits


@pytest.mark.slow
def test_setting_an_alias_in_mlflow_promotes_and_publishes_exactly_one_commit(setup, tmp_path):
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    project, remote, env = setup
    commits = len(log(remote, env))
    with mlflow_server(tmp_path / "mlflow") as tracking_uri:
        receiver_env = {**env, "MLSPEC_WEBHOOK_SECRET": SECRET, "MLFLOW_TRACKING_URI": tracking_uri}
        with webhook_receiver(project, ["specs", "--env", "prod", "--repo", str(remote)], receiver_env) as (url, rlog):
            mlflow.set_tracking_uri(tracking_uri)
            client = MlflowClient(tracking_uri=tracking_uri)
            features = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
            model = LogisticRegression().fit(features, [0, 1, 0, 1])
            with mlflow.start_run():
                info = mlflow.sklearn.log_model(model, name="model", registered_model_name="ChurnModel")
            version = str(info.registered_model_version)
            storage = client.get_model_version_download_uri("ChurnModel", version)
            assert (Path(storage.removeprefix("file://")) / "MLmodel").is_file()
            client.create_webhook(name="mlspec", url=url, events=["model_version_alias.created"], secret=SECRET)

            client.set_registered_model_alias("ChurnModel", "champion", version)

            deadline = time.monotonic() + 180
            while len(log(remote, env)) == commits and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(3)  # a duplicate delivery or a second commit would show up by now
            assert len(log(remote, env)) == commits + 1, rlog.read_text()[-4000:]
    published = files_at(remote, "main", env)
    service = yaml.safe_load(published["deployments/customer-churn/prod/inferenceservice-churn.yaml"])
    predictor = service["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == storage
    assert predictor["canaryTrafficPercent"] == 10  # a new version starts as prod's canary
    assert service["metadata"]["annotations"]["mlspec.dev/model-version"] == version
    dev = yaml.safe_load(published["deployments/customer-churn/dev/inferenceservice-churn.yaml"])
    assert dev["spec"]["predictor"]["model"]["storageUri"] == "s3://mlflow-artifacts/1/abc123/artifacts/model"
    spec = (project / "specs/customer-churn.yaml").read_text()
    assert f"      models.churn.serving.storageUri: {storage}\n" in spec
    assert f'      models.churn.serving.modelVersion: "{version}"\n' in spec
