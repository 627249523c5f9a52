"""The ingestion DAG's validation task (mlspec.runtime.airflow_tasks.validate) and the DVC
stage's command line, called in this process with the real Great Expectations: a good frame
passes, a bad row fails naming the expectation, and the report lists what was seen. (The task
bodies that need no tool: tests/unit/runtime/test_runtime_airflow_tasks.py.)"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from support.runtime_tasks import BAD, CONTEXT, GOOD, SUITE, ingest_config, suite, write_suite
from support.runtime_tasks import gx_analytics_off, no_airflow  # noqa: F401 (autouse fixtures)
from mlspec.runtime import airflow_tasks as tasks


def test_validate_passes_a_good_frame_and_fails_a_bad_row_naming_the_expectation(tmp_path):
    config = ingest_config(tmp_path)
    write_suite(config)
    GOOD.to_parquet(tasks.staging_path(config, CONTEXT))
    assert tasks.validate(config, CONTEXT) == {"suite": "shop.customers", "evaluated": 4, "rows": 3}

    BAD.to_parquet(tasks.staging_path(config, CONTEXT))
    with pytest.raises(ValueError) as failed:
        tasks.validate(config, CONTEXT)
    assert str(failed.value) == (
        "Great Expectations suite 'shop.customers' failed 1 of 4 expectations on 3 rows:\n"
        "  - expect_column_values_to_be_between(column='age', min_value=18, max_value=120):"
        " 1 unexpected value(s), e.g. [7]")


def test_failure_report_lists_every_failed_expectation_with_what_was_seen():
    outcome = tasks.validate_frame(suite(), pd.DataFrame({"customer_id": [1, 1], "age": [30, 40],
                                                        "plan": ["free", "gold"]}))
    assert outcome["success"] is False and outcome["evaluated"] == 4
    assert [f["expectation"] for f in outcome["failed"]] == ["expect_column_values_to_be_unique",
                                                             "expect_column_values_to_be_in_set"]
    report = tasks.failure_report(outcome)
    assert "expect_column_values_to_be_unique(column='customer_id'): 2 unexpected value(s), e.g. [1, 1]" in report
    assert "value_set=['free', 'pro']): 1 unexpected value(s), e.g. ['gold']" in report
    json.dumps(outcome)  # plain data: it goes into the DVC stage's report and to XCom


def test_dvc_stage_command_writes_the_report_and_exits_1_on_failure(tmp_path, capsys):
    suite, data = tmp_path / "customers.json", tmp_path / "customers.parquet"
    suite.write_text(json.dumps(SUITE))
    GOOD.to_parquet(data)
    report = tmp_path / "reports" / "customers.validation.json"
    arguments = ["validate", "--suite", str(suite), "--data", str(data), "--report", str(report)]
    assert tasks.main(arguments) == 0
    assert json.loads(report.read_text()) == {"suite": "shop.customers", "success": True, "rows": 3,
                                              "evaluated": 4, "failed": []}

    BAD.to_parquet(data)
    assert tasks.main(arguments) == 1
    written = json.loads(report.read_text())
    assert written["success"] is False
    assert [f["expectation"] for f in written["failed"]] == ["expect_column_values_to_be_between"]
    assert "expect_column_values_to_be_between(column='age'" in capsys.readouterr().err
