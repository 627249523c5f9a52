"""Mistakes that leave the spec valid but do nothing: each is a located warning from
`mlspec validate` (exit 0, the spec still compiles), so the README's "nothing is silently
ignored" holds for them too."""

from __future__ import annotations

import re
import shutil

import pytest

from conftest import SPECS, invoke_mlspec

CHURN = "specs/customer-churn.yaml"


def _edited(tmp_path, *edits: tuple[str, str]):
    shutil.copytree(SPECS, tmp_path / "specs")
    spec = tmp_path / CHURN
    text = spec.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    spec.write_text(text)
    return text


def _line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def _warnings(stderr: str) -> list[tuple[str, str, str]]:
    """(code, message, location) of each warning in the human rendering."""
    return re.findall(r"^warning\[(W\d{3})\]: (.*)\n\s+--> (\S+)$", stderr, flags=re.M)


def test_the_example_specs_have_no_warnings_but_the_legacy_iter8_one():
    """payments-risk keeps one rollout on the legacy Iter8 backend on purpose (its output stays
    compiled and tested); that rollout's W411 is the only warning the examples give."""
    result = invoke_mlspec("validate", "specs", check=True)
    assert [code for code, _, _ in _warnings(result.stderr)] == ["W411"], result.stderr
    assert "specs/payments-risk.yaml:" in result.stderr


def test_drift_monitoring_on_a_model_that_is_not_served(tmp_path):
    text = _edited(tmp_path, ("    rollout:", "    x-rollout:"))  # drop serving and rollout below
    text = re.sub(r"\n    serving:\n(      .*\n)+", "\n", text)
    text = re.sub(r"\n    x-rollout:.*\n(      .*\n)*", "\n", text)
    text = text.replace("      models.churn.serving.replicas: {min: 1, max: 1}\n", "")
    text = text.replace("      models.churn.rollout.canaryTrafficPercent: 50\n", "")
    text = text.replace("    overrides:\n  prod:", "  prod:")
    (tmp_path / CHURN).write_text(text)
    result = invoke_mlspec("validate", CHURN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [(code, message, where)] = _warnings(result.stderr)
    assert code == "W410" and "model `churn` is not served" in message
    assert where == f"{CHURN}:{_line_of(text, 'drift: {schedule')}:7"
    assert "monitoring.drift.predictions" in result.stderr  # the help names the way out


def test_a_base_value_every_environment_overrides(tmp_path):
    text = _edited(tmp_path, ("    cluster: https://kubernetes.default.svc\n\ndeploy:",
                              "    cluster: https://kubernetes.default.svc\n    overrides:\n"
                              "      models.churn.serving.replicas.max: 3\n\ndeploy:"))
    result = invoke_mlspec("validate", CHURN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [(code, message, where)] = _warnings(result.stderr)
    assert code == "W604" and message.startswith("`models.churn.serving.replicas.max` is overridden by every"
                                                 " environment (`dev`, `prod`)")
    line = _line_of(text, "replicas: {min: 1, max: 5}")
    assert where == f"{CHURN}:{line}:{text.splitlines()[line - 1].index('5}') + 1}"
    # What `explain` says of that value: it feeds no generated file.
    explained = invoke_mlspec("explain", "models.churn.serving.replicas.max", CHURN, cwd=tmp_path, check=True)
    assert "feeds no generated file" in explained.stdout
    # `min` is overridden only in `dev`: in effect in `prod`, so not reported.
    assert "replicas.min" not in result.stderr


@pytest.mark.parametrize("path", ["models.churn.serving.replicas.max", "models.churn.rollout.canaryTrafficPercent",
                                  "slos.churn-api.latencyP95Ms.max"])
def test_what_the_warning_calls_unused_explain_finds_unused(tmp_path, path):
    """The per-environment-only table (source/overlay.py) against `explain`, which compiles the
    spec with the value changed: each value of the table, overridden everywhere, feeds nothing."""
    value = {"models.churn.serving.replicas.max": "3", "models.churn.rollout.canaryTrafficPercent": "30",
             "slos.churn-api.latencyP95Ms.max": "150"}[path]
    edits = [("    cluster: https://kubernetes.default.svc\n\ndeploy:",
              f"    cluster: https://kubernetes.default.svc\n    overrides:\n      {path}: {value}\n\ndeploy:")]
    if path == "slos.churn-api.latencyP95Ms.max":  # `dev` overrides the other two already
        edits.append(("      models.churn.rollout.canaryTrafficPercent: 50\n",
                      f"      models.churn.rollout.canaryTrafficPercent: 50\n      {path}: {value}\n"))
    _edited(tmp_path, *edits)
    result = invoke_mlspec("validate", CHURN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [w[0] for w in _warnings(result.stderr)] == ["W604"], result.stderr
    explained = invoke_mlspec("explain", path, CHURN, cwd=tmp_path, check=True)
    assert "feeds no generated file" in explained.stdout, explained.stdout


def test_a_feature_view_no_model_reads(tmp_path):
    text = _edited(tmp_path, ("featureViews:\n", "featureViews:\n  spare_features:\n    entities: [customer]\n"
                              "    source: customers\n    timestampField: event_timestamp\n    ttl: 1d\n"
                              "    features: {age_group: string}\n"))
    result = invoke_mlspec("validate", CHURN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [(code, message, where)] = _warnings(result.stderr)
    assert (code, message) == ("W211", "feature view `spare_features` is read by no model")
    assert where == f"{CHURN}:{_line_of(text, 'spare_features:')}:3"
    assert invoke_mlspec("compile", CHURN, "--out", "out", cwd=tmp_path).returncode == 0  # still valid


def test_a_sql_source_on_a_connection_the_spec_does_not_describe_beside_described_ones(tmp_path):
    """customer-churn describes `warehouse`; a source naming `warehose` (a typo) would lose its
    dialect and the table names lineage takes from its query, silently."""
    text = _edited(tmp_path, ("connection: warehouse", "connection: warehose"))
    result = invoke_mlspec("validate", CHURN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = _line_of(text, "connection: warehose")
    column = text.splitlines()[line - 1].index("warehose") + 1
    assert ("W316", "connection `warehose` is not described under `platform.connections`",
            f"{CHURN}:{line}:{column}") in _warnings(result.stderr)
    assert "did you mean `warehouse`?" in result.stderr


def test_a_query_filtering_on_data_interval_start_is_told_what_airflow_3_renders(tmp_path):
    """Airflow 3.3.2's DAG (airflow/sdk/definitions/dag.py) runs a string schedule on a
    CronTriggerTimetable unless `create_cron_data_intervals` is set (default False): the interval
    has no length, so the Airflow 2 habit below selects only rows after the run was due."""
    text = _edited(tmp_path, ("WHERE day = '{{ ds }}'\"",
                              "WHERE ts >= '{{ data_interval_start }}' AND ts < '{{ data_interval_end }}'\""))
    result = invoke_mlspec("validate", CHURN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = _line_of(text, "data_interval_start")
    [(code, message, where)] = [w for w in _warnings(result.stderr) if w[0] == "W317"]
    assert message.startswith("`{{ data_interval_start }}` is the run's own time in Airflow 3")
    assert where.startswith(f"{CHURN}:{line}:")
    explained = invoke_mlspec("codes", "W317", check=True).stdout
    assert "CronTriggerTimetable" in explained and "create_cron_data_intervals" in explained

