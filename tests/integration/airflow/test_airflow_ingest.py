"""`airflow dags test` runs the generated ingestion DAG end to end on this machine: a real
PostgreSQL server (started here) behind an Airflow connection defined by environment
variable, moto's S3 server on loopback standing in for MinIO, DVC pushing to it, and the
OpenLineage provider writing its events to a file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from conftest import SPECS
from support.airflow_runner import shared_home
from support.mlspec_data import compile_data_targets
from support.postgres import find_binaries, postgres_server
from support.s3 import ACCESS_KEY, SECRET_KEY, moto_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_binaries() is None, reason="no PostgreSQL binaries (initdb, pg_ctl) on this machine"),
]

DAG_ID = "customer_churn__ingest_customers"
AGE_GROUPS = ["18-29", "30-44", "45-64", "65+"]


def customer_rows(n: int = 1200) -> list[tuple]:
    """Synthetic customers that satisfy the spec: unique ids, ages 18-120 (some unknown),
    known age groups, churn 0/1, timestamps."""
    return [(i, None if i % 9 == 0 else 18 + (i * 7) % 80, AGE_GROUPS[i % 4], i % 3 == 0,
             f"2026-01-01T{i % 24:02d}:00:00Z") for i in range(1, n + 1)]


@pytest.fixture(scope="module")
def servers():
    with postgres_server() as pg, moto_server() as s3:
        client = s3.client()
        for bucket in ("raw-data", "dvc-storage"):
            client.create_bucket(Bucket=bucket)
        yield pg, s3


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> Path:
    return compile_data_targets(SPECS / "customer-churn.yaml", tmp_path_factory.mktemp("generated"))


def make_database(pg, name: str, rows: list[tuple]) -> str:
    """A database holding a `customers` table; returns an Airflow connection URI for it."""
    admin = pg.connect()
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    admin.close()
    db = type(pg)(port=pg.port, user=pg.user, database=name)
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE customers (customer_id bigint, age integer, age_group text, churn smallint,"
                    " event_timestamp timestamptz)")
        cur.executemany("INSERT INTO customers VALUES (%s, %s, %s, %s, %s)",
                        [(i, a, g, int(c), t) for i, a, g, c, t in rows])
    return db.uri


def run_ingestion(system: Path, tmp_path: Path, pg_uri: str, s3, storage: str, extra: dict | None = None):
    home = shared_home()
    dvc_repo = tmp_path / "dvc-repo"
    dvc_repo.mkdir()
    env = {
        "AIRFLOW_CONN_WAREHOUSE": pg_uri,
        # The connection named by the spec's credentialsSecret: credentials by reference only.
        "AIRFLOW_CONN_MINIO-CREDENTIALS": json.dumps({"conn_type": "aws", "login": ACCESS_KEY,
                                                      "password": SECRET_KEY}),
        "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__S3_ENDPOINT": s3.endpoint,
        "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__DVC_REPO": str(dvc_repo),
        "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__STAGING_DIR": str(tmp_path / "staging"),
        "AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__CUSTOMERS__STORAGE": storage,
        **(extra or {}),
    }
    result = home.dags_test(DAG_ID, "2026-01-02", system / "airflow" / "dags", env)
    return result, home.task_states(DAG_ID), dvc_repo


def test_ingestion_lands_validated_versioned_parquet_in_the_object_store(servers, system, tmp_path):
    import pandas as pd

    pg, s3 = servers
    uri = make_database(pg, "good", customer_rows())
    events = tmp_path / "openlineage.jsonl"
    lineage = {"AIRFLOW__OPENLINEAGE__DISABLED": "False", "AIRFLOW__OPENLINEAGE__NAMESPACE": "customer-churn",
               "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events),
                                                              "append": True})}
    result, states, dvc_repo = run_ingestion(system, tmp_path, uri, s3, "s3://raw-data/good/customers.parquet",
                                             lineage)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert states == {"extract": "success", "validate": "success", "version": "success", "upload": "success"}

    # The validated Parquet is in the object store, as this run's partition, typed as the spec says.
    assert s3.keys("raw-data") == ["good/customers.parquet/ds=2026-01-02/part-0.parquet"]
    body = s3.client().get_object(Bucket="raw-data", Key="good/customers.parquet/ds=2026-01-02/part-0.parquet")["Body"].read()
    frame = pd.read_parquet(io.BytesIO(body))
    assert len(frame) == 1200
    assert list(frame.columns) == ["customer_id", "age", "age_group", "churn", "event_timestamp"]
    assert str(frame["customer_id"].dtype) == "int64" and str(frame["churn"].dtype) == "int8"

    # DVC versioned it and pushed the content to the remote (content-addressed by md5).
    dvc_file = (dvc_repo / "data" / "customers.parquet.dvc").read_text()
    md5 = dvc_file.split("md5: ", 1)[1].split()[0]
    assert f"files/md5/{md5[:2]}/{md5[2:]}" in s3.keys("dvc-storage")

    # Every task emitted lineage with the datasets it declared.
    seen = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event["eventType"] == "COMPLETE" and event["job"]["name"].count(".") == 1:
            seen[event["job"]["name"]] = ([(d["namespace"], d["name"]) for d in event["inputs"]],
                                          [(d["namespace"], d["name"]) for d in event["outputs"]])
    # The source table as the spec's `tables` names it (OpenLineage's postgres naming); the
    # per-run staging file is no dataset, so every task names the source its data came from.
    source = ("postgres://warehouse.internal:5432", "analytics.public.customers")
    assert seen == {
        f"{DAG_ID}.extract": ([source], []),
        f"{DAG_ID}.validate": ([source], []),
        f"{DAG_ID}.version": ([source], [("s3://dvc-storage", "data/customers.parquet")]),
        f"{DAG_ID}.upload": ([source], [("s3://raw-data", "customers.parquet")]),
    }


def test_a_bad_row_fails_the_validation_task_naming_the_expectation(servers, system, tmp_path):
    pg, s3 = servers
    rows = customer_rows()
    rows[10] = (rows[10][0], 7, *rows[10][2:])  # a seven-year-old customer: age must be 18-120
    uri = make_database(pg, "bad", rows)
    result, states, dvc_repo = run_ingestion(system, tmp_path, uri, s3, "s3://raw-data/bad/customers.parquet")
    assert result.returncode != 0, "airflow dags test should report the failed run"
    assert states["extract"] == "success"
    assert states["validate"] == "failed"
    assert states["version"] != "success" and states["upload"] != "success"
    output = result.stdout + result.stderr
    assert "expect_column_values_to_be_between(column='age', min_value=18, max_value=120)" in output
    assert "1 unexpected value(s), e.g. [7]" in output
    # Nothing was versioned or uploaded.
    assert not (dvc_repo / "data" / "customers.parquet.dvc").exists()
    assert not any(k.startswith("bad/") for k in s3.keys("raw-data"))
