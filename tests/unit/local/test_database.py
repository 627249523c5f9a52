"""The embedded database of `mlspec run --local`: the table a SQL source's query reads, the
sample rows written there (so that the query, rendered for the ingestion run's date, keeps
them all), and the AIRFLOW_CONN_<ID> variable Airflow finds the connection by."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest

from conftest import SPECS
from mlspec.compiler.session import load_unit
from mlspec.errors import SpecError
from mlspec.ir.model import IRFileSource, IRSqlSource
from mlspec.local.data import write_sources
from mlspec.local.database import (Table, connection_env, connection_uri, date_columns, sql_tables,
                                   table_reference, write_tables)


@pytest.mark.parametrize("sql, table", [
    ("SELECT customer_id, age, age_group, churn, event_timestamp FROM customers", ("customers",)),
    ("SELECT * FROM payments.transactions WHERE created_at >= '{{ ds }}'", ("payments", "transactions")),
    ("select * from Payments . Transactions;", ("Payments", "Transactions")),
    ('SELECT * FROM "My Schema"."odd ""name"""', ("My Schema", 'odd "name"')),
    ("SELECT EXTRACT(day FROM ts) AS d FROM events t -- FROM archive", ("events",)),
    ("SELECT 'a FROM b, c' AS s FROM t /* JOIN u */ ORDER BY a, b", ("t",)),
    ("SELECT a FROM t UNION ALL SELECT a FROM t", ("t",)),
])
def test_the_one_table_a_query_reads(sql, table):
    assert table_reference(sql) == table


@pytest.mark.parametrize("sql, why", [
    ("SELECT * FROM a JOIN b ON a.id = b.id", "it joins tables"),
    ("SELECT * FROM a, b WHERE a.id = b.id", "its FROM lists several tables"),
    ("SELECT * FROM (SELECT * FROM a) s", "it has a subquery or a WITH clause"),
    ("WITH s AS (SELECT 1) SELECT * FROM s", "it has a subquery or a WITH clause"),
    ("SELECT 1", "it has no FROM"),
    ("SELECT a FROM t UNION SELECT a FROM u", "it reads 2 tables (t, u)"),
    ("SELECT * FROM analytics.public.customers", "`analytics.public.customers` names a database (catalog)"
                                                 " besides the schema"),
])
def test_why_a_query_has_no_one_table(sql, why):
    assert table_reference(sql) == why


def test_an_undeclared_column_compared_with_ds_is_a_date_column():
    assert date_columns("SELECT * FROM customer_activity WHERE day = '{{ ds }}'", {"customer_id"}) == ("day",)
    assert date_columns('SELECT * FROM t WHERE t."day" >= \'{{ds}}\' AND d <= \'{{ ds }}\'', {"d"}) == ("day",)
    assert date_columns("SELECT * FROM payments.transactions WHERE created_at >= '{{ ds }}'", {"created_at"}) == ()


def _system(*datasets):
    return SimpleNamespace(datasets=tuple(SimpleNamespace(name=n, source=s, columns=tuple(
        SimpleNamespace(name=c) for c in columns)) for n, s, columns in datasets))


def test_each_sql_dataset_gets_its_table_in_its_connection():
    system = _system(
        ("customers", IRSqlSource("SELECT * FROM customers", "warehouse"), ["customer_id"]),
        ("activity", IRSqlSource("SELECT * FROM customer_activity WHERE day = '{{ ds }}'", "warehouse"), ["x"]),
        ("transactions", IRSqlSource("SELECT * FROM payments.transactions", "payments_db"), []),
        ("files", IRFileSource("s3://landing/x/", "parquet"), []),
        ("none", None, []))
    assert sql_tables(system) == {
        "customers": Table("warehouse", None, "customers"),
        "activity": Table("warehouse", None, "customer_activity", ("day",)),
        "transactions": Table("payments_db", "payments", "transactions"),
    }


def test_every_sql_source_without_one_table_is_named_with_its_spec_line():
    system = _system(("a", IRSqlSource("SELECT * FROM x JOIN y ON x.i = y.i", "db"), []),
                     ("b", IRSqlSource("SELECT * FROM ok", "db"), []),
                     ("c", IRSqlSource("SELECT 1", "db"), []))
    with pytest.raises(SpecError) as raised:
        sql_tables(system, where=lambda key: f"spec.yaml:{ {'datasets.a.source': 7, 'datasets.c.source': 19}[key]}")
    message = str(raised.value)
    assert "spec.yaml:7: dataset `a`: cannot tell which table its query reads (it joins tables)" in message
    assert "spec.yaml:19: dataset `c`: cannot tell which table its query reads (it has no FROM)" in message
    assert "`b`" not in message and "`FROM table` or `FROM schema.table`" in message


def test_the_rows_are_written_where_the_query_reads_them(tmp_path):
    frames = {"activity": pd.DataFrame({"customer_id": [1, 2, 3], "spend": [1.5, None, 2.0]}),
              "transactions": pd.DataFrame({"id": ["t1", "t2"],
                                            "created_at": pd.to_datetime(["2026-01-02 01:00", "2026-01-02 02:00"])})}
    tables = {"activity": Table("warehouse", None, "customer_activity", ("day",)),
              "transactions": Table("payments_db", "payments", "transactions")}
    (tmp_path / "warehouse.duckdb").write_text("a stale file")  # made anew
    written = write_tables(frames, tables, tmp_path, dt.date(2026, 1, 2))
    assert written == {"warehouse": tmp_path / "warehouse.duckdb", "payments_db": tmp_path / "payments_db.duckdb"}
    with duckdb.connect(str(written["warehouse"]), read_only=True) as db:
        rows = db.execute("SELECT customer_id, spend, day FROM customer_activity WHERE day = '2026-01-02'"
                          " ORDER BY customer_id").fetchall()
    assert rows == [(1, 1.5, dt.date(2026, 1, 2)), (2, None, dt.date(2026, 1, 2)), (3, 2.0, dt.date(2026, 1, 2))]
    with duckdb.connect(str(written["payments_db"]), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM payments.transactions WHERE created_at >= '2026-01-02'"
                          ).fetchone() == (2,)


def test_the_connection_env_points_each_connection_at_its_file(tmp_path):
    system = _system(("a", IRSqlSource("SELECT * FROM a", "warehouse"), []),
                     ("b", IRSqlSource("SELECT * FROM b", "warehouse"), []),
                     ("c", IRSqlSource("SELECT * FROM c", "payments_db"), []),
                     ("d", IRFileSource("/x.parquet", "parquet"), []))
    folder = tmp_path / "Work Dir" / "databases"
    env = connection_env(system, folder)
    assert env == {"AIRFLOW_CONN_PAYMENTS_DB": connection_uri(folder / "payments_db.duckdb"),
                   "AIRFLOW_CONN_WAREHOUSE": connection_uri(folder / "warehouse.duckdb")}
    assert env["AIRFLOW_CONN_WAREHOUSE"].startswith("duckdb://%2F") and " " not in env["AIRFLOW_CONN_WAREHOUSE"]


def test_airflow_reads_the_uri_as_a_duckdb_connection_to_the_file(tmp_path):
    """The host keeps its case and spaces: Airflow parses a host with `/` from the raw netloc."""
    definitions = pytest.importorskip("airflow.sdk.definitions.connection")
    path = tmp_path / "Work Dir" / "warehouse.duckdb"
    connection = definitions.Connection.from_uri(connection_uri(path), conn_id="warehouse")
    assert (connection.conn_type, connection.host) == ("duckdb", str(path))


def test_a_sample_after_midnight_is_ingested_on_the_day_it_starts(tmp_path):
    """Labels two hours before 00:00 stand yesterday: the ingestion runs' date is that day, so
    `created_at >= '{{ ds }}'` keeps every row."""
    system = load_unit(SPECS / "payments-risk.yaml").project.base
    system = replace(system, datasets=tuple(  # file sources in tmp_path, as the work folder's spec copy has them
        replace(d, source=IRFileSource(str(tmp_path / f"{d.name}.parquet"), "parquet")) if d.source.kind == "file"
        else d for d in system.datasets))
    sources = write_sources(system, tmp_path / "databases", rows=200, when=dt.datetime(2026, 1, 2, 0, 0))
    assert sources.day == dt.date(2026, 1, 1)
    assert sources.tables == {"transactions": Table("payments_db", "payments", "transactions")}
    assert set(sources.databases) == {"payments_db"}
    sql = next(d.source.sql for d in system.datasets if d.name == "transactions")
    with duckdb.connect(str(sources.databases["payments_db"]), read_only=True) as db:
        kept = db.execute(f"SELECT count(*) FROM ({sql.replace('{{ ds }}', sources.day.isoformat())})").fetchone()[0]
        total = db.execute("SELECT count(*) FROM payments.transactions").fetchone()[0]
    assert kept == total >= 200
    assert sources.files == {n: tmp_path / f"{n}.parquet" for n in ("card_stats", "merchant_stats")}
    assert sources.databases["payments_db"] == tmp_path / "databases" / "payments_db.duckdb"
