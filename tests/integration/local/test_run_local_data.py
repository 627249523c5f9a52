"""`mlspec run --local --data DIR` with the real tools: the ingestion DAGs extract the user's rows
(a CSV file as written, Parquet converted to the JSON Lines the source declares, a SQL source's
query run through Airflow on the DuckDB file the dump was loaded into) and Great Expectations
validates them; the dataset without a file keeps the sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CASES = Path(__file__).resolve().parents[2] / "cases" / "local"
SPEC = CASES / "user-data.yaml"


def test_the_users_files_and_dump_are_ingested_and_validated(tmp_path):
    import pandas as pd

    from mlspec.compiler.session import load_unit
    from mlspec.local.run import start_local_run
    from mlspec.local.user_data import read_user_data

    data = tmp_path / "data"
    shutil.copytree(CASES / "user-data", data)
    pd.DataFrame({"customer_id": [1, 2, 2], "amount": [9.5, 0.0, 12.25],
                  "event_timestamp": pd.to_datetime(["2024-03-04 10:00", "2024-03-04 11:00", "2024-03-05 09:00"])}
                 ).to_parquet(data / "events.parquet", index=False)
    unit = load_unit(SPEC)
    own = read_user_data(data, unit.project.base, lambda key: str(SPEC))
    assert own.synthetic == ("activity",)

    run = start_local_run(SPEC, tmp_path / "work", data=own)
    assert run.data_date == "2024-03-04"  # the dump's first day on which the orders query returns rows
    results = run.ingestion()
    assert results["ingest"].status == "passed", results["ingest"].detail
    assert results["validate"].status == "passed", results["validate"].detail
    for dataset in ("customers", "events", "orders", "activity"):
        assert dataset in results["validate"].detail

    staged = {p.parts[-3]: pd.read_parquet(p) for p in (tmp_path / "work" / "staging").rglob("data.parquet")}
    assert list(staged["customers"]["code"]) == ["007", "042", "100", "999"]  # text kept as the CSV has it
    assert list(staged["events"]["amount"]) == [9.5, 0.0, 12.25]
    # orders on or after the run's date, of active customers: the query ran on the dump's tables
    assert sorted(staged["orders"]["order_id"]) == [10, 11, 13]
    assert len(staged["activity"]) == len(run.sample["activity"])  # the sample
