"""`mlspec run --local` on a spec whose SQL sources join tables (a weekly demand forecast:
`JOIN ... WHERE week_start = '{{ ds }}'`, and a CTE over orders): the ingestion DAGs extract
rows from the filled DuckDB tables through Airflow, and Great Expectations validates them."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SPEC = Path(__file__).resolve().parents[2] / "cases" / "local" / "demand-forecast.yaml"


def test_joined_and_cte_sql_sources_are_ingested_and_validated(tmp_path):
    import pandas as pd

    from mlspec.local.run import start_local_run

    run = start_local_run(SPEC, tmp_path / "work")
    results = run.ingestion()
    assert results["ingest"].status == "passed", results["ingest"].detail
    assert results["validate"].status == "passed", results["validate"].detail
    assert "weekly_sales" in results["validate"].detail and "store_orders" in results["validate"].detail
    staged = sorted((tmp_path / "work" / "staging").rglob("*.parquet"))
    weekly = [pd.read_parquet(p) for p in staged if "weekly_sales" in str(p)]
    assert weekly and len(weekly[0]) == len(run.sample["weekly_sales"])
    assert (weekly[0]["week_start"].dt.strftime("%Y-%m-%d") == run.data_date).all()
