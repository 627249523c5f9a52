"""W317 (a query filtering on `{{ data_interval_start }}`) is true only while the Airflow mlspec
targets makes a DAG's cron schedule a CronTriggerTimetable, whose runs have no data interval."""

from __future__ import annotations

import os
import subprocess
import sys

CHECK = r"""
import datetime, json
from airflow.sdk import DAG
from airflow.configuration import conf
dag = DAG("probe", schedule="@daily", start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
# What the scheduler does with it: the scheduler's own class of that name.
from airflow.timetables.base import TimeRestriction
from airflow.timetables.trigger import CronTriggerTimetable
scheduled = CronTriggerTimetable("@daily", timezone="UTC").next_dagrun_info(
    last_automated_data_interval=None,
    restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True))
interval = scheduled.data_interval
print(json.dumps([conf.getboolean("scheduler", "create_cron_data_intervals"), type(dag.timetable).__name__,
                  interval.start.isoformat(), interval.end.isoformat()]))
"""


def test_a_cron_schedule_runs_on_a_trigger_timetable_with_an_empty_interval(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env["AIRFLOW_HOME"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    import json

    default, timetable, start, end = json.loads(result.stdout.strip().splitlines()[-1])
    assert (default, timetable) == (False, "CronTriggerTimetable")
    assert start == end == "2024-01-01T00:00:00+00:00"  # the first run, due at the start date: no length
