"""`mlspec run SPEC --local` with the real tools: Airflow (`airflow dags test`), Great
Expectations, DVC, Feast, kfp's local runner and MLflow (SQLite), on sample data in a work
folder. The stages not implemented yet are reported skipped, never passed; a failure stops
the run, exits 4 and names the generated file and the spec line it came from."""

from __future__ import annotations

import json

import pytest

from conftest import SPECS, invoke_mlspec

pytestmark = pytest.mark.slow

IMPLEMENTED = ["ingest", "validate", "version", "materialize", "train", "register"]
NOT_YET = ["promote", "serve", "drift", "retrain"]


def stages(report) -> dict[str, dict]:
    document = json.loads(report.read_text())
    assert [s["stage"] for s in document["stages"]] == IMPLEMENTED + NOT_YET
    return {s["stage"]: s for s in document["stages"]}


def test_churn_passes_the_implemented_stages(tmp_path):
    report = tmp_path / "r.json"
    result = invoke_mlspec("run", str(SPECS / "customer-churn.yaml"), "--local", "--workdir",
                           str(tmp_path / "work"), "--report", str(report))
    assert result.returncode == 0, result.stderr[-6000:]
    by_stage = stages(report)
    for name in IMPLEMENTED:
        assert by_stage[name]["status"] == "passed", by_stage[name]
        assert by_stage[name]["seconds"] >= 0
    for name in NOT_YET:
        assert by_stage[name] == {"stage": name, "status": "skipped", "seconds": 0, "detail": "not implemented yet"}
    assert "ChurnModel version 1 has alias `champion`" in by_stage["register"]["detail"]
    # a stage line each, as it finished
    assert "register    passed" in result.stderr and "promote     skipped" in result.stderr
    # the SQL sources' rows came from the DuckDB file, read by the extract through the Airflow hook
    # (DbApiHook.get_df: pandas warns there about the DuckDB DBAPI connection) ...
    import pandas as pd

    work = tmp_path / "work"
    assert "common/sql/hooks/sql.py" in (work / "logs" / "customer_churn__ingest_customer_activity.log").read_text()
    assert (work / "databases" / "warehouse.duckdb").is_file() and not list((work / "sources").iterdir())
    # ... with the `day` column its query's WHERE needs, which only the table has
    stored = next((work / "store" / "feast-offline" / "customer_activity.parquet").glob("*/part-0.parquet"))
    assert "day" in pd.read_parquet(stored).columns


def test_an_impossible_gate_stops_at_train_and_names_the_pipeline(tmp_path):
    spec = tmp_path / "customer-churn.yaml"
    text = (SPECS / "customer-churn.yaml").read_text()
    assert 'accuracy: ">= 0.85"' in text
    spec.write_text(text.replace('accuracy: ">= 0.85"', 'accuracy: ">= 1.01"'))
    gate_line = 1 + next(i for i, line in enumerate(spec.read_text().splitlines()) if '">= 1.01"' in line)
    report = tmp_path / "r.json"
    result = invoke_mlspec("run", str(spec), "--local", "--workdir", str(tmp_path / "work"), "--report", str(report))
    assert result.returncode == 4, result.stderr[-6000:]
    by_stage = stages(report)
    assert [by_stage[n]["status"] for n in IMPLEMENTED] == ["passed"] * 4 + ["failed", "skipped"]
    train = by_stage["train"]
    assert train["file"] == "kfp/churn_training.py" and train["spec_line"] == f"{spec}:{gate_line}"
    assert "evaluate-model" in train["detail"] and "evaluation gate failed" in train["detail"]
    assert f"generated file: {tmp_path / 'work' / 'generated' / 'customer-churn' / 'kfp' / 'churn_training.py'}" \
           f"  (from {spec}:{gate_line})" in result.stderr
    assert all(by_stage[n]["status"] == "skipped" for n in NOT_YET)


def test_a_row_breaking_an_expectation_stops_at_validate(tmp_path):
    """The sample passes its suite; one duplicated customer (customer_id is `unique`) does not."""
    import duckdb

    from mlspec.local.run import start_local_run
    from mlspec.local.stages import run_stages

    run = start_local_run(SPECS / "customer-churn.yaml", tmp_path / "work")
    with duckdb.connect(str(run.ws.databases / "warehouse.duckdb")) as db:  # customers' SQL source reads it
        db.execute("INSERT INTO customers SELECT * FROM customers LIMIT 1")
    results = {r.stage: r for r in run_stages(run)}
    assert [results[n].status for n in IMPLEMENTED] == ["passed", "failed"] + ["skipped"] * 4
    validate = results["validate"]
    assert validate.file == "great_expectations/customers.json"
    assert validate.spec_line == f"{SPECS / 'customer-churn.yaml'}:38"  # customers' columns
    assert "customer_churn__ingest_customers: task `validate` failed" in validate.detail
    assert "expect_column_values_to_be_unique" in validate.detail
    assert all(results[n].detail == "not implemented yet" for n in NOT_YET)
