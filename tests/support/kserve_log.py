"""Prediction logs for the tests, written as KServe's inference logger writes them (the writer
is mlspec.local.inference_log): customer-churn's prod log folder, and frames put there through
an S3 client."""

from __future__ import annotations

import json

from mlspec.local.inference_log import (REQUEST, RESPONSE, go_url, log_request, v1_exchange,  # noqa: F401
                                        v2_exchange, write_objects)

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
