"""An ingestion DAG, run with `airflow dags test` on moto's S3 server, reads a wildcard file
source and writes one partition per logical date; a re-run replaces its partition only, and
pandas reads the storage root as the training pipeline does."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
import yaml

# --- an ingestion DAG writes partitions, for real ------------------------------------------------------

SPEC = {
    "apiVersion": "mlspec/v1alpha1", "kind": "MLSystem", "metadata": {"name": "landing"},
    "platform": {"objectStore": {"endpoint": "http://minio:9000", "credentialsSecret": "minio-credentials"}},
    "datasets": {"activity": {
        "source": {"uri": "s3://landing/activity/*.parquet"},  # the schema's own example
        "storage": "s3://lake/activity.parquet", "schedule": "@daily",
        "columns": {"customer_id": {"type": "int64", "nullable": False}, "clicks": {"type": "int32", "min": 0},
                    "event_timestamp": {"type": "timestamp"}}}},
}


@pytest.mark.slow
def test_an_ingestion_dag_writes_a_partition_per_date_from_a_wildcard_source(tmp_path):
    from support.airflow_runner import shared_home
    from support.s3 import ACCESS_KEY, SECRET_KEY, moto_server

    from mlspec.compiler.compile import compile_spec

    spec = tmp_path / "landing.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    result = compile_spec(spec, tmp_path / "generated", targets=["airflow", "great_expectations"])
    assert result.ok, [d.message for d in result.diagnostics]
    system = tmp_path / "generated" / "landing"
    for path, text in result.files.items():
        (system / path).parent.mkdir(parents=True, exist_ok=True)
        (system / path).write_text(text)

    def landing_file(client, key, ids, clicks):
        frame = pd.DataFrame({"customer_id": ids, "clicks": clicks,
                              "event_timestamp": pd.Timestamp("2026-01-01T10:00:00Z")})
        client.put_object(Bucket="landing", Key=key, Body=frame.to_parquet(index=False))

    home = shared_home()
    with moto_server() as s3:
        client = s3.client()
        for bucket in ("landing", "lake"):
            client.create_bucket(Bucket=bucket)
        landing_file(client, "activity/a.parquet", [1, 2], [5, 6])
        landing_file(client, "activity/b.parquet", [3], [7])
        landing_file(client, "activity/archive/old.parquet", [99], [0])  # `*` stays in its folder
        client.put_object(Bucket="landing", Key="activity/README.txt", Body=b"not data")
        client.put_object(Bucket="landing", Key="activity-2/c.parquet", Body=b"beside the pattern")
        env = {"AIRFLOW_CONN_MINIO-CREDENTIALS": json.dumps({"conn_type": "aws", "login": ACCESS_KEY,
                                                             "password": SECRET_KEY}),
               "AIRFLOW_VAR_MLSPEC__LANDING__S3_ENDPOINT": s3.endpoint,
               "AIRFLOW_VAR_MLSPEC__LANDING__STAGING_DIR": str(tmp_path / "staging")}

        def ingest(date):
            ran = home.dags_test("landing__ingest_activity", date, system / "airflow" / "dags", env)
            assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
            assert set(home.task_states("landing__ingest_activity").values()) == {"success"}

        ingest("2026-01-01")
        ingest("2026-01-02")
        landing_file(client, "activity/b.parquet", [3, 4], [8, 9])  # the landing zone changed
        ingest("2026-01-02")  # re-run: replaces 2026-01-02 only
        assert s3.keys("lake") == ["activity.parquet/ds=2026-01-01/part-0.parquet",
                                   "activity.parquet/ds=2026-01-02/part-0.parquet"]

        def partition(ds):
            body = client.get_object(Bucket="lake", Key=f"activity.parquet/ds={ds}/part-0.parquet")["Body"].read()
            return pd.read_parquet(io.BytesIO(body))

        assert sorted(partition("2026-01-01")["customer_id"]) == [1, 2, 3]
        assert sorted(partition("2026-01-02")["customer_id"]) == [1, 2, 3, 4]
        # The whole dataset, as the training pipeline reads it: pandas over s3fs, every partition.
        options = {"key": ACCESS_KEY, "secret": SECRET_KEY, "client_kwargs": {"endpoint_url": s3.endpoint}}
        whole = pd.read_parquet("s3://lake/activity.parquet", storage_options=options)
        assert len(whole) == 7 and sorted(whole["ds"].astype(str).unique()) == ["2026-01-01", "2026-01-02"]
        assert len(whole.drop(columns=["ds"]).drop_duplicates()) == 5  # customer 3 changed: a row in each partition
