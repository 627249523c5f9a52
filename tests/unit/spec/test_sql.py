"""spec/sql.py: the Jinja a SQL source may use, the one-SELECT rule, and the tables it reads
(a table: one query, what is found)."""

from __future__ import annotations

import pytest

from mlspec.spec.sql import AIRFLOW_DATE_VARIABLES, dialect_for, parse_query, render_sample

ALLOWED = [
    ("SELECT * FROM customer_activity WHERE day = '{{ ds }}'", None, ["customer_activity"]),
    ("SELECT * FROM events_{{ ds_nodash }}", None, ["events_20240101"]),
    ("SELECT * FROM t WHERE ts >= '{{ data_interval_start }}' AND ts < '{{data_interval_end}}'", "postgres", ["t"]),
    ("WITH a AS (SELECT id FROM raw.src) SELECT * FROM a JOIN b.c ON a.id = c.id"
     " UNION SELECT id FROM d WHERE id IN (SELECT id FROM cat.e.f)", "postgres", ["b.c", "cat.e.f", "d", "raw.src"]),
    ("SELECT * FROM (SELECT * FROM t) AS s;", None, ["t"]),
    ("SELECT `a` FROM shop.orders", "mysql", ["shop.orders"]),
]

REFUSED = [
    # (query, dialect, code family: template?, words of the message)
    ("SELECT '{{ conn.warehouse.password }}'", None, True, "attribute"),
    ("SELECT '{{ var.value.secret }}'", None, True, "attribute"),
    ("SELECT '{{ var[\"value\"] }}'", None, True, "attribute"),
    ("SELECT '{{ macros.ds_add(ds, 1) }}'", None, True, "call"),
    ("SELECT '{{ ds | replace(\"-\", \"\") }}'", None, True, "filter `replace`"),
    ("{% for c in conn %}{{ c }}{% endfor %}", None, True, "statement"),
    ("SELECT '{{ dag }}' FROM t", None, True, "variable `dag`"),
    ("SELECT '{{ prev_start_date_success }}' FROM t", None, True, "variable `prev_start_date_success`"),
    ("SELECT '{{ 'x' }}' FROM t", None, True, "template expression"),
    ("SELECT '{{ ds ", None, True, "not a valid template"),
    ("SELECT 1; SELECT 2", None, False, "2 statements"),
    ("SELECT * FROM t; COPY t TO '/tmp/x'", None, False, "2 statements"),
    ("COPY t TO '/tmp/x'", None, False, "`COPY`"),
    ("PRAGMA version", None, False, "`PRAGMA`"),
    ("ATTACH 'other.db' AS o", "duckdb", False, "`ATTACH`"),
    ("INSTALL httpfs", "duckdb", False, "`INSTALL`"),
    ("LOAD httpfs", "duckdb", False, "`LOAD`"),
    ("SET memory_limit = '1GB'", "duckdb", False, "not a SELECT"),
    ("DROP TABLE t", None, False, "`DROP`"),
    ("INSERT INTO t SELECT * FROM u", None, False, "`INSERT`"),
    ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "postgres", False, "DELETE"),
    ("SELECT * INTO copy_t FROM t", None, False, "INTO"),
    ("SELECT * FROM t FOR UPDATE", "postgres", False, "FOR UPDATE"),
    ("SELECT * FROM read_text('/etc/passwd')", "duckdb", False, "table function"),
    ("SELECT * FROM read_csv('/home/u/.aws/credentials')", None, False, "table function"),
    ("SELECT * FROM 'data/secret.csv'", "duckdb", False, "names a file"),
    ("SELECT pg_read_file('/etc/passwd')", "postgres", False, "pg_read_file"),
    ("SELECT * FROM t WHERE", None, False, "cannot be parsed"),
    ("", None, False, "empty"),
]


@pytest.mark.parametrize("sql,dialect,tables", ALLOWED)
def test_a_select_with_date_variables_is_accepted_with_the_tables_it_reads(sql, dialect, tables):
    parsed = parse_query(sql, dialect)
    assert parsed.ok, parsed.problems
    assert [table.qualified for table in parsed.tables] == tables


@pytest.mark.parametrize("sql,dialect,template,words", REFUSED)
def test_everything_else_is_refused_saying_why(sql, dialect, template, words):
    parsed = parse_query(sql, dialect)
    assert not parsed.ok and parsed.tables == ()
    assert parsed.problems[0].template is template
    assert words in parsed.problems[0].message, parsed.problems[0].message


def test_the_sample_rendering_is_airflows_for_each_allowed_variable():
    rendered = render_sample(" ".join(f"{{{{ {name} }}}}" for name in AIRFLOW_DATE_VARIABLES))
    assert rendered.split(" ", 1)[0] == "2024-01-01" and "{{" not in rendered


def test_the_dialect_is_the_one_the_table_uris_name_when_they_agree():
    assert dialect_for(["postgres://h:5432/db.public.t"]) == "postgres"
    assert dialect_for(["mysql://h:3306/db.t", "mysql://h:3306/db.u"]) == "mysql"
    assert dialect_for(["mysql://h:3306/db.t", "postgres://h:5432/db.public.t"]) is None
    assert dialect_for([]) is None


def test_the_readme_lists_exactly_the_allowed_variables():
    from conftest import REPO

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("- **SQL sources**"):readme.index("- **Typed values**")]
    import re

    listed = re.findall(r"`\{\{ (\w+) \}\}`", section.split("each written bare", 1)[1].split("(Airflow's", 1)[0])
    assert listed == list(AIRFLOW_DATE_VARIABLES)


def test_a_query_past_the_length_limit_is_refused_unparsed():
    from mlspec.spec.sql import MAX_QUERY_CHARS

    parsed = parse_query("SELECT {{ ds }}" * (MAX_QUERY_CHARS // 10))
    assert "characters long" in parsed.problems[0].message and not parsed.problems[0].template
