"""The drift DAG's tasks (mlspec.runtime.airflow_tasks.check_drift, decide, alert_drift), called in
this process with the churn model's generated Evidently check and the real Evidently: drifted
predictions in the window take the retraining branch, undrifted or none take no action. (The task
bodies that need no tool: tests/unit/runtime/test_runtime_airflow_tasks.py.)"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from support.runtime_tasks import no_airflow  # noqa: F401 (an autouse fixture)
from mlspec.runtime import airflow_tasks as tasks

RUN_END = pd.Timestamp("2026-01-02T12:00:00Z")  # the drift window (24 h) ends here


def churn_features(n: int, seed: int, shift: float, end: pd.Timestamp, hours: int = 20) -> pd.DataFrame:
    """The churn model's four features, stamped within `hours` before `end`; `shift` moves them."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "total_purchases": rng.normal(50 + 40 * shift, 10, n),
        "avg_order_value": rng.normal(20 + 15 * shift, 4, n),
        "days_since_last_purchase": rng.integers(0, 30, n) + int(30 * shift),
        "support_tickets_count": rng.poisson(1 + 4 * shift, n),
        "timestamp": end - pd.to_timedelta(rng.integers(0, hours * 3600, n), unit="s"),
    })


@pytest.fixture
def drift_config(tmp_path):
    """The churn model's generated Evidently check, a reference file and a prediction log path."""
    root = tmp_path / "customer-churn"
    (root / "monitoring").mkdir(parents=True)
    shutil.copy(REPO / "generated/customer-churn/monitoring/churn_drift.py", root / "monitoring")
    reference = tmp_path / "reference.parquet"
    churn_features(600, 1, 0.0, pd.Timestamp("2025-12-01T00:00:00Z")).to_parquet(reference)
    return {
        "system": "customer-churn", "model": "churn", "dag_id": "customer_churn__drift_churn",
        "dag_file": str(root / "airflow" / "dags" / "customer_churn__drift_churn.py"),
        "check": "monitoring/churn_drift.py", "window_seconds": 24 * 3600, "timestamp_column": "timestamp",
        "branches": {"drift": "trigger_retraining", "no_drift": "no_action"},
        "credentials": {"conn_id": None, "region": None},
        "settings": {"root": ["mlspec__customer_churn__root", None],
                     "reference": ["mlspec__customer_churn__churn__reference", str(reference)],
                     "predictions": ["mlspec__customer_churn__churn__predictions", str(tmp_path / "predictions")]},
    }


def write_predictions(config, *frames) -> None:
    folder = config["settings"]["predictions"][1]
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for index, frame in enumerate(frames):
        frame.to_parquet(f"{folder}/part-{index}.parquet")


class TaskInstance:
    def __init__(self, result):
        self.result = result

    def xcom_pull(self, task_ids):
        assert task_ids == "check_drift"
        return self.result


def test_drifted_predictions_in_the_window_take_the_drift_branch(drift_config):
    old = churn_features(200, 9, 0.0, RUN_END - pd.Timedelta(days=2))  # before the window: ignored
    write_predictions(drift_config, churn_features(300, 2, 1.0, RUN_END), old)
    result = tasks.check_drift(drift_config, {"data_interval_end": RUN_END})
    assert result["drift_detected"] is True and result["drift_share"] > 0.3
    assert set(result["drifted_columns"]) == {"total_purchases", "avg_order_value",
                                               "days_since_last_purchase", "support_tickets_count"}
    assert result["rows"] == 300 and result["reference_rows"] == 600
    assert result["window"] == ["2026-01-01 12:00:00+00:00", "2026-01-02 12:00:00+00:00"]
    ti = TaskInstance(result)
    assert tasks.decide(drift_config, {"ti": ti}) == "trigger_retraining"
    with pytest.raises(RuntimeError, match=r"model 'churn': drift share 1.0 is above 0.3; drifted columns"):
        tasks.alert_drift(drift_config, {"ti": ti})


def test_undrifted_predictions_take_the_no_action_branch(drift_config):
    write_predictions(drift_config, churn_features(300, 3, 0.0, RUN_END))
    result = tasks.check_drift(drift_config, {"data_interval_end": RUN_END.to_pydatetime()})
    assert result["drift_detected"] is False and result["drifted_columns"] == [] and result["rows"] == 300
    assert tasks.decide(drift_config, {"ti": TaskInstance(result)}) == "no_action"


def test_no_predictions_in_the_window_is_no_drift(drift_config):
    write_predictions(drift_config, churn_features(100, 4, 1.0, RUN_END - pd.Timedelta(days=3)))
    result = tasks.check_drift(drift_config, {"logical_date": RUN_END})
    assert result == {"drift_detected": False, "drift_share": None, "rows": 0,
                      "window": ["2026-01-01 12:00:00+00:00", "2026-01-02 12:00:00+00:00"]}
    assert tasks.decide(drift_config, {"ti": TaskInstance(result)}) == "no_action"
