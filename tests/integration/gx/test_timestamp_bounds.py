"""ISO-date bounds of timestamp columns, as the README promises them: a column's `min`/`max` and a
`column_values_to_be_between` expectation with dates both become expectations that the real
Great Expectations runs on a frame as the ingestion casts it (naive UTC timestamps), flagging
exactly the rows outside."""

from __future__ import annotations

import pandas as pd

from support.runtime_tasks import gx_analytics_off, no_airflow  # noqa: F401 (autouse fixtures)
from mlspec.runtime import airflow_tasks as tasks

SPEC = """\
apiVersion: mlspec/v1alpha1
kind: MLSystem
metadata: {name: stamps}
datasets:
  events:
    columns:
      id: {type: int64}
      created_at: {type: timestamp, min: "2024-01-01", max: "2024-12-31T23:59:59Z"}
      seen_at: {type: timestamp}
    expectations:
      - {expect: column_values_to_be_between, column: seen_at, min: "2024-06-01T02:00:00+02:00", max: 2025-01-01}
"""


def test_iso_date_bounds_of_timestamp_columns_are_checked_by_great_expectations(tmp_path):
    from mlspec.compiler.compile import compile_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    result = compile_spec(spec, tmp_path / "generated", targets=["great_expectations"])
    assert result.ok, [d.message for d in result.diagnostics]
    assert not [d for d in result.diagnostics if d.code == "W701"]
    import json

    suite = json.loads(result.files["great_expectations/events.json"])
    between = [e["kwargs"] for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_between"]
    assert between == [
        {"column": "created_at", "min_value": "2024-01-01T00:00:00", "max_value": "2024-12-31T23:59:59"},
        {"column": "seen_at", "min_value": "2024-06-01T00:00:00", "max_value": "2025-01-01T00:00:00"},
    ]
    columns = [{"name": "id", "type": "int64"}, {"name": "created_at", "type": "timestamp"},
               {"name": "seen_at", "type": "timestamp"}]
    good = tasks.cast_columns(pd.DataFrame({
        "id": [1, 2], "created_at": ["2024-01-01T00:00:00Z", "2024-12-31T23:00:00+00:00"],
        "seen_at": ["2024-06-01T00:00:00Z", "2024-12-31T00:00:00Z"]}), columns)
    outcome = tasks.validate_frame(suite, good)
    assert outcome["success"], outcome["failed"]

    bad = tasks.cast_columns(pd.DataFrame({
        "id": [1, 2], "created_at": ["2023-12-31T23:59:00Z", "2024-06-01T00:00:00Z"],
        "seen_at": ["2024-05-31T23:59:59Z", "2025-01-02T00:00:00Z"]}), columns)
    outcome = tasks.validate_frame(suite, bad)
    failed = {(f["expectation"], f["kwargs"]["column"]): f for f in outcome["failed"]}
    assert set(failed) == {("expect_column_values_to_be_between", "created_at"),
                           ("expect_column_values_to_be_between", "seen_at")}, outcome["failed"]
    assert failed[("expect_column_values_to_be_between", "seen_at")]["unexpected_count"] == 2
