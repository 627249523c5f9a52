"""SQL sources: only the allowed Airflow date variables, and one SELECT that reads tables."""

from __future__ import annotations

from mlspec.check.context import CheckContext
from mlspec.spec.models import SqlSource


def check_sql_sources(ctx: CheckContext) -> None:
    """E311: the query uses Jinja other than a bare allowed date variable (Airflow renders it
    with every connection and Variable in scope). E312: it is not one SELECT reading tables.
    See spec/sql.py; sqlglot is imported only when a spec has a SQL source."""
    sources = [(name, dataset.source) for name, dataset in ctx.spec.datasets.items()
               if isinstance(dataset.source, SqlSource)]
    if not sources:
        return
    from mlspec.spec.sql import dialect_for, parse_query

    for name, source in sources:
        parsed = parse_query(source.sql, dialect_for(source.tables))
        for problem in parsed.problems:
            ctx.error("E311" if problem.template else "E312", problem.message,
                      ("datasets", name, "source", "sql"), label=problem.label, help=problem.help)
