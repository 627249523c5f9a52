"""The SQL of an ingestion source, which a pull request controls: Airflow renders it as a
Jinja template with every connection and Variable in scope before the extract task sends it
to the database, and the local run executes it. Only the run's date variables may be
rendered, and the query must be one SELECT that only reads tables."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import run_mlspec

SECRET = "S3CRET-warehouse-password"
SPEC = "specs/customer-churn.yaml"
ACTIVITY_SQL = "SELECT * FROM customer_activity WHERE day = '{{ ds }}'"


def _with_activity_sql(project: Path, sql: str) -> None:
    spec = project / SPEC
    text = spec.read_text()
    assert f'sql: "{ACTIVITY_SQL}"' in text
    spec.write_text(text.replace(f'sql: "{ACTIVITY_SQL}"', "sql: " + _yaml_string(sql)))


def _yaml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _line_of(project: Path, needle: str) -> int:
    return next(number for number, line in enumerate((project / SPEC).read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize("sql", [
    "SELECT * FROM customer_activity WHERE note = '{{ conn.warehouse.password }}'",
    "SELECT * FROM customer_activity WHERE note = '{{ var.value.aws_secret }}'",
    "SELECT * FROM customer_activity WHERE day = '{{ ds }}' {% for c in conn %}{% endfor %}",
    "SELECT * FROM customer_activity WHERE day = '{{ ds | replace(\"-\", \"\") }}'",
    "SELECT * FROM customer_activity WHERE day = '{{ macros.ds_add(ds, 1) }}'",
])
def test_a_query_that_reads_airflows_secrets_is_refused_at_validate_and_compile(project, sql):
    """Attack: `{{ conn.<id>.password }}` (or `var.value`, a loop over `conn`, a macro) in a
    source's query: Airflow renders it into the query the task sends to the spec author's own
    database. Refused with a located E311; compile writes nothing."""
    _with_activity_sql(project, sql)
    line = _line_of(project, "customer_activity WHERE")

    validated = run_mlspec("validate", SPEC, cwd=project)
    compiled = run_mlspec("compile", SPEC, "--out", "generated", cwd=project)

    for result in (validated, compiled):
        assert result.returncode == 1, result.stdout + result.stderr
        assert "error[E311]" in result.stderr
        assert f"{SPEC}:{line}:" in result.stderr
    assert not (project / "generated").exists()


@pytest.mark.parametrize("sql,words", [
    ("SELECT * FROM read_text('/etc/passwd')", "table function"),
    ("SELECT * FROM customer_activity; COPY customer_activity TO '/home/user/.bashrc'", "2 statements"),
    ("COPY (SELECT 1) TO '../../.git/config'", "`COPY`"),
    ("ATTACH '/home/user/secrets.duckdb' AS s", "not a SELECT"),
    ("PRAGMA enable_external_access", "`PRAGMA`"),
    ("WITH gone AS (DELETE FROM customer_activity RETURNING *) SELECT * FROM gone", "DELETE"),
    ("SELECT * INTO stolen FROM customer_activity", "INTO"),
    ("SELECT * FROM 'data/../../secret.csv'", "names a file"),
])
def test_a_query_that_is_not_one_select_reading_tables_is_refused(project, sql, words):
    """Attack: a source that reads files (`FROM read_text(...)`), writes them (`COPY ... TO`),
    attaches another database or changes data. Refused at validate with a located E312."""
    _with_activity_sql(project, sql)
    line = _line_of(project, "sql: " + _yaml_string(sql)[:20])

    result = run_mlspec("validate", SPEC, cwd=project)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "error[E312]" in result.stderr and words in result.stderr
    assert f"{SPEC}:{line}:" in result.stderr


@pytest.mark.slow
def test_the_allowed_date_variables_render_in_airflow_and_nothing_else_of_the_spec_does(project):
    """The control: the date variables still work. The compiled DAG's extract task, rendered
    by Airflow itself (`airflow tasks render`, with a connection holding a password in the
    environment), sends the run's dates and nothing else; no other templated field of any
    generated task holds a template."""
    from support.airflow_runner import AIRFLOW, shared_home

    sql = ("SELECT * FROM customer_activity WHERE day = '{{ ds }}' AND part = '{{ ds_nodash }}'"
           " AND ts >= '{{ data_interval_start }}' AND ts < '{{ data_interval_end }}'")
    _with_activity_sql(project, sql)
    run_mlspec("compile", SPEC, "--out", "generated", cwd=project, check=True)
    dags = project / "generated/customer-churn/airflow/dags"
    home = shared_home()
    env = home.env(dags, {"AIRFLOW_CONN_WAREHOUSE": f"postgres://reader:{SECRET}@warehouse:5432/analytics"})

    import subprocess

    rendered = subprocess.run([str(AIRFLOW), "tasks", "render", "customer_churn__ingest_customer_activity",
                               "extract", "2024-03-05"], env=env, capture_output=True, text=True, timeout=600,
                              cwd=home.path)

    assert rendered.returncode == 0, rendered.stdout[-3000:] + rendered.stderr[-3000:]
    assert ("SELECT * FROM customer_activity WHERE day = '2024-03-05' AND part = '20240305'"
            " AND ts >= '2024-03-05") in rendered.stdout
    assert "{{" not in rendered.stdout and SECRET not in rendered.stdout
    # Every generated DAG file: the one Jinja left for Airflow is the query's (the comment
    # in the extract task quotes `{{ ds }}` as an example).
    for dag_file in dags.glob("*.py"):
        for line in dag_file.read_text().splitlines():
            if "{{" in line or "{%" in line:
                assert "templates_dict" in line or line.strip().startswith("#"), (dag_file.name, line)
                assert not re.search(r"\{\{(?!\s*(ds|ds_nodash|data_interval_start|data_interval_end)\s*\}\})", line)


def test_one_long_query_behind_many_aliases_is_parsed_once(tmp_path):
    """Attack: a long query (parsing costs about 10 microseconds a character) shared by 62
    datasets through YAML aliases, or a query of megabytes: each alias was one more parse.
    A query is parsed once however often it appears, and one past 100,000 characters is
    refused unparsed. No time is asserted: a regression shows as the timeout."""
    import subprocess
    import sys

    query = "SELECT a FROM t WHERE day = '{{ ds }}' AND x IN (" + ",".join(str(i) for i in range(17_000)) + ")"
    assert 90_000 < len(query) < 100_000
    datasets = [f"""  d0:
    source: {{sql: &q "{query}", connection: warehouse}}
    columns: {{a: {{type: int64}}}}
"""] + [f"""  d{i}:
    source: {{sql: *q, connection: warehouse}}
    columns: {{a: {{type: int64}}}}
""" for i in range(1, 63)] + [f"""  huge:
    source: {{sql: "SELECT a FROM t WHERE b = '{'x' * 2_000_000}'", connection: warehouse}}
    columns: {{a: {{type: int64}}}}
"""]
    spec = tmp_path / "spec.yaml"
    spec.write_text("apiVersion: mlspec/v1alpha1\nkind: MLSystem\nmetadata: {name: many}\ndatasets:\n"
                    + "".join(datasets))

    result = subprocess.run([sys.executable, "-m", "mlspec", "validate", "--format", "json", str(spec)],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})

    import json

    diagnostics = json.loads(result.stdout)["diagnostics"]
    assert result.returncode == 1, result.stderr[-2000:]
    assert [(d["code"], d["path"]) for d in diagnostics] == [("E312", "datasets.huge.source.sql")], diagnostics
    assert "characters long" in diagnostics[0]["message"]
