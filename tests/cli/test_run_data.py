"""`mlspec run SPEC --local --data DIR`: data that does not fit the spec, or a hostile dump, stops
the run before anything is written or started (exit 1, the rows and the spec's rules named), and
the --report file says why."""

from __future__ import annotations

import json

from conftest import SPECS, invoke_mlspec


def test_data_that_breaks_the_spec_exits_1_with_nothing_run_and_the_report_written(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    # customers: a churn label outside `in: [0, 1]` on line 3; a dump of the warehouse that may not be loaded
    (data / "customers.csv").write_text(
        "customer_id,age,age_group,churn,event_timestamp\n"
        "1,30,30-44,0,2024-01-02\n"
        "2,40,30-44,7,2024-01-02\n", encoding="utf-8")
    (data / "warehouse.sql").write_text("ATTACH '/etc/passwd' AS x;\n", encoding="utf-8")
    workdir, report = tmp_path / "work", tmp_path / "report.json"
    result = invoke_mlspec("run", str(SPECS / "customer-churn.yaml"), "--local", "--data", str(data),
                           "--workdir", str(workdir), "--report", str(report))
    assert result.returncode == 1, result.stderr
    assert not workdir.exists()  # nothing prepared, no Airflow
    written = json.loads(report.read_text(encoding="utf-8"))
    assert (written["status"], written["exitCode"], written["stages"]) == ("stopped", 1, [])
    reason = written["reason"]
    assert "the data does not fit the spec" in reason and "nothing was run" in reason
    spec_line = next(i for i, line in enumerate((SPECS / "customer-churn.yaml").read_text().splitlines(), 1)
                     if line.strip().startswith("churn: {type: int8"))
    assert f"{data}/customers.csv:3: dataset `customers`, column `churn` breaks `in` [0, 1]: found 7" in reason
    assert f"customer-churn.yaml:{spec_line}:" in reason
    assert f"{data}/warehouse.sql:1: `ATTACH /etc/passwd AS`: cannot be parsed" in reason
    assert "reads the connection `warehouse`, whose dump" in reason  # customers.csv, or the dump: not both
    assert "--data" in result.stderr and "customers.csv:3" in result.stderr


def test_a_data_folder_that_does_not_exist_is_a_usage_error(tmp_path):
    report = tmp_path / "report.json"
    result = invoke_mlspec("run", str(SPECS / "customer-churn.yaml"), "--local", "--data", str(tmp_path / "none"),
                           "--workdir", str(tmp_path / "work"), "--report", str(report))
    assert result.returncode == 2
    assert "no folder there" in json.loads(report.read_text())["reason"]
    assert not (tmp_path / "work").exists()
