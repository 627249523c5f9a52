"""The drift check on what KServe's logger writes: the churn model's generated drift DAG config
(read from the committed DAG file) and Evidently check, a prediction log of KServe JSON objects
(tests/support/kserve_log.py) in the bucket and folder the generated InferenceService logs to
(moto's S3), v1 and v2 requests mixed: undrifted traffic takes no action, drifted traffic the
retraining branch; traffic before the window is not compared."""

from __future__ import annotations

import ast
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from mlspec.runtime import airflow_tasks as tasks
from support.kserve_log import REQUEST, RESPONSE, log_request, v1_exchange, v2_exchange, write_objects
from support.runtime_tasks import no_airflow  # noqa: F401 (an autouse fixture)

RUN_END = pd.Timestamp("2026-01-02T12:00:00Z")
DAG = REPO / "generated/customer-churn/airflow/dags/customer_churn__drift_churn.py"


def features(n: int, seed: int, shift: float) -> list[list]:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(50 + 40 * shift, 10, n), rng.normal(20 + 15 * shift, 4, n),
                            rng.integers(0, 30, n) + int(30 * shift), rng.poisson(1 + 4 * shift, n)]).tolist()


@pytest.fixture
def world(tmp_path, monkeypatch):
    from moto import mock_aws

    config = ast.literal_eval(DAG.read_text().split("CONFIG = ", 1)[1].split("\n\n", 1)[0])
    root = tmp_path / "customer-churn"
    (root / "monitoring").mkdir(parents=True)
    shutil.copy(REPO / "generated/customer-churn/monitoring/churn_drift.py", root / "monitoring")
    reference = tmp_path / "reference.parquet"
    pd.DataFrame(features(600, 1, 0.0), columns=config["features"]).astype(
        {"days_since_last_purchase": "int32", "support_tickets_count": "int32"}).to_parquet(reference)
    config["settings"]["root"][1] = str(root)
    config["settings"]["reference"][1] = str(reference)
    config["settings"]["s3_endpoint"][1] = None
    config["credentials"] = {"conn_id": None, "region": "us-east-1"}
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        tasks.s3_client(config).create_bucket(Bucket="mlspec-monitoring")
        yield config, tmp_path / "objects"


def log_traffic(config, folder, shift: float, seed: int, when: pd.Timestamp, count: int = 60) -> None:
    """`count` exchanges of five rows each, alternately v1 and v2, uploaded where KServe writes them."""
    prefix = config["settings"]["predictions"][1]
    bucket, key = prefix[len("s3://"):].split("/", 1)
    where = {"isvc": "customer-churn-churn", "namespace": "models",
             "log_url": "s3://mlspec-monitoring/customer-churn/churn"}
    events = []
    for i in range(count):
        rows = features(5, seed * 1000 + i, shift)
        request, response = (v1_exchange if i % 2 else v2_exchange)(rows, [0, 1, 0, 0, 1])
        stamp = (when - pd.Timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        events += [log_request(f"{seed}-{i}", REQUEST, request, stamp, **where),
                   log_request(f"{seed}-{i}", RESPONSE, response, stamp, **where)]
    client = tasks.s3_client(config)
    for path in write_objects(folder / str(seed), events):
        client.put_object(Bucket=bucket, Key=key + path.name, Body=path.read_bytes())


def test_undrifted_traffic_takes_no_action(world):
    config, folder = world
    log_traffic(config, folder, 0.0, seed=2, when=RUN_END - pd.Timedelta(hours=1))
    log_traffic(config, folder, 1.0, seed=3, when=RUN_END - pd.Timedelta(days=3))  # before the window
    result = tasks.check_drift(config, {"data_interval_end": RUN_END})
    assert result["rows"] == 300 and result["drift_detected"] is False, result
    assert result["missing_columns"] == []


def test_drifted_traffic_takes_the_retraining_branch(world):
    config, folder = world
    log_traffic(config, folder, 1.0, seed=4, when=RUN_END - pd.Timedelta(hours=1))
    result = tasks.check_drift(config, {"data_interval_end": RUN_END})
    assert result["rows"] == 300 and result["drift_detected"] is True, result
    assert set(result["drifted_columns"]) == set(config["features"])

    class TaskInstance:
        def xcom_pull(self, task_ids):
            return result

    assert tasks.decide(config, {"ti": TaskInstance()}) == "trigger_retraining"
