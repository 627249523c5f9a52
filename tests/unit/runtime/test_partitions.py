"""Runs are partitioned: each ingestion run writes its own Hive-style partition of the dataset's
storage (mlspec.ir.layout, "dataset partitions"), a re-run replaces that partition only,
and every reader reads the partitions: the runtime's own reader (the drift reference), pandas
and pyarrow as the training pipeline reads its labels (Feast's file offline store reading them is
tests/integration/feast/test_feast_partitions.py; an ingestion DAG writing them under `airflow dags
test` is tests/integration/airflow/test_ingest_partitions.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlspec.ir.model import IRDataset
from mlspec.runtime import airflow_tasks as tasks
from mlspec.ir import layout
from support.runtime_tasks import hide_airflow_sdk

LAYOUT_DAILY = {"column": "ds", "date_format": "%Y-%m-%d", "file": "part-0.parquet", "per_run": False}
LAYOUT_PER_RUN = {"column": "ds", "date_format": "%Y-%m-%d", "file": "part-{time}.parquet", "per_run": True}


@pytest.fixture(autouse=True)
def no_airflow(monkeypatch):
    hide_airflow_sdk(monkeypatch)


def dataset(schedule, storage="s3://lake/activity.parquet") -> IRDataset:
    return IRDataset(name="activity", py_name="activity", description=None, source=None, storage=storage,
                     schedule=schedule, dvc_remote=None, columns=(), expectations=(), ingest_dag_id="x")


# --- the layout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("schedule, per_run", [
    (None, False), ("@daily", False), ("@weekly", False), ("@once", False), ("0 2 * * *", False),
    ("30 4 * * 1-5", False), ("@hourly", True), ("@continuous", True), ("*/30 * * * *", True),
    ("0 */6 * * *", True), ("0 2,14 * * *", True), ("15 * * * *", True)])
def test_a_schedule_that_runs_more_than_daily_writes_a_file_per_run(schedule, per_run):
    assert layout.runs_more_than_daily(schedule) is per_run
    assert layout.partition_layout(dataset(schedule)) == (LAYOUT_PER_RUN if per_run else LAYOUT_DAILY)


# --- writing partitions ---------------------------------------------------------------------------


def upload_config(tmp_path, storage, layout=LAYOUT_DAILY) -> dict:
    return {"system": "shop", "dataset": "activity", "credentials": {}, "partition": layout,
            "settings": {"staging_dir": ["v", str(tmp_path / "staging")], "storage": ["v", storage],
                         "s3_endpoint": ["v", None]}}


def run_upload(config, frame, when: str, run_id: str = "run"):
    context = {"run_id": run_id, "logical_date": pd.Timestamp(when).to_pydatetime()}
    frame.to_parquet(tasks.staging_path(config, context), index=False)
    return tasks.upload(config, context)


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_each_run_writes_its_partition_and_a_rerun_replaces_only_it(tmp_path):
    lake = tmp_path / "lake" / "activity.parquet"
    config = upload_config(tmp_path, str(lake))
    run_upload(config, pd.DataFrame({"x": [1, 2]}), "2026-01-01T02:00:00Z")
    run_upload(config, pd.DataFrame({"x": [3]}), "2026-01-02T02:00:00Z")
    (lake / "ds=2026-01-01" / "part-1.parquet").write_bytes(b"left by an older layout")
    assert run_upload(config, pd.DataFrame({"x": [10, 20, 30]}), "2026-01-01T02:00:00Z", "rerun") == \
        f"{lake}/ds=2026-01-01/part-0.parquet"
    assert files_under(lake) == ["ds=2026-01-01/part-0.parquet", "ds=2026-01-02/part-0.parquet"]
    assert pd.read_parquet(lake / "ds=2026-01-01" / "part-0.parquet")["x"].tolist() == [10, 20, 30]
    assert pd.read_parquet(lake / "ds=2026-01-02" / "part-0.parquet")["x"].tolist() == [3]


def test_a_more_than_daily_dataset_keeps_a_file_per_run_of_the_date(tmp_path):
    lake = tmp_path / "lake"
    config = upload_config(tmp_path, f"file://{lake}/", LAYOUT_PER_RUN)
    run_upload(config, pd.DataFrame({"x": [1]}), "2026-01-01T00:30:00Z")
    run_upload(config, pd.DataFrame({"x": [2]}), "2026-01-01T01:00:00Z")
    run_upload(config, pd.DataFrame({"x": [9]}), "2026-01-01T00:30:00Z", "rerun")
    assert files_under(lake) == ["ds=2026-01-01/part-003000.parquet", "ds=2026-01-01/part-010000.parquet"]
    assert pd.read_parquet(lake / "ds=2026-01-01" / "part-003000.parquet")["x"].tolist() == [9]


def test_partitions_on_s3_are_replaced_the_same_way(tmp_path, monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        config = upload_config(tmp_path, "s3://lake/activity.parquet")
        client = tasks.s3_client(config)
        client.create_bucket(Bucket="lake")
        run_upload(config, pd.DataFrame({"x": [1]}), "2026-01-01T02:00:00Z")
        client.put_object(Bucket="lake", Key="activity.parquet/ds=2026-01-01/part-7.parquet", Body=b"stale")
        run_upload(config, pd.DataFrame({"x": [2]}), "2026-01-02T02:00:00Z")
        run_upload(config, pd.DataFrame({"x": [5]}), "2026-01-01T02:00:00Z", "rerun")
        keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket="lake")["Contents"])
        assert keys == ["activity.parquet/ds=2026-01-01/part-0.parquet", "activity.parquet/ds=2026-01-02/part-0.parquet"]
        read = tasks.read_dataset(config, "s3://lake/activity.parquet")
    assert sorted(read["x"]) == [2, 5]


# --- reading partitions ---------------------------------------------------------------------------


def write_partitions(root: Path, parts: dict[str, pd.DataFrame]) -> None:
    for ds, frame in parts.items():
        (root / f"ds={ds}").mkdir(parents=True, exist_ok=True)
        frame.to_parquet(root / f"ds={ds}" / "part-0.parquet", index=False)


def test_the_reader_reads_partitions_up_to_a_date_and_counts_repeated_rows_once(tmp_path):
    root = tmp_path / "customers.parquet"
    snapshot = pd.DataFrame({"id": [1, 2], "churn": [0, 1]})
    write_partitions(root, {
        "2026-01-01": snapshot,
        "2026-01-02": pd.concat([snapshot, pd.DataFrame({"id": [3, 3], "churn": [0, 0]})]),  # 3 twice: kept
        "2026-01-03": pd.DataFrame({"id": [4], "churn": [1]}),
    })
    (root / "_SUCCESS").write_text("")  # markers are not data
    read = tasks.read_dataset({}, str(root), until="2026-01-02")
    assert list(read.columns) == ["id", "churn"]
    assert sorted(read["id"]) == [1, 2, 3, 3]
    assert sorted(tasks.read_dataset({}, f"file://{root}")["id"]) == [1, 2, 3, 3, 4]


def test_a_root_written_before_partitioning_is_one_file(tmp_path):
    single = tmp_path / "customers.parquet"
    pd.DataFrame({"id": [7]}).to_parquet(single)
    assert tasks.read_dataset({}, str(single))["id"].tolist() == [7]


def test_pandas_and_pyarrow_read_the_root_as_the_training_pipeline_does(tmp_path):
    """What the training side does with its `label_data_uri` (the storage root): pandas reads
    every partition and adds `ds` as a column; dropping it and the repeated rows gives the rows."""
    root = tmp_path / "customers.parquet"
    snapshot = pd.DataFrame({"customer_id": [1, 2], "churn": [0, 1]})
    write_partitions(root, {"2026-01-01": snapshot, "2026-01-02": snapshot})
    read = pd.read_parquet(root)
    assert sorted(read["ds"].astype(str).unique()) == ["2026-01-01", "2026-01-02"]
    assert len(read.drop(columns=["ds"]).drop_duplicates()) == 2
    assert pd.read_parquet(root, columns=["customer_id", "churn"]).shape == (4, 2)
