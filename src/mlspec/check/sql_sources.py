"""SQL sources: only the allowed Airflow date variables, and one SELECT that reads tables."""

from __future__ import annotations

from mlspec.check.context import CheckContext
from mlspec.spec.models import SqlSource


# All the queries of one spec, parsed at about 10 microseconds a character: a few seconds at most.
MAX_SPEC_SQL_CHARS = 1_000_000


def check_sql_sources(ctx: CheckContext) -> None:
    """E311: the query uses Jinja other than a bare allowed date variable (Airflow renders it
    with every connection and Variable in scope). E312: it is not one SELECT reading tables.
    See spec/sql.py; sqlglot is imported only when a spec has a SQL source."""
    sources = [(name, dataset.source) for name, dataset in ctx.spec.datasets.items()
               if isinstance(dataset.source, SqlSource)]
    if not sources:
        return
    from mlspec.spec.sql import MAX_QUERY_CHARS, dialect_for, parse_query

    parsed_before: dict[tuple[str, str | None], object] = {}  # a query shared by YAML aliases is parsed once
    budget = MAX_SPEC_SQL_CHARS
    for name, source in sources:
        key = (source.sql, dialect_for(source.tables))
        if key not in parsed_before:
            if len(source.sql) <= MAX_QUERY_CHARS:
                budget -= len(source.sql)
            if budget < 0:
                ctx.error("E312", f"the spec's SQL sources hold more than {MAX_SPEC_SQL_CHARS:,} characters of"
                                  " queries; this one was not checked", ("datasets", name, "source", "sql"),
                          label="too much SQL", help="split the system into several spec files")
                continue
            parsed_before[key] = parse_query(*key)
        parsed = parsed_before[key]
        for problem in parsed.problems:
            ctx.error("E311" if problem.template else "E312", problem.message,
                      ("datasets", name, "source", "sql"), label=problem.label, help=problem.help)
