"""Prediction logs in exactly the form KServe's inference logger writes them to blob storage
(kserve/kserve pkg/logger): each event's object is `json.Marshal` of a LogRequest (types.go: its
fields in declaration order, `omitempty` ones left out when empty, a *url.URL as Go encodes the
struct, the body as base64 like any []byte, `occurrenceTime` in RFC 3339), one object alone or a
batch as a list (marshaller_json.go), under `<url path>/<namespace>/<isvc>/<component>/<path>/`
named `<id>-<request|response>.json` (store.go, getObjectKey).

`mlspec run --local` logs the traffic it scores with this, where the drift DAG reads it; the
tests write logs with it too, so the reader (mlspec.runtime.airflow_tasks.kserve_frame) is
checked against one writer."""

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
                log_url: str, pod: str = "predictor-00001-deployment-0") -> dict:
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


def object_name(event: dict) -> str:
    """The object's name in its folder: `<id>-request.json` or `<id>-response.json`."""
    return f"{event['id']}-{event['reqType'].rsplit('.', 1)[1]}.json"


def write_objects(folder: Path, events: list[dict], batch: int = 1) -> list[Path]:
    """Write events as the blob store does: a batch of one is the object, more a list, named after
    the batch's first event."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for start in range(0, len(events), batch):
        chunk = events[start:start + batch]
        path = folder / object_name(chunk[0])
        path.write_text(json.dumps(chunk[0] if len(chunk) == 1 else chunk, separators=(",", ":")))
        written.append(path)
    return written


def v1_exchange(rows: list[list], predictions: list) -> tuple[dict, dict]:
    return {"instances": rows}, {"predictions": predictions}


def v2_exchange(rows: list[list], predictions: list, request_id: str = "", model_name: str = "model"
                ) -> tuple[dict, dict]:
    """An Open Inference Protocol request with one [n, k] FP64 tensor and its response."""
    flat = [float(v) for row in rows for v in row]
    request = {"id": request_id, "inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])],
                                             "datatype": "FP64", "data": flat}]}
    response = {"model_name": model_name, "id": request_id,
                "outputs": [{"name": "output-0", "shape": [len(predictions)], "datatype": "FP64",
                             "data": predictions}]}
    return request, response
