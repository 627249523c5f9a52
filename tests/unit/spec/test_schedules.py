"""Schedules are checked as the tool that runs them checks them: an Airflow DAG's by croniter
(Airflow's own cron library, with its presets), a Kubernetes CronJob's by the five fields and
descriptors robfig/cron's standard parser takes."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from mlspec.spec.types import CronJobSchedule, Schedule, cron_problem

AIRFLOW = TypeAdapter(Schedule)
CRONJOB = TypeAdapter(CronJobSchedule)

# Plain expressions: the hand-written check decides them without importing croniter.
PLAIN = ["* * * * *", "*/15 * * * *", "0 6 * * 1-5", "0 0 1 */3 *", "5/15 * * * *", "0 0 * * 7", "0 0 * * 0,6",
         "0 0 * jan-mar mon-fri", "30 2 1,15 * *", "0 0 31 12 *", "1-59/2 0-23/3 1-31 1-12 0-7"]


@pytest.mark.parametrize("expression", PLAIN)
def test_every_plain_expression_the_quick_check_accepts_croniter_accepts(expression):
    from croniter import croniter

    assert cron_problem(expression) is None
    croniter(expression)  # raises if Airflow's library refused what mlspec lets through


@pytest.mark.parametrize("expression", [
    "0 6 L * *",      # 06:00 on the last day of each month
    "0 6 * * 1#2",    # the second Monday
    "0 6 15W * *",    # the weekday nearest the 15th
    "0 0 ? * *",
    "0 0 5-1 * *",    # croniter takes a range that wraps
    "@midnight", "@annually", "@quarterly", "@once", "@continuous",
])
def test_what_airflow_accepts_passes(expression):
    assert AIRFLOW.validate_python(expression) == expression


@pytest.mark.parametrize("expression,why", [
    ("0 6 * * 5L", "out of range for the day of week field"),
    ("H * * * *", "out of range for the minute field"),  # croniter needs a hash id Airflow never passes
    ("60 * * * *", "`60` is out of range for the minute field (0-59)"),
    ("0 0 * * * 30", "a cron expression has 5 fields"),  # croniter's seconds field: Airflow schedules by minute
    ("@every 1h", "unknown schedule preset"),
])
def test_what_airflow_refuses_is_refused_with_the_reason(expression, why):
    with pytest.raises(ValidationError) as error:
        AIRFLOW.validate_python(expression)
    assert why in str(error.value)


@pytest.mark.parametrize("expression,ok", [
    ("*/5 * * * *", True), ("@hourly", True), ("@midnight", True), ("@annually", True),
    ("@quarterly", False), ("@once", False), ("@continuous", False), ("0 6 L * *", False),
])
def test_a_cronjob_schedule_takes_what_kubernetes_takes(expression, ok):
    if ok:
        assert CRONJOB.validate_python(expression) == expression
    else:
        with pytest.raises(ValidationError):
            CRONJOB.validate_python(expression)
