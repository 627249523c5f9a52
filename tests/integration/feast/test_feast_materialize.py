"""Airflow -> Feast, run for real: `airflow dags test` runs the customer-churn ingestion DAG of
`customer_activity` (PostgreSQL behind the `warehouse` connection, DVC and the storage on moto's
S3 server), whose upload updates the dataset's Asset; then the system's Feast DAG, scheduled on
that Asset, applies the generated repository (Feast's local provider, sqlite online store) and
materializes it. Afterwards `get_online_features` serves the rows just ingested; a second day's
ingestion replaces them, and the second Feast run applies nothing (the repository is
unchanged) but materializes the new values."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest

from conftest import SPECS
from support.airflow_runner import shared_home
from support.postgres import find_binaries, postgres_server
from support.s3 import ACCESS_KEY, SECRET_KEY, moto_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_binaries() is None, reason="no PostgreSQL binaries (initdb, pg_ctl) on this machine"),
]

INGEST = "customer_churn__ingest_customer_activity"
FEAST = "customer_churn__feast"
ASSET = "customer-churn.customer_activity"  # the Airflow Asset its ingestion updates (named, not a URI)
NOW = datetime.now(timezone.utc).replace(microsecond=0)
DAY_1, DAY_2 = (NOW - timedelta(days=1)).date(), NOW.date()
FEATURES = ["total_purchases", "avg_order_value", "days_since_last_purchase", "support_tickets_count"]


def activity(day, stamp: datetime, base: int) -> list[tuple]:
    """Ten customers' activity of one day; every value derives from `base` so days differ."""
    return [(i, float(base + i), float(base) / 2 + i, base % 7 + i, i % 3, stamp, day) for i in range(1, 11)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from mlspec.compiler.compile import compile_spec

    out = tmp_path_factory.mktemp("generated")
    result = compile_spec(SPECS / "customer-churn.yaml", out, targets=["airflow", "great_expectations", "dvc", "feast"])
    assert result.ok, [d.message for d in result.diagnostics]
    system = out / "customer-churn"
    for path, text in result.files.items():
        (system / path).parent.mkdir(parents=True, exist_ok=True)
        (system / path).write_text(text, encoding="utf-8")
    repo = tmp_path_factory.mktemp("feast-repo") / "feast"
    shutil.copytree(system / "feast", repo)
    with postgres_server() as pg, moto_server() as s3:
        for bucket in ("feast-offline", "dvc-storage", "feast-registry"):  # feature_store.yaml's registry
            s3.client().create_bucket(Bucket=bucket)
        with pg.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE customer_activity (customer_id bigint, total_purchases real,"
                        " avg_order_value real, days_since_last_purchase integer, support_tickets_count integer,"
                        " event_timestamp timestamptz, day date)")
        yield {"system": system, "repo": repo, "pg": pg, "s3": s3, "work": tmp_path_factory.mktemp("work")}


def insert(pg, rows):
    with pg.connect() as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO customer_activity VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)


def run(world, dag_id: str, day) -> str:
    home = shared_home()
    env = {
        "AIRFLOW_CONN_WAREHOUSE": world["pg"].uri,
        "AIRFLOW_CONN_MINIO-CREDENTIALS": json.dumps({"conn_type": "aws", "login": ACCESS_KEY,
                                                      "password": SECRET_KEY}),
        "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__S3_ENDPOINT": world["s3"].endpoint,
        "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__DVC_REPO": str(world["work"] / f"dvc-{day}"),
        "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__STAGING_DIR": str(world["work"] / "staging"),
        "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__FEAST_REPO": str(world["repo"]),
    }
    result = home.dags_test(dag_id, day.isoformat(), world["system"] / "airflow" / "dags", env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert set(home.task_states(dag_id).values()) == {"success"}, (home.task_states(dag_id), output[-6000:])
    return output


def registry_env(world):
    """What this process needs to read the Feast registry the DAG wrote to S3 (feature_store.yaml
    keeps it on the object store, as a cluster's training steps read it)."""
    return mock.patch.dict(os.environ, {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                                        "FEAST_S3_ENDPOINT_URL": world["s3"].endpoint})


def online(world, ids):
    from feast import FeatureStore

    with registry_env(world):
        store = FeatureStore(repo_path=str(world["repo"]))
        return store.get_online_features(features=store.get_feature_service("churn"),
                                         entity_rows=[{"customer_id": i} for i in ids]).to_dict()


def asset_events(name: str) -> int:
    with sqlite3.connect(shared_home().path / "airflow.db") as db:
        return db.execute("SELECT count(*) FROM asset_event JOIN asset ON asset.id = asset_event.asset_id"
                          " WHERE asset.name = ?", (name,)).fetchone()[0]


def test_ingestion_then_the_feast_dag_serves_the_new_rows_online(world):
    s3 = world["s3"]
    insert(world["pg"], activity(DAY_1, NOW - timedelta(hours=20), base=100))
    events_before = asset_events(ASSET)
    run(world, INGEST, DAY_1)
    # The ingestion wrote its partition and told Airflow the dataset changed.
    assert s3.keys("feast-offline") == [f"customer_activity.parquet/ds={DAY_1}/part-0.parquet"]
    assert asset_events(ASSET) == events_before + 1

    output = run(world, FEAST, DAY_1)
    assert "applied the Feast repository" in output
    served = online(world, [3, 7])
    assert served["customer_id"] == [3, 7]
    assert served["total_purchases"] == pytest.approx([103.0, 107.0])
    assert served["days_since_last_purchase"] == [100 % 7 + 3, 100 % 7 + 7]

    # The next day lands: new values, a newer event time.
    insert(world["pg"], activity(DAY_2, NOW - timedelta(hours=2), base=200))
    run(world, INGEST, DAY_2)
    assert s3.keys("feast-offline") == [f"customer_activity.parquet/ds={DAY_1}/part-0.parquet",
                                        f"customer_activity.parquet/ds={DAY_2}/part-0.parquet"]
    output = run(world, FEAST, DAY_2)
    assert "matches the repository: nothing to apply" in output  # unchanged definitions: no apply
    served = online(world, [3, 7])
    assert served["total_purchases"] == pytest.approx([203.0, 207.0])
    assert served["avg_order_value"] == pytest.approx([103.0, 107.0])

    # A changed definition (a longer TTL, as a recompile would write it) is applied on the next run.
    from feast import FeatureStore

    features = world["repo"] / "features.py"
    features.write_text(features.read_text().replace("ttl=timedelta(seconds=86400)", "ttl=timedelta(seconds=172800)"))
    output = run(world, FEAST, DAY_2)
    assert "applied the Feast repository" in output and "update feature view customer_features" in output
    with registry_env(world):
        assert FeatureStore(repo_path=str(world["repo"])).get_feature_view("customer_features").ttl == timedelta(days=2)
