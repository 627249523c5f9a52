"""What a spec's code sees and changes in `mlspec run --local` (issue 23): kfp's local runner
pip-installed `training.packages` into the virtualenv mlspec itself runs from, and the steps saw
the user's whole environment (cloud credentials, tokens). Shown with the real tools: the run's
Airflow home on the run's own Python (mlspec.local.airflow_home.run_python), `airflow dags
test` of a DAG whose task runs a kfp component with `packages_to_install` through kfp's local
runner, as the generated training DAG does (runtime.run_pipeline_locally)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mlspec.local.airflow_home import AirflowHome, run_python

pytest.importorskip("airflow")
pytest.importorskip("kfp")

SECRETS = {"AWS_SECRET_ACCESS_KEY": "aws-secret-1234", "MLSPEC_WEBHOOK_SECRET": "webhook-secret-1234",
           "GITHUB_TOKEN": "ghp_token1234", "GOOGLE_APPLICATION_CREDENTIALS": "/home/u/gcp.json",
           "AIRFLOW_CONN_PROD_WAREHOUSE": "postgres://admin:pw1234@prod/db"}
PROBE = "mlspec_probe_pkg"


def _wheel(folder: Path) -> None:
    """A pure-Python wheel `mlspec-probe-pkg 1.0`, so pip installs it offline (PIP_NO_INDEX)."""
    files = {f"{PROBE}/__init__.py": "INSTALLED = True\n",
             f"{PROBE}-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: mlspec-probe-pkg\nVersion: 1.0\n",
             f"{PROBE}-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                             "Tag: py3-none-any\n"}
    record = "".join(
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
        f"{len(text.encode())}\n" for name, text in files.items()) + f"{PROBE}-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(folder / f"{PROBE}-1.0-py3-none-any.whl", "w") as wheel:
        for name, text in {**files, f"{PROBE}-1.0.dist-info/RECORD": record}.items():
            wheel.writestr(name, text)


DAG = '''
import json, os
import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

OUT = {out!r}


def step():
    from kfp import dsl, local

    @dsl.component(base_image="python:3.11", packages_to_install=["mlspec-probe-pkg==1.0"])
    def train(out: str):
        import json, os, sys
        import {probe}
        with open(out + "/step.json", "w") as f:
            json.dump({{"env": dict(os.environ), "probe": {probe}.__file__, "prefix": sys.prefix}}, f)

    with open(OUT + "/task.json", "w") as f:
        json.dump(dict(os.environ), f)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=OUT + "/kfp")
    train(out=OUT)


with DAG("probe", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
    PythonOperator(task_id="train", python_callable=step)
'''


@pytest.mark.slow
def test_steps_install_packages_into_the_runs_python_and_see_no_credentials(tmp_path, monkeypatch):
    wheels, out, dags = tmp_path / "wheels", tmp_path / "out", tmp_path / "dags"
    for folder in (wheels, out, dags):
        folder.mkdir()
    _wheel(wheels)
    (dags / "probe.py").write_text(DAG.format(out=str(out), probe=PROBE))
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    python = run_python(tmp_path / "work" / "python")
    home = AirflowHome(tmp_path / "work" / "airflow", dags, python)

    home.migrate(tmp_path / "migrate.log")
    result = home.dags_test("probe", "2026-01-02", {}, tmp_path / "probe.log", timeout=900)

    assert result.returncode == 0 and (out / "step.json").exists(), result.stdout[-3000:]
    step = json.loads((out / "step.json").read_text())
    task = json.loads((out / "task.json").read_text())
    # the step's package went into the run's Python, in the work folder ...
    assert step["probe"].startswith(str(tmp_path / "work" / "python")), step["probe"]
    # ... and not into the environment mlspec runs from
    found = subprocess.run([sys.executable, "-c", f"import {PROBE}"], capture_output=True, text=True)
    assert found.returncode != 0 and "No module named" in found.stderr
    # neither the Airflow task nor the kfp step saw a credential of the user's environment
    for env in (task, step["env"]):
        assert not set(SECRETS) & set(env), set(SECRETS) & set(env)
        assert not any(value in json.dumps(env) for value in SECRETS.values())
        assert env["AIRFLOW_HOME"] == str(tmp_path / "work" / "airflow")
