"""`mlspec run --local` runs a spec's SQL: a SQL source's query goes to a DuckDB file through
the Airflow connection the run sets (AIRFLOW_CONN_<ID>), in the generated extract task.

Attack (issue 23): a query that names its table after a DuckDB table function passes the
local run's one-table rule (`FROM read_text(...)` reads a table called `read_text`), then
reads any file the user can (`read_text('/etc/hostname')`) and writes anywhere with
`COPY ... TO`, a shell profile or a `.pth` file that runs code later. Validate refuses such a
query earlier (not one SELECT of tables); these tests show the database itself refuses it, on
the path the run takes: the sample written by the local run into its DuckDB file, the
connection URI the run gives Airflow, Airflow's own Connection parsing it, and the extract task
of the generated runtime."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from conftest import SPECS
from mlspec.compiler.session import load_unit
from mlspec.ir.model import IRFileSource, IRSqlSource
from mlspec.local.data import write_sources
from mlspec.local.database import connection_env
from mlspec.runtime import airflow_tasks

pytest.importorskip("airflow.sdk")


def _system(tmp_path: Path, sql: str | None = None):
    """The payments example, its file sources in `tmp_path` (as in the run's spec copy), its SQL
    source's query replaced by `sql`."""
    system = load_unit(SPECS / "payments-risk.yaml").project.base
    return replace(system, datasets=tuple(
        replace(d, source=IRFileSource(str(tmp_path / f"{d.name}.parquet"), "parquet")) if d.source.kind == "file"
        else replace(d, source=IRSqlSource(sql or d.source.sql, d.source.connection)) for d in system.datasets))


def test_a_table_function_is_refused_by_the_local_runs_sample_writer(tmp_path):
    """The local run reads the query as validate does (spec.sql.parse_query): a table function
    is no table to fill, and nothing is written; the database's refusal below is the last line."""
    from mlspec.errors import SpecError

    with pytest.raises(SpecError, match=r"reads a table function \(`READ_TEXT\('/etc/hostname'\)`\), not a table"):
        write_sources(_system(tmp_path, "SELECT * FROM read_text('/etc/hostname')"), tmp_path / "databases",
                      rows=20, when=dt.datetime(2026, 1, 2, 12, 0))
    assert not (tmp_path / "databases").exists()


def _run_sql_source(tmp_path: Path, monkeypatch, sql: str):
    """The payments example as the local run prepares it (the sample in the DuckDB file,
    AIRFLOW_CONN_PAYMENTS_DB pointing at it), then the generated extract task run on `sql`
    as its query, as `airflow dags test` runs it."""
    system = _system(tmp_path)
    sources = write_sources(system, tmp_path / "databases", rows=50, when=dt.datetime(2026, 1, 2, 12, 0))
    for key, value in connection_env(system, tmp_path / "databases").items():
        monkeypatch.setenv(key, value)
    dataset = next(d for d in system.datasets if d.source.kind == "sql")
    config = {"source": {"kind": "sql", "connection": dataset.source.connection}, "columns": {},
              "settings": {"staging_dir": ["staging_dir", str(tmp_path / "staging")]}, "system": system.name,
              "dataset": dataset.name, "dag_file": str(tmp_path / "dags" / "x.py")}
    return sources, airflow_tasks.extract(config, {"templates_dict": {"sql": sql}, "run_id": "manual__1"})


def test_a_query_that_reads_a_file_is_refused_by_the_database(tmp_path, monkeypatch):
    secret = tmp_path / "outside" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("PRIVATE KEY MATERIAL\n")
    with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
        _run_sql_source(tmp_path, monkeypatch, f"SELECT * FROM read_text('{secret}')")
    staged = list((tmp_path / "staging").rglob("*.parquet")) if (tmp_path / "staging").exists() else []
    assert staged == []  # nothing read, nothing staged


@pytest.mark.parametrize("attack", [
    "COPY (SELECT 'import os; os.system(\"id\")') TO '{target}' (FORMAT csv, HEADER false)",
    "COPY read_text TO '{target}'",
])
def test_a_query_that_writes_a_file_is_refused_by_the_database(tmp_path, monkeypatch, attack):
    target = tmp_path / "outside" / "evil.pth"
    target.parent.mkdir()
    with pytest.raises(duckdb.Error):
        _run_sql_source(tmp_path, monkeypatch, attack.format(target=target))
    assert not target.exists()


@pytest.mark.parametrize("statement", [
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "INSTALL httpfs",
    "LOAD httpfs",
    "ATTACH '{outside}/other.duckdb' AS other",
])
def test_a_query_cannot_turn_the_containment_off(tmp_path, monkeypatch, statement):
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(duckdb.Error):
        _run_sql_source(tmp_path, monkeypatch, statement.format(outside=outside))
    assert list(outside.iterdir()) == []


def test_the_sources_own_query_still_reads_its_table(tmp_path, monkeypatch):
    """The containment keeps what a query is for: the table of its database file."""
    sql = next(d.source.sql for d in load_unit(SPECS / "payments-risk.yaml").project.base.datasets
               if d.source.kind == "sql").replace("{{ ds }}", "2026-01-01")
    sources, done = _run_sql_source(tmp_path, monkeypatch, sql)
    assert done["rows"] >= 50 and Path(done["path"]).is_file()
    # The sample was written with the same containment (the local run's own connection).
    with duckdb.connect(str(sources.databases["payments_db"]), read_only=True,
                        config=dict(airflow_tasks.DUCKDB_CONFIG)) as db:
        assert db.execute("SELECT current_setting('enable_external_access')").fetchone() == (False,)
