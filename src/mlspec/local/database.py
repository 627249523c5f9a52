"""The embedded databases of `mlspec run --local`: the tables a SQL source's query reads, and where.

A dataset with a SQL source keeps its query; the generated extract task runs it through the
Airflow connection the source names (`Connection.get(id).get_hook().get_df(sql)`). Locally that
connection is a DuckDB file, `databases/<connection>.duckdb`, given to Airflow as the
environment variable AIRFLOW_CONN_<ID IN UPPER CASE> (the hook of airflow-provider-duckdb,
connection type `duckdb`, opens the file its host names).

Every table the query reads (FROM, JOIN, CTE bodies, subqueries, each side of a UNION) is
made there, with the columns the query uses, filled (mlspec.local.query_fill) so that the query,
rendered as Airflow renders it for the ingestion run's logical date, returns the dataset's
sample rows: join keys match, and the WHERE conditions hold. After writing, each query is run
on its database: one that returns no row is an error naming the conditions the filler could
not read, located in the spec, never an ingestion of 0 rows.

Every DuckDB connection here and in the generated extract task (mlspec_runtime.query_frame,
which opens the file itself: the DuckDB hook takes no settings from the connection) has
external access off, no extension installed or loaded, and its configuration locked
(DUCKDB_CONFIG): a query reads the tables of its database file, no other file.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from mlspec.errors import SpecError
from mlspec.runtime.airflow_tasks import DUCKDB_CONFIG

SUFFIX = ".duckdb"
CONN_TYPE = "duckdb"


@dataclass(frozen=True)
class Table:
    """A table of a connection's database, filled for the queries that read it."""

    connection: str
    schema: str | None  # None: the database's default schema
    name: str

    @property
    def qualified(self) -> str:
        return ".".join(_quoted(p) for p in (self.schema, self.name) if p)


@dataclass(frozen=True)
class SqlSample:
    """What the local run writes for one SQL dataset: the tables its query reads, filled."""

    dataset: str
    connection: str
    rendered: str  # the query as Airflow renders it on the run's logical date
    frames: dict  # Table -> DataFrame
    unread: tuple = ()  # (condition, place in the spec) the filler could not read


Locate = Callable[[str, "int | None"], str]  # (dataset, offset in its query, or None) -> `spec.yaml:12:9`


def fill_sql_sources(system, frames: dict, day: dt.date, locate: Locate) -> dict[str, SqlSample]:
    """dataset -> its query's tables filled with its sample rows (`frames[dataset]`), for every
    dataset with a SQL source, the query rendered for a run of the logical date `day`; a
    SpecError names each condition no row meets, at its place in the spec."""
    from mlspec.local.query_fill import Unsatisfiable, fill_query
    from mlspec.spec.sql import airflow_date_values, dialect_for, parse_query, render_with

    values = airflow_date_values(dt.datetime.combine(day, dt.time()))
    found, problems = {}, []
    for dataset in system.datasets:
        source = dataset.source
        if getattr(source, "kind", None) != "sql" or dataset.name not in frames:
            continue
        rendered, shifts = render_with(source.sql, values)

        def place(offset, name=dataset.name, shifts=shifts):
            return locate(name, _template_offset(offset, shifts) if offset is not None else None)

        refused = parse_query(source.sql, dialect_for(source.tables)).problems  # what validate refuses (E31x)
        if refused:
            problems.append(f"{place(None)}: dataset `{dataset.name}`: {refused[0].message}")
            continue
        try:
            filled = fill_query(rendered, dialect_for(source.tables), frames[dataset.name])
        except Unsatisfiable as error:
            problems.append(f"{place(error.offset)}: dataset `{dataset.name}`: {error} in a run of the logical date"
                            f" {day.isoformat()} ({_variables(source.sql, values)}): no row of the sample can"
                            f" pass the query's conditions")
            continue
        catalogs = sorted({ref.qualified for ref in filled.tables if ref.catalog})
        if catalogs:
            problems.append(f"{place(None)}: dataset `{dataset.name}`: `{catalogs[0]}` names a database (catalog)"
                            f" besides the schema; a local run has one database per connection")
            continue
        tables = {Table(source.connection, ref.db or None, ref.name): frame for ref, frame in filled.frames().items()}
        unread = tuple((text, place(offset)) for text, offset in filled.unread)
        found[dataset.name] = SqlSample(dataset.name, source.connection, rendered, tables, unread)
    if problems:
        raise SpecError("mlspec run --local cannot load the sample of a SQL source:\n" + "\n".join(problems))
    return found


def _template_offset(offset: int, shifts: list[tuple[int, int, int]]) -> int:
    """A place in the rendered query as a place in the query the spec holds."""
    return offset + sum(change for start, _, change in shifts if start < offset)


def _variables(sql: str, values: dict[str, str]) -> str:
    used = [name for name in values if re.search(r"\{\{\s*" + name + r"\s*\}\}", sql)]
    return ", ".join(f"`{{{{ {name} }}}}` = {values[name]!r}" for name in used) or "no template variable"


def database_path(folder: Path, connection: str) -> Path:
    return folder / f"{connection}{SUFFIX}"


def connection_uri(path: Path) -> str:
    """`duckdb://%2Fwork%2Fdatabases%2Fwarehouse.duckdb`: Airflow takes a host with `/` in it
    as it is (case kept), and the hook opens that file."""
    return f"{CONN_TYPE}://{quote(str(Path(path).resolve()), safe='')}"


def connection_env(system, folder: Path) -> dict[str, str]:
    """AIRFLOW_CONN_<ID> -> the URI of its database file, for each connection a SQL source names."""
    connections = sorted({d.source.connection for d in system.datasets if getattr(d.source, "kind", None) == "sql"})
    return {f"AIRFLOW_CONN_{c.upper()}": connection_uri(database_path(folder, c)) for c in connections}


def write_tables(samples: dict[str, SqlSample], folder: Path,
                 locate: Callable[[str], str] = lambda name: f"dataset `{name}`") -> dict[str, Path]:
    """Each connection's database file made anew with the tables its queries read (the rows of
    every dataset reading one table, one after another), then each query run there: one that
    returns no row is a SpecError (`locate` names the dataset's place in the spec). Returns
    connection -> file."""
    import duckdb
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    written, problems = {}, []
    for connection in sorted({s.connection for s in samples.values()}):
        path = database_path(folder, connection)
        path.unlink(missing_ok=True)
        Path(f"{path}.wal").unlink(missing_ok=True)
        tables: dict[Table, list] = {}
        for name in sorted(samples):
            if samples[name].connection == connection:
                for table, frame in samples[name].frames.items():
                    tables.setdefault(table, []).append(frame)
        with duckdb.connect(str(path), config=dict(DUCKDB_CONFIG)) as db:
            for table, parts in sorted(tables.items(), key=lambda item: item[0].qualified):
                frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
                if table.schema:
                    db.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(table.schema)}")
                db.register("sample", frame)
                db.execute(f"CREATE TABLE {table.qualified} AS SELECT * FROM sample")
                db.unregister("sample")
            for name in sorted(samples):
                sample = samples[name]
                if sample.connection != connection:
                    continue
                try:
                    rows = db.execute(f"SELECT count(*) FROM ({sample.rendered.strip().rstrip(';')}) AS q"
                                      ).fetchone()[0]
                except duckdb.Error as error:
                    rows, failure = 0, str(error).splitlines()[0]
                else:
                    failure = None
                if rows == 0:
                    why = ("; the conditions it could not make hold: "
                           + "; ".join(f"`{text}` ({where})" for text, where in sample.unread)) if sample.unread \
                        else ""
                    what = f"fails on the tables filled with the sample ({failure})" if failure else \
                        "returns no row from the tables filled with the sample"
                    problems.append(f"{locate(name)}: dataset `{name}`: its query {what}{why}")
        written[connection] = path
    if problems:
        raise SpecError("mlspec run --local cannot load the sample of a SQL source:\n" + "\n".join(problems))
    return written


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
