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
from mlspec.local.database import Table, connection_env, connection_uri, fill_sql_sources, write_tables


def _system(*datasets):
    return SimpleNamespace(datasets=tuple(SimpleNamespace(name=n, source=s, columns=tuple(
        SimpleNamespace(name=c) for c in columns)) for n, s, columns in datasets))


def test_the_tables_are_written_where_the_queries_read_them_and_each_query_is_run(tmp_path):
    system = _system(
        ("activity", IRSqlSource("SELECT customer_id, spend FROM customer_activity WHERE day = '{{ ds }}'",
                                 "warehouse"), ["customer_id", "spend"]),
        ("transactions", IRSqlSource("SELECT * FROM payments.transactions WHERE created_at >= '{{ ds }}'",
                                     "payments_db"), ["id", "created_at"]))
    frames = {"activity": pd.DataFrame({"customer_id": [1, 2, 3], "spend": [1.5, None, 2.0]}),
              "transactions": pd.DataFrame({"id": ["t1", "t2"],
                                            "created_at": pd.to_datetime(["2026-01-02 01:00", "2026-01-02 02:00"])})}
    samples = fill_sql_sources(system, frames, dt.date(2026, 1, 2), lambda name, offset: name)
    assert {t for s in samples.values() for t in s.frames} == {
        Table("warehouse", None, "customer_activity"), Table("payments_db", "payments", "transactions")}
    (tmp_path / "warehouse.duckdb").write_text("a stale file")  # made anew
    written = write_tables(samples, tmp_path)
    assert written == {"warehouse": tmp_path / "warehouse.duckdb", "payments_db": tmp_path / "payments_db.duckdb"}
    with duckdb.connect(str(written["warehouse"]), read_only=True) as db:
        rows = db.execute("SELECT customer_id, spend, day FROM customer_activity WHERE day = '2026-01-02'"
                          " ORDER BY customer_id").fetchall()
    assert rows == [(1, 1.5, dt.date(2026, 1, 2)), (2, None, dt.date(2026, 1, 2)), (3, 2.0, dt.date(2026, 1, 2))]
    with duckdb.connect(str(written["payments_db"]), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM payments.transactions WHERE created_at >= '2026-01-02'"
                          ).fetchone() == (2,)


def test_a_query_that_returns_no_row_is_an_error_naming_what_it_could_not_read(tmp_path):
    system = _system(("a", IRSqlSource("SELECT x FROM t WHERE lower(name) = 'zz'", "db"), ["x"]))
    samples = fill_sql_sources(system, {"a": pd.DataFrame({"x": [1, 2]})}, dt.date(2026, 1, 2),
                               lambda name, offset: f"spec.yaml:{offset}")
    with pytest.raises(SpecError) as raised:
        write_tables(samples, tmp_path, lambda name: f"spec.yaml:9 ({name})")
    assert ("spec.yaml:9 (a): dataset `a`: its query returns no row from the tables filled with the sample; the"
            " conditions it could not make hold: `LOWER(name) = 'zz'` (spec.yaml:28)") in str(raised.value)


def test_a_table_in_another_database_is_named_with_its_place(tmp_path):
    system = _system(("a", IRSqlSource("SELECT x FROM analytics.public.customers", "db"), ["x"]))
    with pytest.raises(SpecError) as raised:
        fill_sql_sources(system, {"a": pd.DataFrame({"x": [1]})}, dt.date(2026, 1, 2), lambda n, o: "spec.yaml:4:13")
    assert ("spec.yaml:4:13: dataset `a`: `analytics.public.customers` names a database (catalog) besides the"
            " schema") in str(raised.value)


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
    assert list(sources.tables["transactions"].frames) == [Table("payments_db", "payments", "transactions")]
    assert set(sources.databases) == {"payments_db"}
    sql = next(d.source.sql for d in system.datasets if d.name == "transactions")
    with duckdb.connect(str(sources.databases["payments_db"]), read_only=True) as db:
        kept = db.execute(f"SELECT count(*) FROM ({sql.replace('{{ ds }}', sources.day.isoformat())})").fetchone()[0]
        total = db.execute("SELECT count(*) FROM payments.transactions").fetchone()[0]
    assert kept == total >= 200
    assert sources.files == {n: tmp_path / f"{n}.parquet" for n in ("card_stats", "merchant_stats")}
    assert sources.databases["payments_db"] == tmp_path / "databases" / "payments_db.duckdb"
