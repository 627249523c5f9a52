"""`mlspec run --local --data DIR`: the user's data is checked against the spec before anything
runs (each broken rule at its rows and the spec's line and column), DIR is read as untrusted
(no links, no subfolders, exact names, size limits; a SQL dump holds only CREATE TABLE and
INSERT of constants), and the data that passes is what the run's sources hold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from mlspec.compiler.session import load_unit
from mlspec.local import user_data
from mlspec.local.user_data import DataError, read_user_data

PLATFORM = {"objectStore": {"endpoint": "http://minio:9000", "credentialsSecret": "minio"}}


def spec_file(tmp_path: Path, datasets: dict, **extra) -> Path:
    path = tmp_path / "spec.yaml"
    spec = {"apiVersion": "mlspec/v1alpha1", "kind": "MLSystem", "metadata": {"name": "shop"},
            "platform": PLATFORM, "datasets": datasets, **extra}
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def load(path: Path):
    unit = load_unit(path)
    assert unit.ok, [d.message for d in unit.diagnostics]

    def place(key: tuple) -> str:
        _, span = unit.source.positions.nearest(key, prefer_key=True)
        return f"{path.name}:{span.line}:{span.col}"

    return unit, place


def line_of(path: Path, text: str) -> int:
    """The 1-based line of `path` whose text (indentation aside) starts with `text`."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.lstrip().startswith(text))


def check(tmp_path: Path, datasets: dict, files: dict[str, str | bytes]) -> list[str]:
    """The problems read_user_data finds in a DIR holding `files` ([] when it accepts them)."""
    spec = spec_file(tmp_path, datasets)
    unit, place = load(spec)
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    try:
        read_user_data(folder, unit.project.base, place)
    except DataError as error:
        return error.problems
    return []


def file_dataset(columns: dict, expectations: list | None = None, fmt: str = "parquet") -> dict:
    return {"source": {"uri": f"s3://raw/d.{fmt}", "format": fmt}, "storage": "s3://raw-data/d/",
            "columns": columns, "expectations": expectations or []}


# --- located errors ----------------------------------------------------------------------------------


def test_each_broken_rule_is_named_at_its_csv_line_and_the_spec_line_and_column_of_the_rule(tmp_path):
    columns = {"id": {"type": "int64", "nullable": False, "unique": True},
               "age": {"type": "int32", "min": 18, "max": 120},
               "segment": {"type": "string", "in": ["a", "b"]}}
    problems = check(tmp_path, {"customers": file_dataset(columns)},
                     {"customers.csv": "id,age,segment\n1,30,a\n2,212,b\n2,40,c\n,50,a\n"})
    spec = tmp_path / "spec.yaml"
    folder = tmp_path / "data"
    age_line = line_of(spec, "age:")
    assert any(p.startswith(f"{folder}/customers.csv:3: dataset `customers`, column `age` breaks `min: 18` and"
                            f" `max: 120`: found 212") and f"spec.yaml:{age_line + 2}:" in p for p in problems), problems
    # the duplicate id on lines 3 and 4, the missing one on line 5, the value outside `in` on line 4
    assert [p.split(":")[1] for p in problems if "`unique: true`" in p] == ["3", "4"]
    assert any(p.startswith(f"{folder}/customers.csv:5:") and "`nullable: false`: found null" in p for p in problems)
    assert any(p.startswith(f"{folder}/customers.csv:4:") and "breaks `in` [a, b]: found 'c'" in p for p in problems)
    assert len(problems) == 5, problems


def test_a_value_of_the_wrong_type_is_refused_at_its_row_not_cast_silently(tmp_path):
    columns = {"n": {"type": "int8"}, "x": {"type": "float32"}, "flag": {"type": "bool"},
               "at": {"type": "timestamp"}}
    problems = check(tmp_path, {"d": file_dataset(columns)},
                     {"d.csv": "n,x,flag,at\n1,1.5,True,2024-01-01\n2.5,1e39,yes,2024-01-02\n300,2,False,never\n"})
    assert any(":3:" in p and "`n`: not a whole number that fits int8: found 2.5" in p for p in problems), problems
    assert any(":4:" in p and "`n`: not a whole number that fits int8: found 300" in p for p in problems)
    assert any(":3:" in p and "`x`: not a number that fits float32" in p for p in problems)
    assert any(":3:" in p and "`flag`: not a boolean" in p for p in problems)
    assert any(":4:" in p and "`at`: not a date or time: found 'never'" in p for p in problems)


def test_timestamps_in_two_formats_are_refused_as_the_extract_task_would_refuse_them(tmp_path):
    problems = check(tmp_path, {"d": file_dataset({"at": {"type": "timestamp"}})},
                     {"d.csv": "at\n2024-01-01\n2024-01-02T10:00:00\n"})
    assert len(problems) == 1 and ":3:" in problems[0] and "format of the column's first value" in problems[0]


def test_a_missing_column_names_the_columns_found_and_where_the_spec_declares_it(tmp_path):
    problems = check(tmp_path, {"d": file_dataset({"id": {"type": "int64"}, "age": {"type": "int32"}})},
                     {"d.csv": "id,agee\n1,2\n"})
    line = line_of(tmp_path / "spec.yaml", "age:")
    assert problems == [f"{tmp_path}/data/d.csv: dataset `d` has no column `age` (declared at spec.yaml:{line}:7;"
                        f" its columns: id, agee)"]


# Each expectation the language accepts, with values that pass it and values that break it.
EXPECTATIONS = [
    ({"expect": "column_values_to_not_be_null", "column": "v"}, ["1", "2"], ["1", ""]),
    ({"expect": "column_values_to_be_null", "column": "v"}, ["", ""], ["", "3"]),
    ({"expect": "column_values_to_be_unique", "column": "v"}, ["1", "2"], ["1", "1"]),
    ({"expect": "column_values_to_be_between", "column": "v", "min": 0, "max": 5}, ["0", "5"], ["0", "6"]),
    ({"expect": "column_values_to_be_in_set", "column": "v", "values": [1, 2]}, ["1", "2"], ["1", "3"]),
    ({"expect": "column_values_to_not_be_in_set", "column": "v", "values": [9]}, ["1", "2"], ["1", "9"]),
    ({"expect": "column_values_to_match_regex", "column": "s", "regex": "^[a-c]+$"}, ["ab", "c"], ["ab", "x"]),
    ({"expect": "column_values_to_not_match_regex", "column": "s", "regex": "^x"}, ["ab", "c"], ["ab", "xy"]),
    ({"expect": "column_value_lengths_to_be_between", "column": "s", "min": 1, "max": 2}, ["ab", "c"], ["ab", "abc"]),
    ({"expect": "column_mean_to_be_between", "column": "v", "min": 1, "max": 2}, ["1", "2"], ["1", "9"]),
    ({"expect": "column_median_to_be_between", "column": "v", "min": 1, "max": 2}, ["1", "2"], ["8", "9"]),
    ({"expect": "column_min_to_be_between", "column": "v", "min": 1}, ["1", "2"], ["0", "2"]),
    ({"expect": "column_max_to_be_between", "column": "v", "max": 2}, ["1", "2"], ["1", "3"]),
    ({"expect": "column_stdev_to_be_between", "column": "v", "max": 1}, ["1", "2"], ["1", "9"]),
    ({"expect": "column_sum_to_be_between", "column": "v", "max": 3}, ["1", "2"], ["1", "3"]),
    ({"expect": "column_unique_value_count_to_be_between", "column": "v", "min": 2}, ["1", "2"], ["1", "1"]),
    ({"expect": "column_proportion_of_unique_values_to_be_between", "column": "v", "min": 1}, ["1", "2"], ["1", "1"]),
    ({"expect": "column_distinct_values_to_be_in_set", "column": "v", "values": [1, 2]}, ["1", "2"], ["1", "4"]),
    ({"expect": "column_to_exist", "column": "v"}, ["1", "2"], None),
    ({"expect": "table_row_count_to_be_between", "min": 2}, ["1", "2"], ["1"]),
    ({"expect": "table_row_count_to_equal", "value": 2}, ["1", "2"], ["1", "2", "3"]),
    ({"expect": "table_column_count_to_equal", "value": 2}, ["1", "2"], None),
    ({"expect": "table_column_count_to_be_between", "max": 2}, ["1", "2"], None),
    ({"expect": "table_columns_to_match_set", "values": ["v", "s"]}, ["1", "2"], None),
]


def test_the_check_knows_every_expectation_the_spec_language_accepts():
    from mlspec.check.references import EXPECTATION_FIELDS

    assert set(EXPECTATION_FIELDS) <= set(user_data.RULES)
    assert {e[0]["expect"] for e in EXPECTATIONS} == set(EXPECTATION_FIELDS)


@pytest.mark.parametrize("expectation,good,bad", EXPECTATIONS, ids=[e[0]["expect"] for e in EXPECTATIONS])
def test_each_expectation_passes_data_that_meets_it_and_names_data_that_breaks_it(tmp_path, expectation, good, bad):
    columns = {"v": {"type": "int64"}, "s": {"type": "string"}}

    def csv(values):
        column = "s" if expectation.get("column") == "s" else "v"
        other = "1" if column == "s" else "a"
        return "v,s\n" + "".join(f"{value},{other}\n" if column == "v" else f"{other},{value}\n" for value in values)

    datasets = {"d": file_dataset(columns, [expectation])}
    assert check(tmp_path, datasets, {"d.csv": csv(good)}) == []
    if bad is None:  # a column or table shape: broken by a file without the column, or with one more
        broken = {"column_to_exist": "s\na\nb\n", "table_columns_to_match_set": "v,s,t\n1,a,x\n2,b,y\n",
                  "table_column_count_to_equal": "v,s,t\n1,a,x\n2,b,y\n",
                  "table_column_count_to_be_between": "v,s,t\n1,a,x\n2,b,y\n"}[expectation["expect"]]
    else:
        broken = csv(bad)
    (tmp_path / "bad").mkdir()
    problems = check(tmp_path / "bad", datasets, {"d.csv": broken})
    assert problems, f"{expectation} passed {broken!r}"
    if expectation["expect"] == "column_to_exist":  # a declared column: named where it is declared
        line = line_of(tmp_path / "bad" / "spec.yaml", "v:")
    else:
        line = line_of(tmp_path / "bad" / "spec.yaml", "- expect: " + expectation["expect"])
    assert any(f"spec.yaml:{line}:" in p for p in problems), problems


def test_mostly_allows_the_share_of_rows_it_names(tmp_path):
    rule = {"expect": "column_values_to_be_between", "column": "v", "max": 5, "mostly": 0.8}
    datasets = {"d": file_dataset({"v": {"type": "int64"}}, [rule])}
    assert check(tmp_path, datasets, {"d.csv": "v\n" + "1\n" * 8 + "9\n9\n"}) == []
    (tmp_path / "more").mkdir()
    problems = check(tmp_path / "more", datasets, {"d.csv": "v\n" + "1\n" * 7 + "9\n9\n9\n"})
    assert problems and "3 of 10 rows break it; `mostly: 0.8` allows 2" in problems[0]


def test_a_csv_source_is_read_with_its_own_delimiter_and_header(tmp_path):
    dataset = file_dataset({"id": {"type": "int64"}, "name": {"type": "string"}}, fmt="csv")
    dataset["source"]["csv"] = {"delimiter": ";", "header": False}
    assert check(tmp_path, {"d": dataset}, {"d.csv": "1;007\n2;b\n"}) == []


# --- DIR is untrusted ----------------------------------------------------------------------------------


def test_links_subfolders_and_unknown_names_are_refused(tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("id\n1\n")
    folder = tmp_path / "data"
    folder.mkdir()
    os.symlink(outside, folder / "customers.csv")
    (folder / "orders").mkdir()
    (folder / "customer.parquet").write_bytes(b"")
    (folder / "notes.txt").write_text("x")
    (folder / ".DS_Store").write_bytes(b"")
    spec = spec_file(tmp_path, {"customers": file_dataset({"id": {"type": "int64"}})})
    unit, place = load(spec)
    with pytest.raises(DataError) as raised:
        read_user_data(folder, unit.project.base, place)
    problems = raised.value.problems
    assert any(p.startswith(f"{folder}/customers.csv: a link") for p in problems), problems
    assert any(p.startswith(f"{folder}/orders: a folder") for p in problems)
    assert any(p.startswith(f"{folder}/customer.parquet: no dataset with a source is named `customer`")
               and "customers" in p for p in problems)
    assert any(p.startswith(f"{folder}/notes.txt: not a data file") for p in problems)
    assert len(problems) == 4  # .DS_Store is left alone


def test_two_files_for_one_dataset_a_file_too_large_and_a_missing_folder(tmp_path, monkeypatch):
    from mlspec.errors import UsageError

    datasets = {"d": file_dataset({"id": {"type": "int64"}})}
    problems = check(tmp_path, datasets, {"d.csv": "id\n1\n", "d.parquet": b"PAR1"})
    assert any("a second file for dataset `d`" in p for p in problems), problems
    monkeypatch.setattr(user_data, "MAX_FILE_BYTES", 10)
    (tmp_path / "big").mkdir()
    problems = check(tmp_path / "big", datasets, {"d.csv": "id\n" + "1\n" * 20})
    assert problems == [f"{tmp_path}/big/data/d.csv: 43 bytes; a file of --data is at most 10 bytes"]
    unit, place = load(tmp_path / "spec.yaml")
    with pytest.raises(UsageError):
        read_user_data(tmp_path / "nowhere", unit.project.base, place)


SQL_DATASETS = {"orders": {
    "source": {"sql": "SELECT id, amount, ordered_at FROM shop.orders WHERE ordered_at >= '{{ ds }}'",
               "connection": "warehouse"},
    "storage": "s3://raw-data/orders/",
    "columns": {"id": {"type": "int64", "nullable": False}, "amount": {"type": "float64", "min": 0},
                "ordered_at": {"type": "timestamp"}}}}
TABLE = "CREATE SCHEMA shop;\nCREATE TABLE shop.orders (id BIGINT, amount DOUBLE, ordered_at TIMESTAMP);\n"


@pytest.mark.parametrize("statement", [
    "ATTACH '/tmp/other.db' AS other",
    "COPY shop.orders FROM '/etc/passwd'",
    "COPY shop.orders TO '/tmp/out.csv'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA enable_profiling",
    "SET enable_external_access = true",
    "INSERT INTO shop.orders SELECT * FROM read_csv('/etc/passwd')",
    "INSERT INTO shop.orders VALUES (1, length(read_text('/etc/passwd')), NULL)",
    "INSERT INTO shop.orders VALUES ((SELECT 1), 2, NULL)",
    "CREATE TABLE shop.copy AS SELECT * FROM shop.orders",
    "CREATE VIEW shop.v AS SELECT 1",
    "CREATE MACRO m(x) AS x",
    "CREATE TABLE other.shop.t (id INT)",
    "DROP TABLE shop.orders",
    "SELECT * FROM read_text('/etc/passwd')",
    "CREATE TABLE shop.t (id INT DEFAULT nextval('seq'))",
])
def test_a_dump_holds_only_create_table_and_insert_of_constants(tmp_path, statement):
    dump = TABLE + "INSERT INTO shop.orders VALUES (1, 2.5, '2024-01-05 10:00:00');\n" + statement + ";\n"
    problems = check(tmp_path, SQL_DATASETS, {"warehouse.sql": dump})
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path}/data/warehouse.sql:4: `"), problems
    assert "a dump of --data holds only CREATE SCHEMA, CREATE TABLE" in problems[0]


def test_a_dump_fills_its_connection_and_sets_the_run_date_its_queries_return_rows_on(tmp_path):
    dump = TABLE + ("INSERT INTO shop.orders VALUES (1, 2.5, '2024-01-05 10:00:00'),"
                    " (2, 0, TIMESTAMP '2024-01-07 08:00:00');\n")
    spec = spec_file(tmp_path, SQL_DATASETS)
    unit, place = load(spec)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "warehouse.sql").write_text(dump)
    own = read_user_data(tmp_path / "data", unit.project.base, place)
    assert own.day.isoformat() == "2024-01-05"
    assert list(own.datasets["orders"].frame["id"]) == [1, 2]
    assert own.synthetic == ()


def test_a_dump_whose_rows_break_a_rule_names_the_query_row_and_the_rule(tmp_path):
    dump = TABLE + "INSERT INTO shop.orders VALUES (1, -2.5, '2024-01-05 10:00:00');\n"
    problems = check(tmp_path, SQL_DATASETS, {"warehouse.sql": dump})
    line = line_of(tmp_path / "spec.yaml", "amount:") + 2  # its `min`
    assert len(problems) == 1 and problems[0].startswith(
        f"{tmp_path}/data/warehouse.sql (`orders`'s query, row 1): dataset `orders`, column `amount` breaks `min: 0`"), \
        problems
    assert f"spec.yaml:{line}:" in problems[0]


def test_a_dump_missing_the_table_a_query_reads_is_named_at_the_query(tmp_path):
    dump = "CREATE TABLE orders (id BIGINT, ordered_at TIMESTAMP);\nINSERT INTO orders VALUES (1, '2024-01-01');\n"
    problems = check(tmp_path, SQL_DATASETS, {"warehouse.sql": dump})
    line = line_of(tmp_path / "spec.yaml", "sql:")
    assert len(problems) == 1 and "dataset `orders`: its query" in problems[0], problems
    assert f"spec.yaml:{line}:" in problems[0]


def test_a_file_and_a_dump_for_the_same_sql_dataset_are_refused(tmp_path):
    dump = TABLE + "INSERT INTO shop.orders VALUES (1, 2.5, '2024-01-05 10:00:00');\n"
    problems = check(tmp_path, SQL_DATASETS, {"warehouse.sql": dump,
                                              "orders.csv": "id,amount,ordered_at\n1,2,2024-01-01\n"})
    assert any("give one or the other" in p for p in problems), problems


# --- what the run's sources hold -------------------------------------------------------------------


def test_the_run_reads_the_users_rows_in_the_sources_declared_format_and_keeps_the_sample_elsewhere(tmp_path):
    import duckdb
    import pandas as pd

    from mlspec.local.data import write_sources
    from mlspec.local.workspace import prepare_workspace

    customers = file_dataset({"id": {"type": "int64"}, "code": {"type": "string"}}, fmt="csv")
    customers["source"]["csv"] = {"delimiter": ";"}
    events = file_dataset({"id": {"type": "int64"}, "at": {"type": "timestamp"}}, fmt="json")
    events["source"]["json"] = {"lines": True}
    other = file_dataset({"id": {"type": "int64"}})
    spec = spec_file(tmp_path, {"customers": customers, "events": events, "other": other, **SQL_DATASETS})
    unit, place = load(spec)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "customers.csv").write_text("id;code\n1;007\n2;x\n")
    pd.DataFrame({"id": [5, 6], "at": pd.to_datetime(["2024-02-01", "2024-02-02"])}).to_parquet(folder / "events.parquet")
    (folder / "warehouse.sql").write_text(TABLE + "INSERT INTO shop.orders VALUES (1, 2.5, '2024-01-05 10:00:00');\n")
    own = read_user_data(folder, unit.project.base, place)
    assert own.synthetic == ("other",)
    assert "data: synthetic sample for other" in own.notes[-2]

    workspace = prepare_workspace(spec, tmp_path / "work")
    sources = write_sources(workspace.system, workspace.databases, rows=50, where=workspace.where,
                            locate=workspace.sql_place, own=own)
    assert sources.files["customers"].read_text() == "id;code\n1;007\n2;x\n"  # the user's file as it is
    events_written = pd.read_json(sources.files["events"], lines=True)
    assert list(events_written["id"]) == [5, 6]
    assert len(pd.read_parquet(sources.files["other"])) == 50  # the sample
    with duckdb.connect(str(sources.databases["warehouse"]), read_only=True) as db:
        assert db.execute("SELECT id, amount FROM shop.orders").fetchall() == [(1, 2.5)]
    assert sources.day.isoformat() == "2024-01-05"


def test_a_failed_gate_on_synthetic_data_says_so_and_names_the_files_to_bring(tmp_path):
    from mlspec.local.user_data import synthetic_note

    spec = Path(__file__).resolve().parents[3] / "specs" / "customer-churn.yaml"
    unit = load_unit(spec)
    system = unit.project.base
    model = system.models[0]
    note = synthetic_note(system, model, ())
    assert "synthetic data" in note and "`--data DIR`" in note
    assert "customers.parquet or customers.csv (or warehouse.sql" in note
    assert "customer_activity.parquet or customer_activity.csv" in note
    assert synthetic_note(system, model, ("customers", "customer_activity")) == ""
    assert "customers" not in synthetic_note(system, model, ("customers",)).split("for ")[1].split(")")[0]


def test_the_train_stage_says_when_a_gate_failed_on_synthetic_data(tmp_path, monkeypatch):
    import subprocess

    from mlspec.local.airflow_home import TaskRun
    from mlspec.local.stages import LocalRun
    from mlspec.local.workspace import Workspace

    spec = Path(__file__).resolve().parents[3] / "specs" / "customer-churn.yaml"
    system = load_unit(spec).project.base

    class GateFails:  # the training DAG's pipeline failing at its gate step, as kfp's local runner logs it
        def dags_test(self, dag_id, date, env, log, timeout=0, progress=None):
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("ValueError: gate roc_auc >= 0.8 failed: 0.49\n"
                           "Task 'churn-pipeline' finished with status FAILURE. Inner task failed: 'evaluate-model'.\n")
            return subprocess.CompletedProcess([], 1, "", "")

        def task_runs(self, dag_id):
            return {"run_pipeline": TaskRun("run_pipeline", "failed", 1.0)}

    monkeypatch.setattr(LocalRun, "_prepare_experiment", lambda self, model: None)
    workspace = Workspace(tmp_path, spec, tmp_path / "spec.yaml", tmp_path / "generated" / system.name, system, {})
    run = LocalRun(workspace, GateFails())
    detail = run.training()["train"].detail
    assert "pipeline step `evaluate-model`" in detail
    assert "synthetic data (mlspec's sample for customers, customer_activity)" in detail
    assert "run again with `--data DIR`, DIR holding customers.parquet or customers.csv" in detail
    import dataclasses

    run = dataclasses.replace(run, own_data=("customers", "customer_activity"))  # both from --data: real data
    assert "synthetic" not in run.training()["train"].detail


def test_a_file_for_a_sql_source_must_hold_rows_its_query_returns_on_the_run_date(tmp_path):
    rows = "id,amount,ordered_at\n1,2.5,2024-01-05 10:00:00\n2,1.0,2024-01-06 10:00:00\n"
    assert check(tmp_path, SQL_DATASETS, {"orders.csv": rows}) == []  # the run's date is the first row's day
    weekly = {"orders": dict(SQL_DATASETS["orders"], source={
        "sql": "SELECT id, amount, ordered_at FROM shop.orders WHERE ordered_at = '{{ ds }}'",
        "connection": "warehouse"})}
    (tmp_path / "weekly").mkdir()
    problems = check(tmp_path / "weekly", weekly, {"orders.csv": rows})
    line = line_of(tmp_path / "weekly" / "spec.yaml", "sql:")
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path}/weekly/data/orders.csv: dataset `orders`: its"
                                                         f" query (at spec.yaml:{line}:"), problems
    assert "cannot return the file's rows as they are on the logical date 2024-01-05" in problems[0]
    assert "or a dump of the tables it reads (warehouse.sql)" in problems[0]
