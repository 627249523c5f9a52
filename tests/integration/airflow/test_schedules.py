"""mlspec accepts an Airflow schedule exactly when Airflow 3 does: the same expressions are
handed to Airflow's own timetable (CronTriggerTimetable.validate, which asks croniter) in a
fresh interpreter with its own AIRFLOW_HOME."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import TypeAdapter, ValidationError

from mlspec.spec.types import Schedule

pytestmark = pytest.mark.slow

EXPRESSIONS = ["0 6 L * *", "0 6 * * 1#2", "0 6 15W * *", "0 0 ? * *", "0 0 5-1 * *", "*/15 * * * *", "0 6 * * 1-5",
               "0 0 * jan-mar mon-fri", "0 6 * * 5L", "H * * * *", "60 * * * *", "0 25 * * *", "0 3 * *",
               "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly", "@annually", "@midnight",
               "@once", "@continuous", "@every 1h", "@fortnightly"]

AIRFLOW_VERDICTS = r"""
import json, sys
from airflow.sdk.definitions.dag import _create_timetable
from airflow.serialization.encoders import coerce_to_core_timetable
verdicts = {}
for expression in json.loads(sys.argv[1]):
    try:
        coerce_to_core_timetable(_create_timetable(expression, "UTC")).validate()
        verdicts[expression] = True
    except Exception as exc:
        verdicts[expression] = False
print(json.dumps(verdicts))
"""


def test_mlspec_and_airflow_accept_the_same_schedules(tmp_path):
    env = {"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": "/usr/bin:/bin",
           "AIRFLOW__CORE__UNIT_TEST_MODE": "False"}
    result = subprocess.run([sys.executable, "-c", AIRFLOW_VERDICTS, json.dumps(EXPRESSIONS)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    airflow = json.loads(result.stdout.strip().splitlines()[-1])
    schedule = TypeAdapter(Schedule)

    def mlspec(expression: str) -> bool:
        try:
            schedule.validate_python(expression)
        except ValidationError:
            return False
        return True

    assert {e: mlspec(e) for e in EXPRESSIONS} == airflow
    assert airflow["0 6 L * *"] and not airflow["0 6 * * 5L"]  # the table covers both verdicts
