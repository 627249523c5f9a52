"""`airflow dags test` runs the generated drift DAG on synthetic data: with drift it takes
the retrain branch and really triggers the model's training DAG; without drift it takes
the no-action branch. The prediction log is what the generated InferenceService's KServe logger
writes (JSON objects of requests and responses, v1 and v2, tests/support/kserve_log.py) where it
writes them in the bucket (moto's S3 server standing in for MinIO); the reference is a local file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SPECS
from support.airflow_runner import shared_home
from support.kserve_log import CHURN_PREFIX, put_frames
from support.mlspec_data import compile_data_targets
from support.s3 import ACCESS_KEY, SECRET_KEY, moto_server

pytestmark = pytest.mark.slow

DRIFT_DAG = "customer_churn__drift_churn"
TRAIN_DAG = "customer_churn__train_churn"
RUN_AT = pd.Timestamp("2026-01-02T12:00:00Z")  # the drift window (24h) ends here
PREFIX = CHURN_PREFIX  # where KServe's agent writes the prod InferenceService's log
FEATURES = ["total_purchases", "avg_order_value", "days_since_last_purchase", "support_tickets_count"]


def features(n: int, seed: int, shift: float, at: pd.Timestamp) -> pd.DataFrame:
    """The churn model's four features; `shift` moves every distribution."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": np.arange(n),
        "total_purchases": rng.normal(50 + 40 * shift, 10, n).astype("float32"),
        "avg_order_value": rng.normal(20 + 15 * shift, 4, n).astype("float32"),
        "days_since_last_purchase": rng.integers(0, 30, n) + int(30 * shift),
        "support_tickets_count": rng.poisson(1 + 4 * shift, n),
        "timestamp": at - pd.to_timedelta(rng.integers(0, 20 * 3600, n), unit="s"),
        "prediction": rng.random(n),
    })


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    system = compile_data_targets(SPECS / "customer-churn.yaml", tmp_path_factory.mktemp("generated"))
    reference = tmp_path_factory.mktemp("reference") / "customer_activity.parquet"
    features(1000, 1, 0.0, pd.Timestamp("2025-12-01T00:00:00Z")).to_parquet(reference)
    with moto_server() as s3:
        s3.client().create_bucket(Bucket="mlspec-monitoring")
        yield system, reference, s3


def put_predictions(s3, frames: dict[str, pd.DataFrame]) -> None:
    put_frames(s3.client(), "mlspec-monitoring", PREFIX, frames, FEATURES)


def run_drift_dag(system, reference, s3):
    home = shared_home()
    env = {
        "AIRFLOW_CONN_MINIO-CREDENTIALS": json.dumps({"conn_type": "aws", "login": ACCESS_KEY,
                                                      "password": SECRET_KEY}),
        "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__S3_ENDPOINT": s3.endpoint,
        "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__CHURN__REFERENCE": str(reference),
    }
    triggered_before = len(home.runs(TRAIN_DAG))
    result = home.dags_test(DRIFT_DAG, RUN_AT.isoformat(), system / "airflow" / "dags", env)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    new_runs = home.runs(TRAIN_DAG)[triggered_before:]
    return home.task_states(DRIFT_DAG), new_runs, result.stdout + result.stderr


def test_drift_triggers_the_training_dag(setup):
    system, reference, s3 = setup
    put_predictions(s3, {"a": features(300, 2, 1.0, RUN_AT), "b": features(300, 3, 1.0, RUN_AT)})
    states, train_runs, output = run_drift_dag(system, reference, s3)
    assert states == {"check_drift": "success", "decide": "success", "trigger_retraining": "success",
                      "no_action": "skipped"}
    assert [run_type for _, run_type in train_runs] == ["operator_triggered"]
    assert "'drift_detected': True" in output or '"drift_detected": true' in output


def test_no_drift_takes_the_no_action_branch(setup):
    system, reference, s3 = setup
    # Drifted predictions older than the 24h window must be ignored.
    stale = features(300, 4, 1.0, RUN_AT - pd.Timedelta(days=3))
    put_predictions(s3, {"now": features(400, 5, 0.0, RUN_AT), "old": stale})
    states, train_runs, output = run_drift_dag(system, reference, s3)
    assert states == {"check_drift": "success", "decide": "success", "trigger_retraining": "skipped",
                      "no_action": "success"}
    assert train_runs == []
    assert '"rows": 400' in output  # only the in-window predictions were compared
