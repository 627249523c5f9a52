"""`mlspec impact NODE --events FILE`: "if this table changes, which models are affected?"
answered from OpenLineage events instead of the spec. Here the events are the spec's own
(`mlspec lineage emit --file`), so both answers must agree; a local run's events are checked
against the spec in tests/integration/local/test_run_local.py."""

from __future__ import annotations

import json

from conftest import invoke_mlspec
from support.openlineage_schema import event_errors

SPEC = "specs/customer-churn.yaml"


def _emitted(tmp_path):
    events = tmp_path / "events.jsonl"
    result = invoke_mlspec("lineage", "emit", SPEC, "--file", str(events))
    assert result.returncode == 0, result.stderr
    return events


def test_the_emitted_events_are_valid_against_openlineages_published_schemas(tmp_path):
    events = [json.loads(line) for line in _emitted(tmp_path).read_text().splitlines()]
    assert events and {e["job"]["name"] for e in events} >= {"customer_churn__train_churn.submit_pipeline"}
    assert {e["job"]["name"]: event_errors(e) for e in events if event_errors(e)} == {}
    broken = dict(events[0], eventType="DONE", run={"runId": "not-a-uuid"})
    assert event_errors(broken)  # the schema is really applied


def test_impact_from_events_gives_the_specs_models_and_deployments(tmp_path):
    events = _emitted(tmp_path)
    for table in ("table:customers", "table:analytics.public.customer_activity"):
        spec = invoke_mlspec("impact", table, SPEC, "--format", "json")
        run = invoke_mlspec("impact", table, SPEC, "--events", str(events), "--format", "json")
        assert spec.returncode == 0 and run.returncode == 0, spec.stderr + run.stderr
        [from_spec], [from_events] = json.loads(spec.stdout), json.loads(run.stdout)
        assert from_events["affected"]["models"] == from_spec["affected"]["models"] == ["churn"]
        assert from_events["affected"]["deployments"] == from_spec["affected"]["deployments"]
        assert from_events["events"] == str(events) and from_events["versions"] == []  # no run registered one
    text = invoke_mlspec("impact", "table:customers", SPEC, "--events", str(events)).stdout
    assert "  models:\n    churn\n" in text and f"from the events in {events}" in text


def test_a_line_that_is_not_an_event_is_named_by_its_line(tmp_path):
    events = _emitted(tmp_path)
    events.write_text(events.read_text() + "{not json\n")
    lines = len(events.read_text().splitlines())
    result = invoke_mlspec("impact", "table:customers", SPEC, "--events", str(events))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{events}:{lines}:2: not a JSON event" in result.stderr


def test_events_of_another_system_answer_nothing_for_this_one(tmp_path):
    events = tmp_path / "other.jsonl"
    assert invoke_mlspec("lineage", "emit", "specs/payments-risk.yaml", "--file", str(events)).returncode == 0
    result = invoke_mlspec("impact", "table:customers", SPEC, "--events", str(events))
    assert result.returncode == 2 and "no event of the specs' systems" in result.stderr
    assert "payments-risk" in result.stderr


def test_a_column_is_the_specs_to_answer(tmp_path):
    result = invoke_mlspec("impact", "column:customers.age_group", SPEC, "--events", str(_emitted(tmp_path)))
    assert result.returncode == 2 and "drop --events" in result.stderr
