"""The local run fills every table a SQL source's query reads so that the query, rendered as
Airflow renders it for the run's logical date, returns the sample's rows: join keys match
across tables (also through CTEs and subqueries), WHERE conditions hold, each side of a UNION
has its share; a condition no row meets is a located error naming it. Each query runs in DuckDB
over the filled tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from mlspec.compiler.session import load_unit
from mlspec.errors import SpecError
from mlspec.local.data import write_sources
from mlspec.local.database import fill_sql_sources
from mlspec.local.query_fill import Unsatisfiable, fill_query
from mlspec.spec.sql import AIRFLOW_DATE_VARIABLES, airflow_date_values, render_with

CASES = Path(__file__).resolve().parents[2] / "cases" / "local"


def sample(rows: int = 6) -> pd.DataFrame:
    return pd.DataFrame({"store_id": np.arange(1, rows + 1) % 4 + 1,
                         "week_start": pd.to_datetime(["2024-01-01"] * rows),
                         "units": np.arange(rows, dtype="float64") * 10,
                         "region": ["north", "south", "east"] * (rows // 3)})


def run(sql: str, frame: pd.DataFrame, dialect: str | None = None) -> pd.DataFrame:
    filled = fill_query(sql, dialect, frame)
    with duckdb.connect() as db:
        for ref, table in filled.frames().items():
            if ref.db:
                db.execute(f'CREATE SCHEMA IF NOT EXISTS "{ref.db}"')
            db.register("t", table)
            db.execute(f"CREATE TABLE {'.'.join(f'{chr(34)}{p}{chr(34)}' for p in (ref.db, ref.name) if p)}"
                       f" AS SELECT * FROM t")
            db.unregister("t")
        return db.execute(sql).df()


QUERIES = {
    "one table": "SELECT store_id, week_start, units, region FROM sales",
    "star": "SELECT * FROM sales.weekly WHERE week_start >= '2024-01-01'",
    "join with where": ("SELECT s.store_id, s.week_start, s.units, st.region FROM sales s"
                        " JOIN stores st ON s.store_id = st.store_id"
                        " WHERE s.week_start = '2024-01-08' AND st.active = TRUE"),
    "join using, qualified star": ("SELECT s.*, st.region FROM sales s JOIN stores st USING (store_id)"
                                   " WHERE st.kind IN ('a', 'b') AND st.opened < DATE '2024-01-01'"),
    "left join, comma join": ("SELECT s.store_id, s.week_start, s.units, r.region FROM sales s, regions r"
                              " WHERE s.region_id = r.region_id AND r.region_id BETWEEN 3 AND 9"),
    "three tables": ("SELECT s.store_id, s.week_start, s.units, r.region FROM sales s"
                     " JOIN stores st ON st.store_id = s.store_id JOIN regions r ON r.region_id = st.region_id"
                     " WHERE r.country = 'DE' AND st.size > 100"),
    "cte": ("WITH w AS (SELECT store_id, week_start, units FROM sales WHERE day BETWEEN '2024-01-01' AND"
            " '2024-01-07') SELECT w.*, r.region FROM w JOIN stores r ON r.store_id = w.store_id"
            " WHERE r.kind <> 'closed'"),
    "cte with aggregate": ("WITH t AS (SELECT store_id, SUM(amount) AS units FROM orders WHERE ordered_at >="
                           " '2024-01-01 00:00:00+00:00' GROUP BY store_id) SELECT s.store_id, s.week_start,"
                           " t.units, s.region FROM sales s JOIN t ON t.store_id = s.store_id"),
    "subquery in from": ("SELECT x.store_id, x.week_start, x.units, x.region FROM (SELECT * FROM sales"
                         " WHERE units >= 0) AS x WHERE x.region LIKE 'n%' OR x.region = 'south'"),
    "in subquery": ("SELECT * FROM sales WHERE store_id IN (SELECT store_id FROM stores WHERE active)"
                    " AND units < 1000"),
    "union all": ("SELECT store_id, week_start, units, region FROM sales_eu WHERE region = 'north'"
                  " UNION ALL SELECT store_id, week_start, units, region FROM sales_us"),
    "union in a cte": ("WITH u AS (SELECT store_id, week_start, units FROM sales_eu UNION ALL SELECT store_id,"
                       " week_start, units FROM sales_us) SELECT u.store_id, u.week_start, u.units, r.region FROM u"
                       " JOIN regions r ON r.store_id = u.store_id WHERE r.open"),
    "ds_nodash and interval": ("SELECT * FROM sales WHERE day_key = '20240108' AND"
                               " week_start < '2024-01-08 00:00:00+00:00'"),
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_the_query_returns_the_rows_of_the_sample(name):
    frame = sample()
    out = run(QUERIES[name], frame)
    assert set(out["store_id"]) == set(frame["store_id"])
    if name == "union in a cte":  # each side of a UNION below the top holds every row: each comes twice
        assert sorted(out["units"]) == sorted([*frame["units"], *frame["units"]])
        return
    assert len(out) == len(frame), out
    if name not in ("cte with aggregate",):
        assert sorted(out["units"]) == sorted(frame["units"]) or name == "in subquery"


def test_joined_tables_hold_one_row_per_key_and_the_first_table_every_row():
    filled = fill_query(QUERIES["join with where"], None, sample(12)).frames()
    tables = {ref.name: table for ref, table in filled.items()}
    assert len(tables["s"] if "s" in tables else tables["sales"]) == 12
    stores = tables["stores"]
    assert stores["store_id"].is_unique and set(stores["store_id"]) == set(sample(12)["store_id"])
    assert stores["active"].all()


def test_a_condition_keeps_the_sample_values_it_accepts():
    frame = sample()
    out = run("SELECT * FROM sales WHERE units >= 20", frame)
    assert sorted(out["units"]) == [20.0, 20.0, 20.0, 30.0, 40.0, 50.0]


@pytest.mark.parametrize("sql, named", [
    ("SELECT * FROM sales WHERE units > 5 AND units < 3", "`units > 5` AND `units < 3`"),
    ("SELECT * FROM sales WHERE region = 'a' AND region = 'b'", "`region = 'b'`"),
    ("SELECT * FROM sales s JOIN t ON s.store_id = t.store_id WHERE t.day > '2024-01-08' AND"
     " t.day <= '2024-01-08'", "`t.day > '2024-01-08'`"),
])
def test_a_condition_no_row_meets_is_named_with_its_place(sql, named):
    with pytest.raises(Unsatisfiable) as caught:
        fill_query(sql, None, sample())
    assert named in str(caught.value)
    assert caught.value.offset == sql.index(named.split("`")[1])


def test_airflow_values_for_a_logical_date_render_as_airflow_renders_them():
    values = airflow_date_values(dt.datetime(2024, 1, 1))
    assert set(values) == set(AIRFLOW_DATE_VARIABLES)
    # the same text as the sample values of a daily run, but for the empty interval of a manual run
    assert {k: v for k, v in values.items() if k != "data_interval_end"} == \
        {k: v for k, v in AIRFLOW_DATE_VARIABLES.items() if k != "data_interval_end"}
    assert values["data_interval_end"] == "2024-01-01 00:00:00+00:00"
    text, shifts = render_with("SELECT 1 WHERE d = '{{ ds }}' AND e = '{{ds_nodash}}'", values)
    assert text == "SELECT 1 WHERE d = '2024-01-01' AND e = '20240101'"
    assert shifts == [(20, 20, -2), (41, 39, 5)]  # (rendered start, template start, change)


def _system(tmp_path):
    from dataclasses import replace

    from mlspec.ir.model import IRFileSource

    system = load_unit(CASES / "demand-forecast.yaml").project.base
    return replace(system, datasets=tuple(
        replace(d, source=IRFileSource(str(tmp_path / f"{d.name}.parquet"), "parquet")) if d.source.kind == "file"
        else d for d in system.datasets))


def test_the_demand_forecast_queries_return_rows_for_the_runs_week(tmp_path):
    """A join on `week_start = '{{ ds }}'` and a CTE over orders: both queries, rendered for the
    run's logical date, return the sample's rows from the DuckDB file the run writes."""
    system = _system(tmp_path)
    sources = write_sources(system, tmp_path / "databases", rows=300, when=dt.datetime(2026, 1, 5, 12))
    values = airflow_date_values(dt.datetime.combine(sources.day, dt.time()))
    with duckdb.connect(str(sources.databases["warehouse"]), read_only=True) as db:
        tables = {r[0] for r in db.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables()").fetchall()}
        assert tables == {"sales.weekly", "sales.stores", "main.orders", "main.stores_dim"}
        for dataset in system.datasets:
            rendered, _ = render_with(dataset.source.sql, values)
            rows = db.execute(rendered).df()
            assert len(rows) > 0, dataset.name
            if dataset.name == "weekly_sales":
                assert len(rows) == len(sources.frames["weekly_sales"])
                assert (rows["week_start"] == pd.Timestamp(values["ds"])).all()
                assert set(rows["region"]) <= {"north", "south", "east"}


def test_an_impossible_week_is_an_error_at_the_querys_place_in_the_spec(tmp_path):
    from dataclasses import replace

    system = _system(tmp_path)
    sql = system.datasets[0].source.sql.replace("st.active = TRUE", "s.week_start < '2000-01-01'")
    system = replace(system, datasets=(replace(system.datasets[0], source=replace(system.datasets[0].source,
                                                                                  sql=sql)),))
    with pytest.raises(SpecError) as caught:
        fill_sql_sources(system, {"weekly_sales": sample()}, dt.date(2026, 1, 5),
                         lambda name, offset: f"spec.yaml@{name}:{offset}")
    message = str(caught.value)
    offset = sql.index("s.week_start = ")
    assert f"spec.yaml@weekly_sales:{offset}: dataset `weekly_sales`: no value meets `s.week_start = '2026-01-05'`" \
        in message
    assert "`{{ ds }}` = '2026-01-05'" in message


def test_a_place_in_a_query_is_a_line_and_column_of_the_spec(tmp_path):
    """Workspace.sql_place: block scalars (`|`), quoted and plain one-line queries."""
    from types import SimpleNamespace

    from mlspec.local.workspace import Workspace, query_places
    from mlspec.source.loader import load_spec_text

    text = ("datasets:\n"
            "  block:\n"
            "    source:\n"
            "      sql: |\n"
            "        SELECT *\n"
            "        FROM t WHERE d = '{{ ds }}'\n"
            "      connection: db\n"
            "  quoted:\n"
            "    source: {sql: \"SELECT * FROM t WHERE x > 1\", connection: db}\n"
            "  plain:\n"
            "    source: {sql: SELECT a FROM t WHERE y = 2, connection: db}\n")
    source, _ = load_spec_text(text, "spec.yaml")  # the loader every command reads a spec with
    queries = {name: SimpleNamespace(name=name, source=SimpleNamespace(sql=d["source"]["sql"]))
               for name, d in source.data["datasets"].items()}
    workspace = Workspace(tmp_path, Path("spec.yaml"), tmp_path / "copy.yaml", tmp_path, SimpleNamespace(
        datasets=tuple(queries.values())), {}, source.positions, queries=query_places(source.positions, text))
    lines = text.splitlines()

    def at(line: int, snippet: str) -> str:  # 1-based line, and the column the snippet starts at
        return f"spec.yaml:{line}:{lines[line - 1].index(snippet) + 1}"

    block = queries["block"].source.sql
    assert workspace.sql_place("block", block.index("d =")) == at(6, "d =")
    assert workspace.sql_place("block", 0) == at(5, "SELECT")
    assert workspace.sql_place("quoted", queries["quoted"].source.sql.index("x >")) == at(9, "x >")
    assert workspace.sql_place("plain", queries["plain"].source.sql.index("y =")) == at(11, "y =")
