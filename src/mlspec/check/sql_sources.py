"""SQL sources: only the allowed Airflow date variables, one SELECT that reads tables, the
tables it reads as `tables` lists them, and only columns its tables declare."""

from __future__ import annotations

from mlspec.check.context import CheckContext
from mlspec.diagnostics import Severity, did_you_mean
from mlspec.spec.models import SqlSource


# All the queries of one spec, parsed at about 10 microseconds a character: a few seconds at most.
MAX_SPEC_SQL_CHARS = 1_000_000


def check_sql_sources(ctx: CheckContext) -> None:
    """E311: the query uses Jinja other than a bare allowed date variable (Airflow renders it
    with every connection and Variable in scope). E312: it is not one SELECT reading tables.
    E314: the source's `tables` are not the tables the query reads. E315: the query reads a
    column that its tables, described under `platform.connections`, do not declare.
    See spec/sql.py; sqlglot is imported only when a spec has a SQL source."""
    sources = [(name, dataset.source) for name, dataset in ctx.spec.datasets.items()
               if isinstance(dataset.source, SqlSource)]
    if not sources:
        return
    from mlspec.spec.sql import MAX_QUERY_CHARS, parse_query, source_dialect, template_variables

    connections = ctx.spec.platform.connections
    budget = MAX_SPEC_SQL_CHARS
    seen: set[tuple[str, str | None]] = set()  # a query shared by YAML aliases counts once
    for name, source in sources:
        connection = connections.get(source.connection)
        if connection is None and connections:
            ctx.error("W316", f"connection `{source.connection}` is not described under `platform.connections`",
                      ("datasets", name, "source", "connection"), severity=Severity.WARNING,
                      label="no database type: no dialect, no table names from the query",
                      help=_typo_or_describe(source.connection, connections))
        key = (source.sql, source_dialect(source.tables, connection))
        if key not in seen:
            seen.add(key)
            if len(source.sql) <= MAX_QUERY_CHARS:
                budget -= len(source.sql)
        if budget < 0:
            ctx.error("E312", f"the spec's SQL sources hold more than {MAX_SPEC_SQL_CHARS:,} characters of"
                              " queries; this one was not checked", ("datasets", name, "source", "sql"),
                      label="too much SQL", help="split the system into several spec files")
            continue
        parsed = parse_query(*key)
        at = ("datasets", name, "source")
        for problem in parsed.problems:
            ctx.error("E311" if problem.template else "E312", problem.message, (*at, "sql"),
                      label=problem.label, help=problem.help)
        if not parsed.ok:
            continue
        if "data_interval_start" in template_variables(source.sql):
            ctx.error("W317", "`{{ data_interval_start }}` is the run's own time in Airflow 3, not the start of the"
                              " period before it", (*at, "sql"), severity=Severity.WARNING,
                      label="a cron schedule's runs have no data interval (CronTriggerTimetable)",
                      help="filter on `{{ ds }}` (the day the run stands for), or on a window ending at"
                           " `{{ data_interval_end }}`; `mlspec codes W317` says more")
        _check_tables(ctx, at, parsed, source, connection)
        if connection is not None and connection.tables:
            _check_columns(ctx, at, parsed, source, connection)


def _typo_or_describe(name: str, connections) -> str:
    import difflib

    if difflib.get_close_matches(name, list(connections), n=1, cutoff=0.6):
        return did_you_mean(name, connections)
    described = ", ".join(f"`{c}`" for c in sorted(connections))
    return f"describe `{name}` under `platform.connections` too, beside {described}"


def _check_tables(ctx: CheckContext, at: tuple, parsed, source: SqlSource, connection) -> None:
    from mlspec.spec.sql import source_tables

    for problem in source_tables(parsed, source.tables, connection).problems:
        path = (*at, "sql") if problem.at_connection else (*at, "tables") if problem.index is None \
            else (*at, "tables", problem.index)
        ctx.error("E314", problem.message, path, label=problem.label, help=problem.help)


def _check_columns(ctx: CheckContext, at: tuple, parsed, source: SqlSource, connection) -> None:
    from mlspec.spec.sql import connection_undeclared_columns

    several_lines = "\n" in source.sql.strip()
    for column, why, line in connection_undeclared_columns(parsed, connection):
        where = f" (line {line} of the query)" if several_lines else ""
        ctx.error("E315", f"the query reads `{column}`{where}, a column its tables do not declare: {why}", (*at, "sql"),
                  label="undeclared column",
                  help=f"fix the column's name, or add it to `platform.connections.{source.connection}.tables`")
