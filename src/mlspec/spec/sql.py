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
import functools
import logging
import re
from dataclasses import dataclass, field

from mlspec.spec import sql_worker

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


@functools.lru_cache(maxsize=256)  # the check pass and the IR of each environment read the same queries
def parse_query(sql: str, dialect: str | None = None) -> ParsedQuery:
    """The query of a SQL source, checked (see the module docstring), with the tables it reads;
    from the child of spec/sql_worker when a command started one."""
    answer = sql_worker.ask("parse_query", sql, dialect)
    return answer if isinstance(answer, ParsedQuery) else _parse_query(sql, dialect)


def _parse_query(sql: str, dialect: str | None) -> ParsedQuery:
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


# --- the tables a source reads, named as OpenLineage names them ------------------------------


@dataclass(frozen=True)
class Database:
    """How OpenLineage names a database's tables (https://openlineage.io/docs/spec/naming, and the
    `openlineage.client.naming` classes of the same name): the namespace's scheme, the default port
    written in it (None: no port), how many parts a table's name has, and the schema a table named
    without one is in."""

    dialect: str
    scheme: str
    port: int | None
    parts: int
    default_schema: str | None = None


# Keyed by the `type` of a spec's connection (spec/models.CONNECTION_TYPES).
DATABASES: dict[str, Database] = {
    "postgres": Database("postgres", "postgres", 5432, 3, "public"),     # {database}.{schema}.{table}
    "mysql": Database("mysql", "mysql", 3306, 2),                        # {database}.{table}
    "redshift": Database("redshift", "redshift", 5439, 3, "public"),     # {database}.{schema}.{table}
    "snowflake": Database("snowflake", "snowflake", None, 3, "PUBLIC"),  # {database}.{schema}.{table}
    "bigquery": Database("bigquery", "bigquery", None, 3),               # {project}.{dataset}.{table}
    "trino": Database("trino", "trino", 8080, 3),                        # {catalog}.{schema}.{table}
    "oracle": Database("oracle", "oracle", 1521, 3),                     # {service name}.{schema}.{table}
    "teradata": Database("teradata", "teradata", 1025, 2),               # {database}.{table}
}


def connection_namespace(connection) -> str | None:
    """The OpenLineage namespace of a spec Connection's tables (None: it names no host)."""
    database = DATABASES[connection.type]
    if connection.type == "bigquery":
        return "bigquery"
    if not connection.host:
        return None
    if database.port is None:
        return f"{database.scheme}://{connection.host}"
    return f"{database.scheme}://{connection.host}:{connection.port or database.port}"


def table_name(connection, ref: TableRef) -> tuple[str | None, str]:
    """(the OpenLineage name of `ref` on `connection`, or None with why not)."""
    database = DATABASES[connection.type]
    written = [part for part in (ref.catalog, ref.db, ref.name) if part]
    if len(written) > database.parts:
        return None, (f"`{ref.qualified}` has {len(written)} name parts; a {connection.type} table has at most"
                      f" {database.parts}")
    defaults = [connection.database, connection.schema_ or database.default_schema][:database.parts - 1]
    filled = defaults[:database.parts - len(written)]
    if any(part is None for part in filled):
        what = "database" if filled[0] is None else "schema"
        return None, f"the query names `{ref.qualified}` without its {what}, and the connection names no default one"
    return ".".join([*filled, *written]), ""


@dataclass(frozen=True)
class TablesProblem:
    """A disagreement between a source's `tables` and its query; `index` is the entry of `tables`
    it is about (None: the source's `tables` or `connection` as a whole)."""

    message: str
    label: str
    help: str
    index: int | None = None
    at_connection: bool = False


@dataclass(frozen=True)
class SourceTables:
    uris: tuple[str, ...]  # every table the query reads, as OpenLineage URIs (what lineage names)
    problems: tuple[TablesProblem, ...] = ()


def source_dialect(tables, connection) -> str | None:
    """The sqlglot dialect of a source: its connection's type, else the scheme of its `tables`."""
    if connection is not None:
        return DATABASES[connection.type].dialect
    return dialect_for(tables)


def source_tables(parsed: ParsedQuery, written: list[str] | tuple[str, ...], connection) -> SourceTables:
    """The tables a source reads, named from its connection (a spec Connection, or None) when the
    spec describes it, else as its `tables` write them; with what in `tables` disagrees with the
    query. A refused query (parsed.problems) names only what `tables` writes."""
    if not parsed.ok:
        return SourceTables(tuple(written))
    problems: list[TablesProblem] = []
    if connection is not None:
        namespace = connection_namespace(connection)
        derived: dict[str, TableRef] = {}
        for ref in parsed.tables:
            name, why = table_name(connection, ref)
            if name is None:
                problems.append(TablesProblem(f"cannot name table `{ref.qualified}` for the lineage graph: {why}",
                                              "table not named", "qualify the table in the query, or set the"
                                              " connection's `database` and `schema`", at_connection=True))
            elif namespace is not None:
                derived.setdefault(f"{namespace}/{name}", ref)
        if namespace is not None:
            return _derived_tables(derived, written, problems)
    # No connection described (or one without a host): `tables` names the tables; each must be
    # one the query reads.
    return _written_tables(parsed, written, problems)


def _derived_tables(derived: dict, written, problems: list) -> SourceTables:
    uris = tuple(sorted(derived))
    for index, uri in enumerate(written):
        if uri not in derived:
            problems.append(TablesProblem(
                f"`tables` lists `{uri}`, which the query does not read (it reads "
                f"{_list(uris) or 'no table'})", "not read by the query",
                "remove `tables`: the tables are read from the query", index))
    missing = [uri for uri in uris if uri not in written]
    if written and missing:
        problems.append(TablesProblem(
            f"the query reads {_list(missing)}, which `tables` does not list", "incomplete",
            "remove `tables`: the tables are read from the query"))
    return SourceTables(uris, tuple(problems))


def _written_tables(parsed: ParsedQuery, written, problems: list) -> SourceTables:
    matched: set[TableRef] = set()
    for index, uri in enumerate(written):
        name_parts = uri.partition("://")[2].partition("/")[2].lower().split(".")
        hits = [ref for ref in parsed.tables if _is_suffix(ref, name_parts)]
        matched.update(hits)
        if not hits:
            problems.append(TablesProblem(
                f"`tables` lists `{uri}`, which the query does not read (it reads "
                f"{_list([ref.qualified for ref in parsed.tables]) or 'no table'})", "not read by the query",
                "list exactly the tables the query reads, or describe the connection under `platform.connections`"
                " and remove `tables`", index))
    unlisted = [ref.qualified for ref in parsed.tables if ref not in matched]
    if written and unlisted:
        problems.append(TablesProblem(
            f"the query reads {_list(unlisted)}, which `tables` does not list", "incomplete",
            "list every table the query reads, or describe the connection under `platform.connections`"
            " and remove `tables`"))
    return SourceTables(tuple(written), tuple(problems))


def _is_suffix(ref: TableRef, name_parts: list[str]) -> bool:
    parts = [part.lower() for part in (ref.catalog, ref.db, ref.name) if part]
    return len(parts) <= len(name_parts) and name_parts[len(name_parts) - len(parts):] == parts


def _list(items) -> str:
    items = [f"`{item}`" for item in items]
    if len(items) > 6:
        items = items[:6] + [f"{len(items) - 6} more"]
    return ", ".join(items)


# --- the columns a query reads ----------------------------------------------------------------


def connection_undeclared_columns(parsed: ParsedQuery, connection) -> list[tuple[str, str, int]]:
    """undeclared_columns against the tables a spec Connection describes (its `tables`); from the
    child of spec/sql_worker when a command started one."""
    answer = sql_worker.ask("connection_undeclared_columns", parsed, connection)
    return answer if isinstance(answer, list) else _connection_undeclared_columns(parsed, connection)


def _connection_undeclared_columns(parsed: ParsedQuery, connection) -> list[tuple[str, str, int]]:
    declared: dict[str, set[str]] = {}
    for written, columns in connection.tables.items():
        parts = written.split(".")
        ref = TableRef(parts[-1], parts[-2] if len(parts) > 1 else "", parts[-3] if len(parts) > 2 else "")
        qualified, _ = table_name(connection, ref)
        if qualified is not None:
            declared.setdefault(qualified.lower(), set()).update(c.lower() for c in columns)

    def columns_of(ref):
        qualified, _ = table_name(connection, ref)
        return declared.get(qualified.lower()) if qualified is not None else None

    return undeclared_columns(parsed, columns_of)


def undeclared_columns(parsed: ParsedQuery, columns_of) -> list[tuple[str, str, int]]:
    """(column as written, why, line of the query) for each column the query reads that no table it could come from
    has, where every table it could come from is described: `columns_of(TableRef)` gives the
    (lower-case) columns of a table the spec describes, else None. Each SELECT's own sources are
    looked through sqlglot's scopes: a CTE's or subquery's columns are its select list (unknown
    when it selects `*`), a qualified column `alias.c` is looked up in that alias only, an
    unqualified one in every source of its SELECT and of the SELECTs around it (a correlated
    subquery), and a name the SELECT itself defines (`AS total`, used in ORDER BY) is no table's."""
    if not parsed.ok:
        return []
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.scope import traverse_scope

    try:
        with _quiet_sqlglot():
            root = sqlglot.parse_one(parsed.rendered, read=parsed.dialect)
            scopes = traverse_scope(root)
    except (SqlglotError, RecursionError, ValueError):
        return []

    def outputs(source) -> set[str] | None:
        if isinstance(source, exp.Table):
            if source.args.get("alias") is not None and source.args["alias"].columns:
                return None  # `t AS x(a, b)` renames the columns
            return columns_of(TableRef(source.name, source.db, source.catalog))
        expression = getattr(source, "expression", None)
        if isinstance(expression, exp.SetOperation):
            expression = expression.left
            while isinstance(expression, exp.SetOperation):
                expression = expression.left
        if not isinstance(expression, exp.Select) or any(
                isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
                for e in expression.expressions):
            return None
        alias = expression.parent if isinstance(expression.parent, (exp.Subquery, exp.CTE)) else None
        if alias is not None and alias.args.get("alias") is not None and alias.args["alias"].columns:
            return None  # WITH t(a, b) AS (...)
        return {name.lower() for name in expression.named_selects}

    found: dict[tuple[str, str], int] = {}
    for scope in scopes:
        select = scope.expression
        defined = ({e.alias.lower() for e in select.expressions if isinstance(e, exp.Alias)}
                   if isinstance(select, exp.Select) else set())
        # A subquery in WHERE or SELECT may read the columns of the SELECTs around it (correlated);
        # a WITH or a subquery in FROM reads only its own sources.
        chain, parent = [scope], scope
        while parent.is_subquery and parent.parent is not None:
            parent = parent.parent
            chain.append(parent)
        for column in scope.columns:
            if isinstance(column.this, exp.Star) or not column.name:
                continue
            if column.find_ancestor(exp.Select, exp.SetOperation) is not select:
                continue  # a column of a subquery (sqlglot lists it in the enclosing scope too)
            name = column.name.lower()
            if column.table:
                source = next((s.sources[column.table] for s in chain if column.table in s.sources), None)
                if source is None:
                    continue
                known = outputs(source)
                if known is not None and name not in known:
                    found.setdefault((column.sql(dialect=parsed.dialect),
                                      f"`{column.table}` ({_source_name(source, exp)}) has no column `{column.name}`"),
                                     column.this.meta.get("line", 1))
                continue
            if name in defined and not _defines_itself(column, select, name, exp):
                continue  # a name the SELECT defines (ORDER BY total; a lateral alias where allowed)
            if column.find_ancestor(exp.Lambda) is not None:
                continue
            sources = [source for s in chain for source in s.sources.values()]
            if not sources:
                continue
            known_sets = [outputs(source) for source in sources]
            if any(known is None for known in known_sets) or any(name in known for known in known_sets):
                continue
            names = ", ".join(dict.fromkeys(f"`{_source_name(source, exp)}`" for source in sources))
            found.setdefault((column.sql(dialect=parsed.dialect), f"none of the tables it reads ({names}) has it"),
                             column.this.meta.get("line", 1))
    return [(column, why, line) for (column, why), line in found.items()]


def _defines_itself(column, select, name: str, exp) -> bool:
    """Whether `column` is inside the projection that defines `name` (`SUM(units) AS units`),
    where the name can only be the table's column."""
    node = column
    while node.parent is not None and node.parent is not select:
        node = node.parent
    return isinstance(node, exp.Alias) and node.alias.lower() == name and node.arg_key == "expressions"


def _source_name(source, exp) -> str:
    if isinstance(source, exp.Table):
        return ".".join(part for part in (source.catalog, source.db, source.name) if part)
    parent = getattr(source.expression, "parent", None)
    if isinstance(parent, (exp.CTE, exp.Subquery)) and parent.alias:
        return parent.alias
    return "a subquery"


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


# A bare `{{ name }}`: the only Jinja a query may hold once template_problems finds none.
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def template_variables(sql: str) -> set[str]:
    """The Airflow variables a query uses (for a query whose template_problems are none)."""
    return {match.group(1) for match in _VARIABLE.finditer(sql)}


def render_with(sql: str, values: dict[str, str]) -> tuple[str, list[tuple[int, int, int]]]:
    """`sql` with each `{{ name }}` of `values` in place (what Airflow renders, for a query whose
    template_problems are none), and the offsets of each replacement: (rendered start, template
    start, length change), to map a place in the rendered query back to the template."""
    out, shifts, last = [], [], 0
    for match in _VARIABLE.finditer(sql):
        out.append(sql[last:match.start()])
        value = values[match.group(1)]
        rendered_start = sum(map(len, out))
        shifts.append((rendered_start, match.start(), len(match.group(0)) - len(value)))
        out.append(value)
        last = match.end()
    out.append(sql[last:])
    return "".join(out), shifts


# --- what spec/sql_worker's child answers -------------------------------------------------------


def warm_up() -> None:
    """Import the parsers and run one parse (sqlglot builds its tokenizer and parser tables on the
    first): what a spec's first query would otherwise pay."""
    _parse_query("SELECT a FROM t WHERE d = '{{ ds }}'", None)


# The functions the child runs, by name: the in-process ones (never the child again).
ANSWERS = {"parse_query": _parse_query, "connection_undeclared_columns": _connection_undeclared_columns}


def parse_beside(raw: bytes) -> None:
    """Start parsing a spec's SQL in a child process beside the rest of the front end, when the
    command allows it and the spec's bytes may hold a SQL source (spec/sql_worker.py)."""
    sql_worker.start_if_useful(raw, ANSWERS, warm_up)
