"""`monitoring.drift.onDrift: alert` with `alert.email`: the drift DAG's `alert_drift` task, which
fails on drift, calls Airflow's SmtpNotifier with the spec's addresses and connection. Checked on
the DAG Airflow 3's DagBag loads; `alert` beside `onDrift: retrain` is a located error."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

from integration.airflow.test_training_triggers import DRIFT, DRIFT_DAG, spec_text
from mlspec.compiler.compile import compile_spec

ALERT = DRIFT.replace("ON_DRIFT", "alert").replace(
    "}}", ", alert: {email: {to: [ml-oncall@example.com, data@example.com], connection: smtp_alerts}}}}")
TRAINING = "{estimator: sklearn.linear_model.LogisticRegression}"

CALLBACKS = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
task = bag.dags[sys.argv[2]].get_task("alert_drift")
print("CALLBACKS" + json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "callbacks": [
    {"type": type(c).__module__ + "." + type(c).__name__, "to": c.to, "conn": c.smtp_conn_id, "subject": c.subject}
    for c in (task.on_failure_callback or [])]}))
"""


def test_the_alert_task_notifies_by_email_when_it_fails(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text(TRAINING, ALERT))
    result = compile_spec(spec, tmp_path / "generated", targets=["airflow"])
    assert result.ok, [d.message for d in result.diagnostics]
    for path, text in result.files.items():
        (tmp_path / "generated" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "generated" / path).write_text(text)
    with tempfile.TemporaryDirectory() as home:
        env = {"AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": "/usr/bin:/bin"}
        loaded = subprocess.run([sys.executable, "-c", CALLBACKS, str(tmp_path / "generated/airflow/dags"), DRIFT_DAG],
                                env=env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-4000:]
    seen = json.loads(loaded.stdout.split("CALLBACKS", 1)[1])
    assert seen["errors"] == {}
    assert seen["callbacks"] == [{
        "type": "airflow.providers.smtp.notifications.smtp.SmtpNotifier",
        "to": ["ml-oncall@example.com", "data@example.com"], "conn": "smtp_alerts",
        "subject": "mlspec: drift in the inputs of model churn of trigger-shop"}]


def test_an_alert_needs_on_drift_alert(tmp_path):
    spec = tmp_path / "spec.yaml"
    text = spec_text(TRAINING, ALERT.replace("onDrift: alert", "onDrift: retrain"))
    spec.write_text(text)
    result = compile_spec(spec, tmp_path / "generated", targets=["airflow"])
    assert not result.ok and not result.files
    found = [d for d in result.diagnostics if "set `onDrift: alert`" in d.message]
    assert found and found[0].span.line == text.splitlines().index("    " + ALERT.replace(
        "onDrift: alert", "onDrift: retrain")) + 1
