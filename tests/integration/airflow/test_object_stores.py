"""gs:// and abfs:// for real: an ingestion DAG compiled from a spec whose source, storage and
DVC remote are on Google Cloud Storage (gcp-storage-emulator) or Azure Blob Storage (Azurite)
runs with `airflow dags test`. The generated tasks read the landing files and write the
partition through gcsfs / adlfs and `dvc push` through dvc-gs / dvc-azure, with credentials
only from the Airflow connection the spec names; then the test reads everything back from
the emulator."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
import yaml

from support.emulators import AZURITE_ACCOUNT, AZURITE_KEY, azurite, gcs_emulator

COLUMNS = {"customer_id": {"type": "int64", "nullable": False}, "clicks": {"type": "int32", "min": 0},
           "event_timestamp": {"type": "timestamp"}}


def spec(scheme: str, platform: dict) -> dict:
    return {
        "apiVersion": "mlspec/v1alpha1", "kind": "MLSystem", "metadata": {"name": "landing"},
        "platform": platform,
        "datasets": {"activity": {
            "source": {"uri": f"{scheme}://landing/activity/*.parquet"},
            "storage": f"{scheme}://lake/activity.parquet", "schedule": "@daily",
            "versioning": {"dvc": {"remote": f"{scheme}://dvc-storage/landing"}},
            "columns": COLUMNS}},
    }


def compile_system(tmp_path, document: dict):
    from mlspec.compiler.compile import compile_spec

    path = tmp_path / "landing.yaml"
    path.write_text(yaml.safe_dump(document))
    result = compile_spec(path, tmp_path / "generated", targets=["airflow", "great_expectations", "dvc"])
    assert result.ok, [d.message for d in result.diagnostics]
    system = tmp_path / "generated" / "landing"
    for name, text in result.files.items():
        (system / name).parent.mkdir(parents=True, exist_ok=True)
        (system / name).write_text(text)
    return system


def landing_file(fs, uri: str, ids, clicks):
    frame = pd.DataFrame({"customer_id": ids, "clicks": clicks, "event_timestamp": pd.Timestamp("2026-01-01T10:00:00Z")})
    with fs.open(uri, "wb") as handle:
        handle.write(frame.to_parquet(index=False))


def ingest_and_check(tmp_path, system, fs, scheme: str, env: dict):
    from support.airflow_runner import shared_home

    for bucket in ("landing", "lake", "dvc-storage"):
        fs.mkdir(bucket)
    landing_file(fs, f"{scheme}://landing/activity/a.parquet", [1, 2], [5, 6])
    landing_file(fs, f"{scheme}://landing/activity/b.parquet", [3], [7])
    landing_file(fs, f"{scheme}://landing/activity/archive/old.parquet", [99], [0])  # `*` stays in its folder
    env = {**env, "AIRFLOW_VAR_MLSPEC__LANDING__STAGING_DIR": str(tmp_path / "staging"),
           "AIRFLOW_VAR_MLSPEC__LANDING__DVC_REPO": str(tmp_path / "dvc-repo")}
    home = shared_home()

    def ingest(date):
        ran = home.dags_test("landing__ingest_activity", date, system / "airflow" / "dags", env)
        assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
        assert set(home.task_states("landing__ingest_activity").values()) == {"success"}

    ingest("2026-01-01")
    landing_file(fs, f"{scheme}://landing/activity/b.parquet", [3, 4], [8, 9])  # the landing zone changed
    ingest("2026-01-02")
    ingest("2026-01-02")  # a re-run replaces its own partition
    assert sorted(fs.find("lake")) == ["lake/activity.parquet/ds=2026-01-01/part-0.parquet",
                                       "lake/activity.parquet/ds=2026-01-02/part-0.parquet"]
    with fs.open("lake/activity.parquet/ds=2026-01-02/part-0.parquet", "rb") as handle:
        assert sorted(pd.read_parquet(io.BytesIO(handle.read()))["customer_id"]) == [1, 2, 3, 4]
    # `dvc push` put the validated file on the remote, content-addressed by the md5 the .dvc file records.
    record = (tmp_path / "dvc-repo" / "data" / "activity.parquet.dvc").read_text()
    md5 = record.split("md5: ")[1][:32]
    pushed = f"dvc-storage/landing/files/md5/{md5[:2]}/{md5[2:]}"
    assert fs.isfile(pushed), sorted(fs.find("dvc-storage"))
    with fs.open(pushed, "rb") as handle:
        assert sorted(pd.read_parquet(io.BytesIO(handle.read()))["customer_id"]) == [1, 2, 3, 4]
    # Nothing secret in what the repository commits.
    committed = (tmp_path / "dvc-repo" / ".dvc" / "config").read_text()
    assert AZURITE_KEY not in committed and "AccountKey" not in committed


@pytest.mark.slow
def test_an_ingestion_dag_reads_and_writes_gcs_and_pushes_dvc_there(tmp_path):
    with gcs_emulator() as gcs:
        document = spec("gs", {"gcs": {"credentialsSecret": "gcs-credentials", "endpoint": "http://fake-gcs:4443"}})
        system = compile_system(tmp_path, document)
        dvc_config = (system / "dvc" / "config").read_text()
        assert "url = gs://dvc-storage/landing" in dvc_config and "endpointurl = http://fake-gcs:4443" in dvc_config
        # The emulator takes no key: the connection the spec names holds none (a real one holds
        # the service account's `keyfile_dict`).
        env = {"AIRFLOW_CONN_GCS-CREDENTIALS": json.dumps({"conn_type": "google_cloud_platform"}),
               "AIRFLOW_VAR_MLSPEC__LANDING__GCS_ENDPOINT": gcs.endpoint}
        ingest_and_check(tmp_path, system, gcs.fs(), "gs", env)


@pytest.mark.slow
def test_an_ingestion_dag_reads_and_writes_azure_blob_and_pushes_dvc_there(tmp_path):
    with azurite(tmp_path / "azurite") as server:
        document = spec("abfs", {"azure": {"account": AZURITE_ACCOUNT, "credentialsSecret": "azure-credentials"}})
        system = compile_system(tmp_path, document)
        dvc_config = (system / "dvc" / "config").read_text()
        assert "url = azure://dvc-storage/landing" in dvc_config and f"account_name = {AZURITE_ACCOUNT}" in dvc_config
        # The account key reaches the tasks only through the Airflow connection the spec names.
        env = {"AIRFLOW_CONN_AZURE-CREDENTIALS": json.dumps({"conn_type": "wasb", "login": AZURITE_ACCOUNT,
                                                             "password": AZURITE_KEY}),
               "AIRFLOW_VAR_MLSPEC__LANDING__AZURE_ENDPOINT": server.blob_endpoint}
        ingest_and_check(tmp_path, system, server.fs(), "abfs", env)
