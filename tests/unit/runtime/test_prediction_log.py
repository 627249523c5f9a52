"""The drift DAG reads the prediction log KServe's logger writes (tests/support/kserve_log.py has
the format, from KServe's pkg/logger): requests and responses joined by their event id into the
feature frame, for the v1 (`instances`/`predictions`) and v2 (`inputs`/`outputs` tensors)
protocols, single objects and batches alike; and the generated InferenceService logs exactly
where the generated drift DAG reads."""

from __future__ import annotations

import ast

import pandas as pd
import yaml

from conftest import REPO
from mlspec.runtime import airflow_tasks as tasks
from support.kserve_log import REQUEST, RESPONSE, log_request, v1_exchange, v2_exchange, write_objects

FEATURES = ["total_purchases", "avg_order_value", "days_since_last_purchase", "support_tickets_count"]
WHERE = {"isvc": "customer-churn-churn", "namespace": "models", "log_url": "s3://mlspec-monitoring/customer-churn/churn"}


def exchange(event_id, request, response, when="2026-01-02T10:00:00.123456789Z"):
    return [log_request(event_id, REQUEST, request, when, **WHERE),
            log_request(event_id, RESPONSE, response, "2026-01-02T10:00:00.2Z", **WHERE)]


def read(folder):
    return tasks.kserve_frame(tasks.kserve_events({}, f"{folder}/"), FEATURES)


def test_v1_requests_and_responses_join_by_event_id(tmp_path):
    events = exchange("b-2", *v1_exchange([[1.0, 2.0, 3, 4]], [1])) + \
        exchange("a-1", *v1_exchange([[10.0, 20.0, 30, 40], [11.0, 21.0, 31, 41]], [0, 1]))
    write_objects(tmp_path, events[::-1])  # responses before requests: the order does not matter
    frame = read(tmp_path)
    assert list(frame.columns) == [*FEATURES, "prediction", "timestamp", "event_id"]
    assert frame["event_id"].tolist() == ["a-1", "a-1", "b-2"]
    assert frame["total_purchases"].tolist() == [10.0, 11.0, 1.0]
    assert frame["prediction"].tolist() == [0, 1, 1]
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2026-01-02T10:00:00.123456789Z")


def test_v1_instances_by_name_and_a_request_without_its_response(tmp_path):
    request = {"instances": [{"total_purchases": 5.0, "support_tickets_count": 2}]}
    write_objects(tmp_path, [log_request("c-3", REQUEST, request, "2026-01-02T09:00:00Z", **WHERE)])
    frame = read(tmp_path)
    assert frame[["total_purchases", "support_tickets_count", "event_id"]].to_dict("records") == [
        {"total_purchases": 5.0, "support_tickets_count": 2, "event_id": "c-3"}]
    assert "prediction" not in frame.columns  # not answered yet: the features still count


def test_v2_tensors_in_batched_objects(tmp_path):
    first = exchange("e-1", *v2_exchange([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]], [0.1, 0.9], "e-1"))
    columns = {"inputs": [{"name": n, "shape": [1], "datatype": "FP64", "data": [float(i)]}
                          for i, n in enumerate(FEATURES)]}
    second = exchange("e-2", columns, {"outputs": [{"name": "p", "shape": [1], "datatype": "FP64", "data": [0.5]}]})
    written = write_objects(tmp_path, first + second, batch=3)  # a batch is a JSON list
    assert [p.name for p in written] == ["e-1-request.json", "e-2-response.json"]
    frame = read(tmp_path)
    assert frame[FEATURES].values.tolist() == [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [0.0, 1.0, 2.0, 3.0]]
    assert frame["prediction"].tolist() == [0.1, 0.9, 0.5]


def test_the_inference_service_logs_where_the_drift_dag_reads():
    """KServe's agent writes under <url path>/<namespace>/<isvc>/predictor/<storage.path>/."""
    for system, model, env, file in (("customer-churn", "churn", "prod", "churn"),
                                     ("payments-risk", "fraud_score", "prod", "fraud-score")):
        manifest = yaml.safe_load((REPO / f"generated/{system}/k8s/{env}/inferenceservice-{file}.yaml").read_text())
        logger = manifest["spec"]["predictor"]["logger"]
        assert logger["mode"] == "all" and logger["storage"]["parameters"] == {"format": "json"}
        written = (f"{logger['url']}/{manifest['metadata']['namespace']}/{manifest['metadata']['name']}/predictor/"
                   f"{logger['storage']['path']}/")
        dag = (REPO / f"generated/{system}/airflow/dags/{system.replace('-', '_')}__drift_{model}.py").read_text()
        config = ast.literal_eval(dag.split("CONFIG = ", 1)[1].split("\n\n", 1)[0])
        assert config["settings"]["predictions"][1] == written
        assert config["prediction_log"] == "kserve"
        assert logger["storage"].get("serviceAccountName") == manifest["spec"]["predictor"].get("serviceAccountName")
