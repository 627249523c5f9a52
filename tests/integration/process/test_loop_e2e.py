"""The platform's loop, end to end with the real tools on this machine, from the generated files
of specs/customer-churn.yaml (pointed at loopback services; nothing else changed):

  PostgreSQL --ingestion DAGs--> S3 (moto) + DVC --assets--> training DAG --kfp local runner-->
  Feast (registry on S3) -> scikit-learn -> MLflow server (model, card, alias) --> prediction log
  --drift DAG (Evidently)--> retraining triggered

Every DAG runs with `airflow dags test`; the training DAG's submit step runs the pipeline with
kfp's local runner (the `kfp_local` setting: no Kubeflow Pipelines server here) with the
arguments it would submit to a cluster. The OpenLineage provider writes every task's events to
a file, and they name the same datasets as `mlspec lineage emit`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SPECS, run_mlspec
from support.airflow_runner import AIRFLOW, migrated_home
from support.churn_data import AS_OF, churn_frames
from support.kserve_log import CHURN_PREFIX, put_frames
from support.mlflow_server import mlflow_server
from support.postgres import find_binaries, postgres_server
from support.s3 import ACCESS_KEY, SECRET_KEY, moto_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_binaries() is None, reason="no PostgreSQL binaries (initdb, pg_ctl) on this machine"),
]

FEAST = str(Path(sys.executable).with_name("feast"))
DAY = AS_OF.strftime("%Y-%m-%d")  # the ingestion runs' logical date: the day of the current activity
INGEST = {"customers": "customer_churn__ingest_customers",
          "customer_activity": "customer_churn__ingest_customer_activity"}
TRAIN = "customer_churn__train_churn"
DRIFT = "customer_churn__drift_churn"
BUCKETS = ("raw-data", "feast-offline", "dvc-storage", "feast-registry", "mlspec-monitoring")
FEATURES = ["total_purchases", "avg_order_value", "days_since_last_purchase", "support_tickets_count"]


def warehouse(pg) -> str:
    """The `warehouse` database with the churn tables; returns its Airflow connection URI."""
    admin = pg.connect()
    admin.autocommit = True
    admin.cursor().execute("CREATE DATABASE warehouse")
    admin.close()
    db = type(pg)(port=pg.port, user=pg.user, database="warehouse")
    customers, activity = churn_frames(n=2000)
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE customers (customer_id bigint, age integer, age_group text, churn smallint,"
                    " event_timestamp timestamptz)")
        cur.executemany("INSERT INTO customers VALUES (%s, %s, %s, %s, %s)",
                        [(int(r.customer_id), int(r.age), r.age_group, int(r.churn), r.event_timestamp.isoformat())
                         for r in customers.itertuples()])
        cur.execute("CREATE TABLE customer_activity (customer_id bigint, total_purchases real, avg_order_value real,"
                    " days_since_last_purchase integer, support_tickets_count integer, event_timestamp timestamptz,"
                    " day text)")
        cur.executemany("INSERT INTO customer_activity VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [(int(r.customer_id), float(r.total_purchases), float(r.avg_order_value),
                          int(r.days_since_last_purchase), int(r.support_tickets_count),
                          r.event_timestamp.isoformat(), r.event_timestamp.strftime("%Y-%m-%d"))
                         for r in activity.itertuples()])
    return db.uri


def compile_for(root: Path, s3_endpoint: str, pg_port: int) -> Path:
    """specs/customer-churn.yaml with its object store on moto, its warehouse connection described
    where the tests' Postgres is (127.0.0.1), so lineage names its tables as the connection reaches
    them, and training started by its data landing too, compiled into root/generated/customer-churn."""
    from mlspec.compiler.compile import compile_spec

    text = (SPECS / "customer-churn.yaml").read_text()
    text = text.replace("http://minio.minio.svc.cluster.local:9000", s3_endpoint)
    described = "warehouse: {type: postgres, host: warehouse.internal, port: 5432, database: analytics, schema: public}"
    assert described in text
    text = text.replace(described, "warehouse: {type: postgres, host: 127.0.0.1, port: %d, database: warehouse,"
                                   " schema: public}" % pg_port)
    # The loop this test runs starts training when its data lands (Airflow's assets), besides the
    # example's weekly schedule and drift: training.triggers says so.
    weekly = '      schedule: "@weekly"\n'
    assert text.count(weekly) == 1
    text = text.replace(weekly, weekly + "      triggers: [schedule, data, drift]\n")
    spec = root / "specs" / "customer-churn.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(text)
    result = compile_spec(spec, root / "generated")
    assert result.ok, [d.message for d in result.diagnostics]
    system = root / "generated" / "customer-churn"
    for path, content in result.files.items():
        (system / path).parent.mkdir(parents=True, exist_ok=True)
        (system / path).write_text(content, encoding="utf-8")
    return spec


def predictions(n: int, seed: int, at: pd.Timestamp) -> pd.DataFrame:
    """Logged predictions whose features moved far from the training data."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": np.arange(n),
        "total_purchases": rng.normal(90, 10, n).astype("float32"),
        "avg_order_value": rng.normal(150, 20, n).astype("float32"),
        "days_since_last_purchase": rng.integers(200, 300, n).astype("int32"),
        "support_tickets_count": rng.poisson(12, n).astype("int32"),
        "timestamp": at - pd.to_timedelta(rng.integers(0, 20 * 3600, n), unit="s"),
        "prediction": rng.integers(0, 2, n),
    })


def openlineage_jobs(events: Path, prefix: str = "customer_churn__") -> dict[str, tuple[list, list]]:
    jobs = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event["eventType"] == "COMPLETE" and event["job"]["name"].startswith(prefix):
            jobs[event["job"]["name"]] = ([(d["namespace"], d["name"]) for d in event["inputs"]],
                                          [(d["namespace"], d["name"]) for d in event["outputs"]])
    return jobs


def test_ingest_train_register_drift_retrain(tmp_path):
    with postgres_server() as pg, moto_server() as s3, mlflow_server(tmp_path / "mlflow") as tracking_uri:
        for bucket in BUCKETS:
            s3.client().create_bucket(Bucket=bucket)
        spec = compile_for(tmp_path, s3.endpoint, pg.port)
        system = tmp_path / "generated" / "customer-churn"
        dags = system / "airflow" / "dags"
        events = tmp_path / "openlineage.jsonl"
        credentials = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                       "AWS_DEFAULT_REGION": "us-east-1"}
        env = {
            **credentials,
            "AIRFLOW_CONN_WAREHOUSE": warehouse(pg),
            "AIRFLOW_CONN_MINIO-CREDENTIALS": json.dumps({"conn_type": "aws", "login": ACCESS_KEY,
                                                          "password": SECRET_KEY}),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__OPENLINEAGE__DISABLED": "False",
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "customer-churn",
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events),
                                                           "append": True}),
            "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__DVC_REPO": str(tmp_path / "dvc-repo"),
            "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__STAGING_DIR": str(tmp_path / "staging"),
            # The training DAG's submit step: kfp's local runner instead of a Kubeflow server, and
            # MLflow given as a run argument (a Variable over the spec's in-cluster URL).
            "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__CHURN__KFP_LOCAL": "true",
            "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__CHURN__KFP_LOCAL_ROOT": str(tmp_path / "kfp-local"),
            "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__CHURN__MLFLOW_TRACKING_URI": tracking_uri,
            "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
        }
        (tmp_path / "dvc-repo").mkdir()
        home = migrated_home(tmp_path / "airflow")
        synced = subprocess.run([str(AIRFLOW), "dags", "reserialize"], env=home.env(dags, env), capture_output=True,
                                text=True, timeout=300, cwd=home.path)
        assert synced.returncode == 0, synced.stderr[-3000:]

        # 1. Ingestion: PostgreSQL -> validated (GX), versioned (DVC) Parquet on S3.
        for dag_id in INGEST.values():
            result = home.dags_test(dag_id, DAY, dags, env)
            assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
            assert set(home.task_states(dag_id).values()) == {"success"}, home.task_states(dag_id)
        # each run writes its own partition of the dataset (ds=<logical date>)
        partition = f"ds={pd.Timestamp(DAY):%Y-%m-%d}/part-0.parquet"
        assert s3.keys("raw-data") == [f"customers.parquet/{partition}"]
        assert s3.keys("feast-offline") == [f"customer_activity.parquet/{partition}"]
        landed = pd.read_parquet(io.BytesIO(s3.client().get_object(
            Bucket="feast-offline", Key=f"customer_activity.parquet/{partition}")["Body"].read()))
        assert len(landed) == 2000 and set(landed["day"]) == {DAY}  # the run's day only
        # Both datasets the training reads have landed: Airflow considers the training DAG due.
        due = subprocess.run([sys.executable, "-c", (
            "import json\nfrom airflow.models.dag import DagModel\nfrom airflow.utils.session import create_session\n"
            "with create_session() as s:\n    print('DUE' + json.dumps(sorted(DagModel.dags_needing_dagruns(s)[1])))\n"
            "    s.rollback()\n")], env=home.env(dags, env), capture_output=True, text=True, timeout=300)
        assert due.returncode == 0, due.stderr[-3000:]
        assert TRAIN in json.loads(due.stdout.split("DUE", 1)[1])

        # 2. Feast: the feature definitions go to the registry on S3.
        # (Here the test applies the generated repo; the ingest side's Feast apply task replaces this.)
        feast_env = {**os.environ, **credentials, "AWS_ENDPOINT_URL": s3.endpoint, "FEAST_S3_ENDPOINT_URL": s3.endpoint}
        feast_env.pop("MLSPEC_FEAST_DATA_DIR", None)
        applied = subprocess.run([FEAST, "apply"], cwd=system / "feast", env=feast_env, capture_output=True,
                                 text=True, timeout=300)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert s3.keys("feast-registry") == ["customer-churn/registry.db"]

        # 3. Training: the DAG's submit step runs the pipeline (kfp local runner), which reads the
        # registry and the features from S3 and registers the gated model in the MLflow server.
        train_env = {**env, "AWS_ENDPOINT_URL": s3.endpoint, "FEAST_S3_ENDPOINT_URL": s3.endpoint}
        result = home.dags_test(TRAIN, DAY, dags, train_env, timeout=1800)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-8000:]
        assert home.task_states(TRAIN) == {"submit_pipeline": "success"}
        assert "kfp/churn_training.py locally (kfp local runner)" in output  # not submitted to a server

        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=tracking_uri)
        version = client.get_model_version_by_alias("ChurnModel", "champion")
        assert str(version.version) == "1"
        run = client.get_run(version.run_id)
        assert run.data.metrics["accuracy"] >= 0.85 and run.data.metrics["roc_auc"] >= 0.80
        assert run.data.metrics["selection_rate_disparity_age_group"] <= 0.1
        assert {a.path for a in client.list_artifacts(version.run_id, "model_card")} == {
            "model_card/model-card.json", "model_card/model-card.md", "model_card/README.md"}

        # 4. Drift: predictions logged in the window, far from the training data, in the folder and
        # the form KServe's logger writes them.
        run_at = pd.Timestamp("2026-01-12T12:00:00Z")
        put_frames(s3.client(), "mlspec-monitoring", CHURN_PREFIX, {"drifted": predictions(500, 3, run_at)},
                   FEATURES)
        drift_env = {**env, "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__S3_ENDPOINT": s3.endpoint}
        before = len(home.runs(TRAIN))
        result = home.dags_test(DRIFT, run_at.isoformat(), dags, drift_env)
        assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
        assert home.task_states(DRIFT) == {"check_drift": "success", "decide": "success",
                                           "trigger_retraining": "success", "no_action": "skipped"}
        # 5. ... which triggers the training DAG again.
        assert [run_type for _, run_type in home.runs(TRAIN)[before:]] == ["operator_triggered"]

        # Lineage: every task Airflow ran names exactly the datasets `mlspec lineage emit` names.
        static = tmp_path / "static.jsonl"
        emitted = run_mlspec("lineage", "emit", str(spec), "--file", str(static))
        assert emitted.returncode == 0, emitted.stderr
        expected = openlineage_jobs(static)
        runtime = openlineage_jobs(events)
        task_jobs = {name: io_ for name, io_ in runtime.items() if name.count(".") == 1}
        assert set(task_jobs) >= {f"{INGEST['customers']}.{t}" for t in ("extract", "validate", "version", "upload")}
        assert f"{TRAIN}.submit_pipeline" in task_jobs and f"{DRIFT}.check_drift" in task_jobs
        for name, datasets in task_jobs.items():
            assert datasets == expected[name], name
        table = (f"postgres://127.0.0.1:{pg.port}", "warehouse.public.customers")
        assert task_jobs[f"{INGEST['customers']}.extract"][0] == [table]
        # The provider names the table its query read from the connection (a per-query event):
        # the same dataset the spec's described connection names, so Marquez joins them.
        queries = {name: io_ for name, io_ in runtime.items()
                   if name.startswith(f"{INGEST['customers']}.extract.")}
        assert queries and all(io_[0] == [table] for io_ in queries.values()), queries
