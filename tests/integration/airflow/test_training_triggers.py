"""What starts a training DAG is the spec's (`training.triggers`): its cron, the landing of the
datasets it reads (Airflow assets), the drift DAG, or a combination. Each choice is compiled and
loaded in Airflow 3's DagBag, whose timetable must say the same; the default retrains a model
with a schedule on that schedule only, not on every landing of its data as well."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

import pytest

from mlspec.compiler.compile import compile_spec
from integration.airflow.test_airflow_dags import LOAD_DAGS

SPEC = """\
apiVersion: mlspec/v1alpha1
kind: MLSystem
metadata: {name: trigger-shop}
platform:
  kubeflow: {host: http://ml-pipeline.kubeflow.svc:8888}
datasets:
  orders:
    source: {uri: /data/orders.parquet, format: parquet}
    storage: file:///lake/orders.parquet
    schedule: "@daily"
    columns:
      customer_id: {type: int64, nullable: false}
      event_timestamp: {type: timestamp, nullable: false}
      visits: {type: int32}
      churn: {type: int8}
  predictions:
    source: {uri: /data/predictions.parquet, format: parquet}
    columns:
      customer_id: {type: int64, nullable: false}
      event_timestamp: {type: timestamp, nullable: false}
      visits: {type: int32}
entities:
  customer: {joinKeys: [customer_id]}
featureViews:
  act: {entities: [customer], source: orders, timestampField: event_timestamp, ttl: 1d, features: {visits: int32}}
models:
  churn:
    task: binary_classification
    features: [act.visits]
    label: orders.churn
    training: TRAINING
    MONITORING
"""
DRIFT = "monitoring: {drift: {maxDriftShare: 0.3, predictions: predictions, onDrift: ON_DRIFT}}"
TRAIN, DRIFT_DAG = "trigger_shop__train_churn", "trigger_shop__drift_churn"
ASSETS = ["trigger-shop.orders"]

CASES = {
    # name: (training, monitoring, the training DAG's schedule as the DagBag sees it)
    "default-with-schedule": ('{estimator: sklearn.linear_model.LogisticRegression, schedule: "@weekly"}', "",
                              "@weekly"),
    "default-without-schedule": ("{estimator: sklearn.linear_model.LogisticRegression}", "",
                                 {"assets": ASSETS, "cron": None}),
    "schedule-and-data": ('{estimator: sklearn.linear_model.LogisticRegression, schedule: "0 3 * * 1",'
                          " triggers: [schedule, data]}", "", {"assets": ASSETS, "cron": "0 3 * * 1"}),
    "drift-only": ("{estimator: sklearn.linear_model.LogisticRegression, triggers: [drift]}",
                   DRIFT.replace("ON_DRIFT", "retrain"), None),
    "data-and-drift-by-default": ("{estimator: sklearn.linear_model.LogisticRegression}",
                                  DRIFT.replace("ON_DRIFT", "retrain"), {"assets": ASSETS, "cron": None}),
}


def spec_text(training: str, monitoring: str) -> str:
    return SPEC.replace("TRAINING", training).replace("MONITORING", monitoring)


@pytest.fixture(scope="module")
def bags(tmp_path_factory) -> dict[str, dict]:
    folders = {}
    for name, (training, monitoring, _) in CASES.items():
        root = tmp_path_factory.mktemp(name)
        spec = root / "spec.yaml"
        spec.write_text(spec_text(training, monitoring))
        result = compile_spec(spec, root / "generated", targets=["airflow"])
        assert result.ok, [d.message for d in result.diagnostics]
        for path, text in result.files.items():
            (root / "generated" / path).parent.mkdir(parents=True, exist_ok=True)
            (root / "generated" / path).write_text(text)
        folders[name] = root / "generated" / "airflow" / "dags"
    with tempfile.TemporaryDirectory() as home:
        env = {"AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": "/usr/bin:/bin"}
        result = subprocess.run([sys.executable, "-c", LOAD_DAGS, "", *map(str, folders.values())],
                                env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    loaded = json.loads(result.stdout.split("DAGBAG-JSON", 1)[1])
    return {name: loaded[str(folder)] for name, folder in folders.items()}


@pytest.mark.parametrize("case", CASES)
def test_the_training_dag_runs_on_what_the_spec_chose(bags, case):
    bag = bags[case]
    assert bag["import_errors"] == {}
    assert bag["dags"][TRAIN]["schedule"] == CASES[case][2]


def test_only_drift_triggers_a_drift_only_model(bags):
    drift = bags["drift-only"]["dags"][DRIFT_DAG]["tasks"]
    assert drift["trigger_retraining"]["trigger_dag_id"] == TRAIN
    assert bags["drift-only"]["dags"][TRAIN]["schedule"] is None  # neither cron nor assets


@pytest.mark.parametrize("training, monitoring, message", [
    ("{estimator: sklearn.linear_model.LogisticRegression, triggers: []}", "", "lists no training trigger"),
    ("{estimator: sklearn.linear_model.LogisticRegression, triggers: [schedule]}", "",
     "retrains on a `schedule` but has no `training.schedule`"),
    ("{estimator: sklearn.linear_model.LogisticRegression, triggers: [data, drift]}", "",
     "retrains on `drift` but has no drift monitoring"),
    ("{estimator: sklearn.linear_model.LogisticRegression, triggers: [data, drift]}",
     DRIFT.replace("ON_DRIFT", "alert"), "its drift monitoring only alerts"),
    ("{estimator: sklearn.linear_model.LogisticRegression, triggers: [data]}",
     DRIFT.replace("ON_DRIFT", "retrain"), "training triggers leave out `drift`"),
    ('{estimator: sklearn.linear_model.LogisticRegression, schedule: "@daily", triggers: [data]}', "",
     "has a `training.schedule` its triggers leave out"),
    ("{estimator: sklearn.linear_model.LogisticRegression, triggers: [data, data]}", "", "is listed twice"),
])
def test_triggers_that_cannot_fire_are_located_errors(tmp_path, training, monitoring, message):
    spec = tmp_path / "spec.yaml"
    text = spec_text(training, monitoring)
    spec.write_text(text)
    result = compile_spec(spec, tmp_path / "generated", targets=["airflow"])
    assert not result.ok and not result.files
    found = [d for d in result.diagnostics if d.code == "E419"]
    assert [d.message for d in found if message in d.message], [d.message for d in result.diagnostics]
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.strip().startswith("training:"))
    assert found[0].span.line == line and found[0].file == str(spec)
