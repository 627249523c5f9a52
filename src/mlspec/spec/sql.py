"""The one reader of the SQL a spec's source holds: its Jinja placeholders, then the query.

Airflow renders the query of an ingestion source as a Jinja template before the task runs
(it is a templated field of the extract task), with the whole task context in scope: `conn`
(every connection, passwords included), `var` (every Variable), `macros`, the task and DAG
objects. So a spec may use only the date and interval variables listed in
AIRFLOW_DATE_VARIABLES, each as a bare `{{ name }}`: no attribute, filter, call, statement
or other name. This is checked on jinja2's own parse tree (the parser Airflow renders with),
not by matching text, so no spelling slips past it.

The query, rendered with sample values of those variables, must then be one SELECT (WITH
clauses and UNION / INTERSECT / EXCEPT of SELECTs allowed) that only reads tables: no
second statement, no DDL or DML (also not inside a CTE or as `SELECT ... INTO`), no COPY,
PRAGMA, ATTACH, SET, INSTALL or LOAD, no table function in FROM (`read_text(...)`,
`read_csv(...)`), no file named as a table, and none of the functions of FILE_FUNCTIONS
that read or write files. It is parsed with sqlglot in the dialect of the database the
source's `tables` name (see dialect_for), else sqlglot's generic dialect.

parse_query also returns every table the query reads (FROM, JOIN, subqueries, CTE bodies,
each side of a UNION; CTE names excluded), for lineage and the local run.

jinja2 and sqlglot are imported by the functions that use them, so a spec without SQL does
not pay for them.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, field

# Airflow 3's template variables that are dates or intervals of the run (the Context of
# airflow.sdk, documented at https://airflow.apache.org/docs/apache-airflow/stable/templates-ref.html),
# each with what Airflow renders for a run of the day SAMPLE_DAY (a daily schedule): the
# query is checked as SQL with these in place. The `prev_*_success` variables are left out:
# they render `None` until a run has succeeded, which makes a broken query.
AIRFLOW_DATE_VARIABLES: dict[str, str] = {
    "ds": "2024-01-01",
    "ds_nodash": "20240101",
    "ts": "2024-01-01T00:00:00+00:00",
    "ts_nodash": "20240101T000000",
    "ts_nodash_with_tz": "20240101T000000+0000",
    "logical_date": "2024-01-01 00:00:00+00:00",
    "data_interval_start": "2024-01-01 00:00:00+00:00",
    "data_interval_end": "2024-01-02 00:00:00+00:00",
}

# Functions that read or write files, or reach other servers, in the databases a source may
# read (PostgreSQL, MySQL, DuckDB): refused wherever they appear. A deny list is never
# complete: the database's own permissions are the real limit (see SECURITY.md).
FILE_FUNCTIONS = frozenset({
    "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "lo_import", "lo_export", "dblink",
    "dblink_exec", "load_file", "getenv", "read_text", "read_blob", "read_csv", "read_csv_auto", "read_json",
    "read_json_auto", "read_json_objects", "read_ndjson", "read_parquet", "parquet_scan", "glob", "sniff_csv",
})

# A query longer than this is refused unparsed: parsing costs about 10 microseconds a character,
# and a spec file may be 16 MB. Real extraction queries are a few kilobytes.
MAX_QUERY_CHARS = 100_000

# sqlglot dialects by the scheme of an OpenLineage table URI (the source's `tables`).
_DIALECTS = {
    "postgres": "postgres", "postgresql": "postgres", "mysql": "mysql", "snowflake": "snowflake",
    "bigquery": "bigquery", "redshift": "redshift", "trino": "trino", "presto": "presto", "duckdb": "duckdb",
    "sqlite": "sqlite", "mssql": "tsql", "sqlserver": "tsql", "oracle": "oracle", "databricks": "databricks",
    "spark": "spark", "hive": "hive", "clickhouse": "clickhouse", "teradata": "teradata", "athena": "athena",
}


@dataclass(frozen=True)
class SqlProblem:
    """Why a source's SQL is refused. `template` says whether it is the Jinja part (the
    query is then not parsed as SQL)."""

    message: str
    label: str
    help: str
    template: bool = False


@dataclass(frozen=True)
class TableRef:
    """A table a query reads, as written (without quotes); `catalog` and `db` may be empty."""

    name: str
    db: str = ""
    catalog: str = ""

    @property
    def qualified(self) -> str:
        return ".".join(part for part in (self.catalog, self.db, self.name) if part)


@dataclass(frozen=True)
class ParsedQuery:
    rendered: str  # the query with the sample values of AIRFLOW_DATE_VARIABLES in place
    dialect: str | None
    tables: tuple[TableRef, ...] = ()
    problems: tuple[SqlProblem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def dialect_for(table_uris) -> str | None:
    """The sqlglot dialect of the database the URIs name (their scheme), when they agree."""
    dialects = {_DIALECTS.get(uri.split("://", 1)[0].lower()) for uri in table_uris if "://" in uri}
    return dialects.pop() if len(dialects) == 1 else None


def template_problems(sql: str) -> list[SqlProblem]:
    """What in `sql` Airflow would render, other than a bare allowed variable."""
    import jinja2
    from jinja2 import nodes

    try:
        tree = jinja2.Environment().parse(sql)
    except jinja2.TemplateSyntaxError as exc:
        return [SqlProblem(f"the query is not a valid template for Airflow, which renders it (line {exc.lineno}:"
                           f" {exc.message})", "Jinja syntax error", _TEMPLATE_HELP, template=True)]
    except RecursionError:
        return [SqlProblem("the query nests too deeply to be read", "too deep", "", template=True)]
    problems = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            problems.append(_template_problem(node, "a Jinja statement", sql))
            continue
        for part in node.nodes:
            if isinstance(part, nodes.TemplateData):
                continue
            if isinstance(part, nodes.Name) and part.ctx == "load" and part.name in AIRFLOW_DATE_VARIABLES:
                continue
            problems.append(_template_problem(part, _describe(part), sql))
    return problems


_TEMPLATE_HELP = ("Airflow renders the query with every connection and Variable in scope; use only "
                  + ", ".join(f"`{{{{ {name} }}}}`" for name in AIRFLOW_DATE_VARIABLES)
                  + " (see the README's SQL sources)")


def _describe(node) -> str:
    from jinja2 import nodes

    if isinstance(node, nodes.Name):
        return f"the template variable `{node.name}`"
    if isinstance(node, nodes.Filter):
        return f"the Jinja filter `{node.name}`"
    if isinstance(node, (nodes.Getattr, nodes.Getitem)):
        return "an attribute of a template variable"
    if isinstance(node, nodes.Call):
        return "a call in a template expression"
    return "a template expression"


def _template_problem(node, what: str, sql: str) -> SqlProblem:
    where = f" (line {getattr(node, 'lineno', 1)} of the query)" if "\n" in sql.strip() else ""
    return SqlProblem(f"the query uses {what}{where}, which Airflow would render",
                      "not an allowed template variable", _TEMPLATE_HELP, template=True)


def render_sample(sql: str) -> str:
    """`sql` as Airflow renders it on SAMPLE_DAY, when template_problems(sql) is empty."""
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              autoescape=False).from_string(sql).render(AIRFLOW_DATE_VARIABLES)


def parse_query(sql: str, dialect: str | None = None) -> ParsedQuery:
    """The query of a SQL source, checked (see the module docstring), with the tables it reads."""
    if len(sql) > MAX_QUERY_CHARS:
        return ParsedQuery(sql, dialect, (), (SqlProblem(
            f"the query is {len(sql):,} characters long; a source's query is at most {MAX_QUERY_CHARS:,}",
            "too long", "read a view or a table that holds the logic, and select from it"),))
    problems = template_problems(sql)
    if problems:
        return ParsedQuery(sql, dialect, (), tuple(problems))
    rendered = render_sample(sql)
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        with _quiet_sqlglot():
            statements = [s for s in sqlglot.parse(rendered, read=dialect) if s is not None]
    except (SqlglotError, RecursionError, ValueError) as exc:
        word = re.match(r"\s*([A-Za-z]+)", rendered)
        if word and word.group(1).upper() not in ("SELECT", "WITH", "FROM", "VALUES", "TABLE"):
            return ParsedQuery(rendered, dialect, (), (SqlProblem(
                f"the query is not a SELECT (it starts with `{word.group(1).upper()}`)", "not one SELECT",
                _HELP_ONE_SELECT),))
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return ParsedQuery(rendered, dialect, (), (SqlProblem(
            f"the query cannot be parsed as {_dialect_name(dialect)} SQL: {first}", "not valid SQL",
            "write one SELECT statement"),))
    if not statements:
        return ParsedQuery(rendered, dialect, (), (SqlProblem("the query is empty", "not one SELECT",
                                                              _HELP_ONE_SELECT),))
    if len(statements) != 1:
        return ParsedQuery(rendered, dialect, (), (SqlProblem(
            f"the query holds {len(statements)} statements; a source is one SELECT", "not one SELECT",
            "remove the other statements (and any `;` between them)"),))
    root = statements[0]
    with _quiet_sqlglot():
        found = _statement_problems(root, rendered, exp)
        tables = _tables(root, exp) if not found else ()
    return ParsedQuery(rendered, dialect, tables, tuple(found))


def query_tables(sql: str, dialect: str | None = None) -> tuple[TableRef, ...]:
    """Every table `sql` reads (empty when it is refused: see parse_query)."""
    return parse_query(sql, dialect).tables


def _dialect_name(dialect: str | None) -> str:
    return dialect or "generic"


@contextlib.contextmanager
def _quiet_sqlglot():
    """sqlglot logs a warning for statements it cannot parse in full (and reads as an opaque
    Command); those are refused here, and its log must not reach mlspec's output."""
    logger = logging.getLogger("sqlglot")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL)
    logger.propagate = False
    try:
        yield
    finally:
        logger.setLevel(level)
        logger.propagate = propagate


_HELP_ONE_SELECT = "a source is one SELECT (WITH and UNION allowed) that reads tables"


def _statement_problems(root, rendered: str, exp) -> list[SqlProblem]:
    if not isinstance(root, (exp.Select, exp.SetOperation, exp.Subquery)):
        word = re.match(r"\s*([A-Za-z]+)", rendered)
        kind = f" (it starts with `{word.group(1).upper()}`)" if word else ""
        return [SqlProblem(f"the query is not a SELECT{kind}", "not one SELECT", _HELP_ONE_SELECT)]
    writes = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Copy,
              exp.Command, exp.Pragma, exp.Set, exp.Into, exp.Lock, exp.TruncateTable)
    for node in root.walk():
        if isinstance(node, writes):
            what = "SELECT ... INTO" if isinstance(node, exp.Into) else (
                "FOR UPDATE / FOR SHARE" if isinstance(node, exp.Lock) else node.key.upper())
            return [SqlProblem(f"the query holds {what}, which changes the database; a source only reads",
                               "not one SELECT", _HELP_ONE_SELECT)]
        if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier):
            name = node.this.sql() if isinstance(node.this, exp.Expression) else str(node.this)
            return [SqlProblem(f"the query reads a table function (`{_short(name)}`), not a table",
                               "table function", "name the tables the query reads")]
        if isinstance(node, exp.Table) and node.this.quoted and any(c in node.name for c in "./\\:*?"):
            return [SqlProblem(f"the query names a file (`{_short(node.name)}`) where a table belongs",
                               "a file, not a table", "name the tables the query reads")]
        if isinstance(node, exp.Lateral):
            return [SqlProblem("the query reads a LATERAL function, not a table", "table function",
                               "name the tables the query reads")]
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in FILE_FUNCTIONS or name.startswith("read_"):
                return [SqlProblem(f"the query calls `{name}`, which reads or writes files or other servers",
                                   "file function", "read the data from tables")]
    return []


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _tables(root, exp) -> tuple[TableRef, ...]:
    cte_names = {cte.alias_or_name.lower() for cte in root.find_all(exp.CTE)}
    seen: dict[TableRef, None] = {}
    for table in root.find_all(exp.Table):
        if not table.name:
            continue
        if not table.db and not table.catalog and table.name.lower() in cte_names:
            continue
        seen.setdefault(TableRef(table.name, table.db, table.catalog), None)
    return tuple(sorted(seen, key=lambda ref: ref.qualified))


def airflow_date_values(logical, interval_end=None) -> dict[str, str]:
    """What Airflow renders for each of AIRFLOW_DATE_VARIABLES in a run of the logical date
    `logical` (an aware or naive-UTC datetime) whose data interval ends at `interval_end`. By
    default the interval is empty (it ends at the logical date): so Airflow 3 makes it for a run
    triggered by hand or by `airflow dags test` of a cron or preset schedule, whose timetable
    is CronTriggerTimetable unless `[scheduler] create_cron_data_intervals` is set
    (airflow/sdk/definitions/dag.py, `infer_manual_data_interval` in airflow/timetables/trigger.py).
    The formats are the Context's: `ds` and `ts` as strftime makes them, the datetimes as
    pendulum prints them (`2024-01-01 00:00:00+00:00`)."""
    import datetime

    def aware(value):
        return value.replace(tzinfo=datetime.timezone.utc) if value.tzinfo is None else value

    start = aware(logical)
    end = aware(interval_end) if interval_end is not None else start
    return {
        "ds": start.strftime("%Y-%m-%d"),
        "ds_nodash": start.strftime("%Y%m%d"),
        "ts": start.isoformat(),
        "ts_nodash": start.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": start.strftime("%Y%m%dT%H%M%S%z"),
        "logical_date": str(start),
        "data_interval_start": str(start),
        "data_interval_end": str(end),
    }


def render_with(sql: str, values: dict[str, str]) -> tuple[str, list[tuple[int, int, int]]]:
    """`sql` with each `{{ name }}` of `values` in place (what Airflow renders, for a query whose
    template_problems are none), and the offsets of each replacement: (rendered start, template
    start, length change), to map a place in the rendered query back to the template."""
    out, shifts, last = [], [], 0
    for match in re.finditer(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", sql):
        out.append(sql[last:match.start()])
        value = values[match.group(1)]
        rendered_start = sum(map(len, out))
        shifts.append((rendered_start, match.start(), len(match.group(0)) - len(value)))
        out.append(value)
        last = match.end()
    out.append(sql[last:])
    return "".join(out), shifts
