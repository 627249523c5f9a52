"""The embedded databases of `mlspec run --local`: what a SQL source's query reads, and where.

A dataset with a SQL source keeps its query; the generated extract task runs it through the
Airflow connection the source names (`Connection.get(id).get_hook().get_df(sql)`). Locally that
connection is a DuckDB file, `databases/<connection>.duckdb`, given to Airflow as the
environment variable AIRFLOW_CONN_<ID IN UPPER CASE> (the hook of airflow-provider-duckdb,
connection type `duckdb`, opens the file its host names). Each SQL dataset's sample rows are
the table its query reads: the one table after the query's FROM, in the schema the query
names (`payments.transactions` is the table `transactions` of the schema `payments`).

Every DuckDB connection here and in the generated extract task (mlspec_runtime.query_frame,
which opens the file itself: the DuckDB hook takes no settings from the connection) has
external access off, no extension installed or loaded, and its configuration locked
(DUCKDB_CONFIG): a query reads the tables of its database file, no other file.

A column the query compares with `'{{ ds }}'` that the dataset does not declare (a partition
column such as `day`) is added to the table, holding the run's logical date, so the query's
WHERE keeps every row.
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

# Words that end a FROM clause's table list.
_CLAUSE = re.compile(r"\b(WHERE|GROUP|ORDER|LIMIT|HAVING|QUALIFY|WINDOW|UNION|EXCEPT|INTERSECT|OFFSET|FETCH)\b",
                     re.IGNORECASE)
_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_REFERENCE = re.compile(rf"{_IDENT}(?:\s*\.\s*{_IDENT})*")
_PART = re.compile(_IDENT)
_TABLE_WORD = re.compile(r"\b(FROM|JOIN)\b", re.IGNORECASE)
_DS_COMPARED = re.compile(r"""(?<![\w"])("?)([A-Za-z_][A-Za-z0-9_$]*)\1\s*(=|>=|<=)\s*'\{\{\s*ds\s*\}\}'""")


@dataclass(frozen=True)
class Table:
    """The table a SQL dataset's query reads, in the database of its connection."""

    connection: str
    schema: str | None  # None: the database's default schema
    name: str
    date_columns: tuple[str, ...] = ()  # undeclared columns the query compares with '{{ ds }}'

    @property
    def qualified(self) -> str:
        return ".".join(_quoted(p) for p in (self.schema, self.name) if p)


def table_reference(sql: str) -> tuple[str, ...] | str:
    """The name parts of the one table `sql` reads (`("payments", "transactions")`), or why
    there is no such table."""
    text = _plain(sql)
    if re.match(r"\s*WITH\b", text, re.IGNORECASE) or re.search(r"\(\s*SELECT\b", text, re.IGNORECASE):
        return "it has a subquery or a WITH clause"
    references = []
    for word in _TABLE_WORD.finditer(text):
        if _depth(text, word.start()) > 0:  # EXTRACT(day FROM ts), not a table
            continue
        if word.group(1).upper() == "JOIN":
            return "it joins tables"
        match = _REFERENCE.match(text, re.match(r"\s*", text[word.end():]).end() + word.end())
        if match is None:
            return "no table name follows its FROM"
        rest = text[match.end():]
        end = _CLAUSE.search(rest)
        if "," in (rest[:end.start()] if end else rest).split(";")[0]:
            return "its FROM lists several tables"
        references.append(tuple(_unquoted(p) for p in _PART.findall(match.group(0))))
    distinct = sorted(set(references))
    if not distinct:
        return "it has no FROM"
    if len(distinct) > 1:
        return f"it reads {len(distinct)} tables ({', '.join('.'.join(r) for r in distinct)})"
    if len(distinct[0]) > 2:
        return f"`{'.'.join(distinct[0])}` names a database (catalog) besides the schema"
    return distinct[0]


def date_columns(sql: str, declared: set[str]) -> tuple[str, ...]:
    """The columns `sql` compares with `'{{ ds }}'` (=, >=, <=) that are not in `declared`."""
    found = [m.group(2) for m in _DS_COMPARED.finditer(_without_comments(sql))]
    return tuple(dict.fromkeys(c for c in found if c not in declared))


def sql_tables(system, where: Callable[[str], str] = lambda key: key) -> dict[str, Table]:
    """dataset -> the table its query reads, for every dataset with a SQL source; a SpecError
    names each whose table cannot be told (`where` turns an anchor key into a spec line)."""
    tables, problems = {}, []
    for dataset in system.datasets:
        source = dataset.source
        if getattr(source, "kind", None) != "sql":
            continue
        found = table_reference(source.sql)
        if isinstance(found, str):
            problems.append(f"{where(f'datasets.{dataset.name}.source')}: dataset `{dataset.name}`: cannot tell which"
                            f" table its query reads ({found}): a local run loads the sample into the one table"
                            f" after FROM (`FROM table` or `FROM schema.table`), so write the query so, or use a"
                            f" file source")
            continue
        declared = {c.name for c in dataset.columns}
        tables[dataset.name] = Table(source.connection, found[0] if len(found) == 2 else None, found[-1],
                                     date_columns(source.sql, declared))
    if problems:
        raise SpecError("mlspec run --local cannot load the sample of a SQL source:\n" + "\n".join(problems))
    return tables


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


def write_tables(frames: dict, tables: dict[str, Table], folder: Path, day: dt.date) -> dict[str, Path]:
    """Each dataset's frame as its table (its date columns set to `day`), a database file per
    connection made anew; returns connection -> file."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for connection in sorted({t.connection for t in tables.values()}):
        path = database_path(folder, connection)
        path.unlink(missing_ok=True)
        Path(f"{path}.wal").unlink(missing_ok=True)
        with duckdb.connect(str(path), config=dict(DUCKDB_CONFIG)) as db:
            for dataset, table in sorted(tables.items()):
                if table.connection != connection or dataset not in frames:
                    continue
                frame = frames[dataset].assign(**dict.fromkeys(table.date_columns, day))
                if table.schema:
                    db.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(table.schema)}")
                db.register("sample", frame)
                db.execute(f"CREATE TABLE {table.qualified} AS SELECT * FROM sample")
                db.unregister("sample")
        written[connection] = path
    return written


# --- reading SQL ------------------------------------------------------------------------------


def _without_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.DOTALL)


def _plain(sql: str) -> str:
    """`sql` without comments and with every string literal emptied (a FROM in a string is no FROM)."""
    return re.sub(r"'(?:[^']|'')*'", "''", _without_comments(sql))


def _depth(text: str, index: int) -> int:
    return text.count("(", 0, index) - text.count(")", 0, index)


def _unquoted(part: str) -> str:
    return part[1:-1].replace('""', '"') if part.startswith('"') else part


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
