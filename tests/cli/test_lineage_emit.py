"""`mlspec lineage emit`: the static lineage graph as OpenLineage run events, posted to a
receiver on loopback (standing in for Marquez's POST /api/v1/lineage) or written to a file.

openlineage-python 1.54 ships no OpenLineage JSON Schema (only the facet classes), so the
events are checked here against the RunEvent rules of the spec they name (2-0-2): required
fields, UUID run id, RFC 3339 time with offset, event type enum, datasets with namespace
and name; tests/cli/test_impact_events.py validates them against OpenLineage's published
schemas, vendored (vendor/schemas/openlineage)."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
import pytest

from conftest import invoke_mlspec

RUN_EVENT = {
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job", "eventType"],
    "properties": {
        "eventTime": {"type": "string"},
        "producer": {"type": "string", "pattern": "^https?://"},
        "schemaURL": {"type": "string", "pattern": "^https://openlineage.io/spec/2-0-\\d+/OpenLineage.json#/\\$defs/RunEvent$"},
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "run": {"type": "object", "required": ["runId"], "properties": {"runId": {"type": "string"}}},
        "job": {"type": "object", "required": ["namespace", "name"],
                "properties": {"namespace": {"type": "string", "minLength": 1},
                               "name": {"type": "string", "minLength": 1}}},
        "inputs": {"type": "array", "items": {"$ref": "#/$defs/dataset"}},
        "outputs": {"type": "array", "items": {"$ref": "#/$defs/dataset"}},
    },
    "$defs": {"dataset": {"type": "object", "required": ["namespace", "name"],
                          "properties": {"namespace": {"type": "string", "minLength": 1},
                                         "name": {"type": "string", "minLength": 1},
                                         "facets": {"type": "object"}}}},
}


@pytest.fixture
def receiver():
    received: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _check(event: dict) -> None:
    jsonschema.Draft202012Validator(RUN_EVENT).validate(event)
    uuid.UUID(event["run"]["runId"])
    assert datetime.fromisoformat(event["eventTime"]).tzinfo is not None


def _io(event: dict) -> tuple[list, list]:
    return ([(d["namespace"], d["name"]) for d in event.get("inputs", [])],
            [(d["namespace"], d["name"]) for d in event.get("outputs", [])])


def test_events_reach_the_lineage_api_and_describe_the_graph(receiver):
    url, received = receiver

    result = invoke_mlspec("lineage", "emit", "specs/customer-churn.yaml", "--url", url)

    assert result.returncode == 0, result.stderr
    assert {path for path, _ in received} == {"/api/v1/lineage"}
    events = {event["job"]["name"]: event for _, event in received}
    # One job per task of every generated DAG (named as Airflow's OpenLineage provider names
    # them; the Feast DAG's apply and materialize among them), plus the two deployments no DAG runs.
    assert len(events) == len(received) == 17
    for event in events.values():
        _check(event)
        assert event["job"]["namespace"] == "customer-churn" and event["eventType"] == "COMPLETE"
    # ingestion reads the warehouse table (OpenLineage's postgres naming, from the query and the
    # connection the spec describes under platform.connections)
    # and lands it where the spec stores it, with its schema
    source = ("postgres://warehouse.internal:5432", "analytics.public.customers")
    assert _io(events["customer_churn__ingest_customers.extract"]) == ([source], [])
    assert _io(events["customer_churn__ingest_customers.upload"]) == ([source], [("s3://raw-data", "customers.parquet")])
    schema = events["customer_churn__ingest_customers.upload"]["outputs"][0]["facets"]["schema"]
    assert {"name": "churn", "type": "int8"} in [{k: f[k] for k in ("name", "type")} for f in schema["fields"]]
    # training reads the label table and the feature view, and produces the registered model
    inputs, outputs = _io(events["customer_churn__train_churn.submit_pipeline"])
    assert sorted(inputs) == [("customer-churn", "feast.customer_features"), ("s3://raw-data", "customers.parquet")]
    assert outputs == [("customer-churn", "mlflow.ChurnModel")]
    assert _io(events["customer_churn__feast.materialize"]) == (
        [("s3://feast-offline", "customer_activity.parquet")], [("customer-churn", "feast.customer_features")])
    assert _io(events["deployment.prod.churn"]) == ([("customer-churn", "mlflow.ChurnModel")],
                                                    [("customer-churn", "kserve.prod.churn")])
    # the drift check compares the training data with the prediction log
    assert _io(events["customer_churn__drift_churn.check_drift"])[0] == [
        ("s3://feast-offline", "customer_activity.parquet"),
        ("s3://mlspec-monitoring", "customer-churn/churn/models/customer-churn-churn/predictor/predictions/")]
    assert len({e["run"]["runId"] for e in events.values()}) == 17


def test_events_can_go_to_a_file(tmp_path):
    out = tmp_path / "events.jsonl"

    result = invoke_mlspec("lineage", "emit", "specs/payments-risk.yaml", "--file", str(out))

    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert events and all(_check(e) is None for e in events)
    trains = {e["job"]["name"]: _io(e) for e in events if "__train_" in e["job"]["name"]}
    assert ("payments-risk", "feast.card_activity") in trains["payments_risk__train_chargeback_loss.submit_pipeline"][0]


def test_an_ingestion_job_names_every_table_its_query_reads(tmp_path):
    """A source that joins tables through a CTE (tests/cases/sql/demand.yaml), and one that reads
    a subquery and a UNION on a MySQL connection: every table is an input of every ingestion task."""
    out = tmp_path / "events.jsonl"

    result = invoke_mlspec("lineage", "emit", "tests/cases/sql/demand.yaml", "--file", str(out))

    assert result.returncode == 0, result.stderr
    events = {e["job"]["name"]: e for e in map(json.loads, out.read_text().splitlines())}
    for event in events.values():
        _check(event)
    warehouse, shop = "postgres://warehouse.internal:5432", "mysql://shop-db.internal:3307"
    for task in ("extract", "validate", "upload"):
        assert _io(events[f"demand__ingest_store_weeks.{task}"])[0] == [
            (warehouse, "analytics.pricing.prices"), (warehouse, "analytics.public.sales"),
            (warehouse, "analytics.public.stores")]
    assert _io(events["demand__ingest_promotions.extract"]) == (
        [(shop, "promo.archive"), (shop, "promo.campaigns"), (shop, "shop.stores")], [])


def test_an_unreachable_lineage_api_is_a_clean_error():
    result = invoke_mlspec("lineage", "emit", "specs/customer-churn.yaml", "--url", "http://127.0.0.1:9")

    assert result.returncode == 4  # a failed external operation
    assert "error: sending lineage of customer-churn" in result.stderr and "Traceback" not in result.stderr
