"""Prediction logs in exactly the form KServe's inference logger writes them to blob storage
(kserve/kserve pkg/logger): each event's object is `json.Marshal` of a LogRequest (types.go: its
fields in declaration order, `omitempty` ones left out when empty, a *url.URL as Go encodes the
struct, the body as base64 like any []byte, `occurrenceTime` in RFC 3339), one object alone or a
batch as a list (marshaller_json.go), under `<url path>/<namespace>/<isvc>/<component>/<path>/`
named `<id>-<request|response>.json` (store.go, getObjectKey)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import urlsplit

REQUEST = "org.kubeflow.serving.inference.request"
RESPONSE = "org.kubeflow.serving.inference.response"


def go_url(url: str) -> dict:
    """A *url.URL marshalled by encoding/json: its exported fields (url.URL has no MarshalJSON)."""
    parts = urlsplit(url)
    return {"Scheme": parts.scheme, "Opaque": "", "User": None, "Host": parts.netloc, "Path": parts.path,
            "RawPath": "", "OmitHost": False, "ForceQuery": False, "RawQuery": parts.query,
            "Fragment": parts.fragment, "RawFragment": ""}


def log_request(event_id: str, req_type: str, body: dict, when: str, *, isvc: str, namespace: str,
                log_url: str, pod: str = "churn-predictor-00001-deployment-abc") -> dict:
    """One LogRequest as the agent's worker fills it for a request or a response."""
    return {
        "url": go_url(log_url),
        "bytes": base64.b64encode(json.dumps(body).encode()).decode(),
        "contentType": "application/json",
        "reqType": req_type,
        "id": event_id,
        "sourceUri": go_url(f"http://{pod}/"),
        "inferenceService": isvc,
        "namespace": namespace,
        "component": "predictor",
        "endpoint": "default",
        "metadata": {},
        "occurrenceTime": when,
    }


def write_objects(folder: Path, events: list[dict], batch: int = 1) -> list[Path]:
    """Write events as the blob store does: a batch of one is the object, more a list, named after
    the batch's first event."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for start in range(0, len(events), batch):
        chunk = events[start:start + batch]
        first = chunk[0]
        path = folder / f"{first['id']}-{first['reqType'].rsplit('.', 1)[1]}.json"
        path.write_text(json.dumps(chunk[0] if len(chunk) == 1 else chunk, separators=(",", ":")))
        written.append(path)
    return written


def v1_exchange(rows: list[list], predictions: list) -> tuple[dict, dict]:
    return {"instances": rows}, {"predictions": predictions}


def v2_exchange(rows: list[list], predictions: list, request_id: str = "") -> tuple[dict, dict]:
    """An Open Inference Protocol request with one [n, k] FP64 tensor and its response."""
    flat = [float(v) for row in rows for v in row]
    request = {"id": request_id, "inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])],
                                             "datatype": "FP64", "data": flat}]}
    response = {"model_name": "churn", "id": request_id,
                "outputs": [{"name": "output-0", "shape": [len(predictions)], "datatype": "FP64",
                             "data": predictions}]}
    return request, response


CHURN_LOG = {"isvc": "customer-churn-churn", "namespace": "models",
             "log_url": "s3://mlspec-monitoring/customer-churn/churn"}
# Where KServe's agent writes customer-churn's prod InferenceService's log: <logger url path>/
# <namespace>/<isvc>/predictor/<storage.path>/ in s3://mlspec-monitoring.
CHURN_PREFIX = "customer-churn/churn/models/customer-churn-churn/predictor/predictions/"


def put_frames(client, bucket: str, prefix: str, frames: dict, features: list[str], where: dict = CHURN_LOG) -> None:
    """Each frame (rows of `features`, `prediction` and `timestamp`) as KServe logs it, in place of
    whatever the bucket held: five rows per request (v1 and v2 in turn), its response with the
    predictions, one object each, stamped with the rows' newest time."""
    for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=obj["Key"])
    for name, frame in frames.items():
        for start in range(0, len(frame), 5):
            rows = frame.iloc[start:start + 5]
            request, response = (v1_exchange if start % 10 else v2_exchange)(
                rows[features].astype(float).values.tolist(), rows["prediction"].tolist())
            stamp = rows["timestamp"].max().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            event = f"{name}-{start}"
            for kind, body in ((REQUEST, request), (RESPONSE, response)):
                value = log_request(event, kind, body, stamp, **where)
                client.put_object(Bucket=bucket, Key=f"{prefix}{event}-{kind.rsplit('.', 1)[1]}.json",
                                  Body=json.dumps(value).encode())
