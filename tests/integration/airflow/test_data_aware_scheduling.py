"""Data-aware scheduling with the real Airflow: each ingestion DAG's landing task updates its
dataset's Asset, and the training DAG is scheduled on the assets of every dataset it reads
(with the spec's cron as well: `training.triggers: [schedule, data]`). Two `airflow dags test` ingestion runs land a
label dataset and a feature source; after the first, Airflow's scheduler does not yet consider
the training DAG due; after both, it does (the query the scheduler itself runs to create
asset-triggered runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.airflow_runner import AIRFLOW, shared_home

SPEC = """\
apiVersion: mlspec/v1alpha1
kind: MLSystem
metadata: {name: asset-shop}
platform:
  kubeflow: {host: http://ml-pipeline.kubeflow.svc:8888}
datasets:
  orders:
    source: {uri: "ROOT/feeds/orders.parquet", format: parquet}
    storage: "file://ROOT/lake/orders.parquet"
    schedule: "@daily"
    columns:
      customer_id: {type: int64, nullable: false}
      event_timestamp: {type: timestamp, nullable: false}
      churn: {type: int8}
  activity:
    source: {uri: "ROOT/feeds/activity.parquet", format: parquet}
    storage: "file://ROOT/lake/activity.parquet"
    schedule: "@daily"
    columns:
      customer_id: {type: int64, nullable: false}
      event_timestamp: {type: timestamp, nullable: false}
      visits: {type: int32}
entities:
  customer: {joinKeys: [customer_id]}
featureViews:
  act: {entities: [customer], source: activity, timestampField: event_timestamp, ttl: 1d, features: {visits: int32}}
models:
  churn:
    task: binary_classification
    features: [act.visits]
    label: orders.churn
    training: {estimator: sklearn.linear_model.LogisticRegression, schedule: "@weekly", triggers: [schedule, data]}
"""
TRAIN = "asset_shop__train_churn"

# What the scheduler asks before it creates asset-triggered runs (SchedulerJobRunner ->
# DagModel.dags_needing_dagruns), and the queue the ingestion runs filled.
DUE = r"""
import json
from airflow.models.dag import DagModel
from airflow.models.asset import AssetDagRunQueue
from airflow.utils.session import create_session
with create_session() as session:
    _, triggered = DagModel.dags_needing_dagruns(session)
    queued = sorted(q.asset.name for q in session.query(AssetDagRunQueue).all() if q.target_dag_id == "%s")
    print("DUE" + json.dumps({"due": sorted(triggered), "queued": queued}))
    session.rollback()
""" % TRAIN


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> Path:
    import pandas as pd

    from mlspec.compiler.compile import compile_spec

    root = tmp_path_factory.mktemp("asset-shop")
    for folder in ("feeds", "lake"):
        (root / folder).mkdir()
    times = pd.to_datetime(["2026-01-01T00:00:00Z"] * 3)
    pd.DataFrame({"customer_id": [1, 2, 3], "event_timestamp": times, "churn": [0, 1, 0]}).astype(
        {"churn": "int8"}).to_parquet(root / "feeds" / "orders.parquet")
    pd.DataFrame({"customer_id": [1, 2, 3], "event_timestamp": times, "visits": [3, 0, 9]}).astype(
        {"visits": "int32"}).to_parquet(root / "feeds" / "activity.parquet")
    spec = root / "asset-shop.yaml"
    spec.write_text(SPEC.replace("ROOT", str(root)))
    result = compile_spec(spec, root / "generated", targets=["airflow", "great_expectations"])
    assert result.ok, [d.message for d in result.diagnostics]
    for path, text in result.files.items():
        (root / "generated" / path).parent.mkdir(parents=True, exist_ok=True)
        (root / "generated" / path).write_text(text)
    return root


def _due(home, dags: Path, env: dict) -> dict:
    result = subprocess.run([sys.executable, "-c", DUE], env=home.env(dags, env), capture_output=True, text=True,
                            timeout=300, cwd=home.path)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.split("DUE", 1)[1])


@pytest.mark.slow
def test_landing_both_datasets_makes_the_training_dag_due(system):
    home = shared_home()
    dags = system / "generated" / "airflow" / "dags"
    env = {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
           "AIRFLOW_VAR_MLSPEC__ASSET_SHOP__STAGING_DIR": str(system / "staging")}
    # Every DAG of the folder in the metadata database, as the DAG processor would put them.
    synced = subprocess.run([str(AIRFLOW), "dags", "reserialize"], env=home.env(dags, env), capture_output=True,
                            text=True, timeout=300, cwd=home.path)
    assert synced.returncode == 0, synced.stderr[-3000:]
    assert _due(home, dags, env) == {"due": [], "queued": []}

    first = home.dags_test("asset_shop__ingest_orders", "2026-01-02", dags, env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    # the label dataset landed; the features have not: not due yet (it reads both)
    assert _due(home, dags, env) == {"due": [], "queued": ["asset-shop.orders"]}

    second = home.dags_test("asset_shop__ingest_activity", "2026-01-02", dags, env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    # ... and the Feast DAG, which runs when any of its views' sources lands (activity here)
    assert _due(home, dags, env) == {"due": ["asset_shop__feast", TRAIN],
                                     "queued": ["asset-shop.activity", "asset-shop.orders"]}


def test_the_training_dag_declares_its_assets_and_cron(system):
    text = (system / "generated" / "airflow" / "dags" / f"{TRAIN}.py").read_text()
    assert "from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable" in text
    assert ("    schedule=AssetOrTimeSchedule(\n"
            "        timetable=CronTriggerTimetable('@weekly', timezone=\"UTC\"),\n"
            "        assets=[Asset(name='asset-shop.orders'), Asset(name='asset-shop.activity')],\n"
            "    ),\n") in text
    ingest = (system / "generated" / "airflow" / "dags" / "asset_shop__ingest_orders.py").read_text()
    assert "            Asset(name='asset-shop.orders'),\n        ]," in ingest  # the upload task's outlets


def test_once_cannot_be_combined_with_assets(tmp_path, system):
    from mlspec.compiler.compile import compile_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text((system / "asset-shop.yaml").read_text().replace('schedule: "@weekly"', 'schedule: "@once"'))
    result = compile_spec(spec, tmp_path / "generated", targets=["airflow"])
    assert not result.ok
    assert any("training schedule `@once` cannot be combined with the ingestion assets" in d.message
               for d in result.diagnostics)
