"""check/serving_data.py, check_monitoring_store: drift monitoring keeps its prediction log and
its training-data snapshot in the S3 monitoring bucket, so a spec whose data is on gs:// or
abfs:// alone is told it needs `platform.objectStore` (found writing the corpus's weekly demand
forecast: it compiled, and its InferenceService logged to an S3 store the spec never named)."""

from __future__ import annotations

import copy

import pytest
import yaml

from mlspec.compiler.run import validate_files

BASE = yaml.safe_load("""
apiVersion: mlspec/v1alpha1
kind: MLSystem
metadata: {name: demand}
platform:
  gcs: {credentialsSecret: gcs-credentials}
  mlflow: {trackingUri: http://mlflow:5000}
datasets:
  sales:
    storage: gs://lake/sales/
    columns:
      store_id: {type: int32, nullable: false}
      units: {type: float32}
      event_timestamp: {type: timestamp, nullable: false}
  footfall:
    storage: gs://lake/footfall/
    columns:
      store_id: {type: int32, nullable: false}
      visits: {type: int32}
      event_timestamp: {type: timestamp, nullable: false}
  weather:
    storage: gs://lake/weather/
    columns:
      store_id: {type: int32, nullable: false}
      rain_mm: {type: float32}
      event_timestamp: {type: timestamp, nullable: false}
entities:
  store: {joinKeys: [store_id]}
featureViews:
  visits: {entities: [store], source: footfall, timestampField: event_timestamp, ttl: 7d, features: {visits: int32}}
  rain: {entities: [store], source: weather, timestampField: event_timestamp, ttl: 7d, features: {rain_mm: float32}}
models:
  forecast:
    task: regression
    features: [visits.visits]
    label: sales.units
    training: {estimator: sklearn.linear_model.Ridge}
    serving: {format: sklearn}
    monitoring: {drift: {maxDriftShare: 0.3}}
environments:
  prod: {namespace: models}
""")


def _e501(tmp_path, document) -> list[str]:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    [unit] = validate_files([path])
    return [f"{d.path_text}: {d.message}" for d in unit.diagnostics if d.code == "E501"]


def test_a_served_model_logging_predictions_without_an_s3_store(tmp_path):
    [found] = _e501(tmp_path, BASE)
    assert found.startswith("models.forecast.monitoring.drift: model `forecast`'s InferenceService logs its"
                            " predictions for the drift check to s3://mlspec-monitoring/")
    assert "needs `platform.objectStore`" in found


def test_a_snapshot_reference_without_an_s3_store(tmp_path):
    document = copy.deepcopy(BASE)
    model = document["models"]["forecast"]
    model["features"] = ["visits.visits", "rain.rain_mm"]
    del model["serving"]
    model["monitoring"]["drift"]["predictions"] = "sales"
    [found] = _e501(tmp_path, document)
    assert "reads features from 2 datasets" in found and "snapshots the training data" in found


@pytest.mark.parametrize("change", ["object store", "logger sink, one source", "not served, one source",
                                    "no store at all"])
def test_nothing_to_say_when_the_monitoring_bucket_is_not_needed_or_has_a_store(tmp_path, change):
    document = copy.deepcopy(BASE)
    drift = document["models"]["forecast"]["monitoring"]["drift"]
    if change == "object store":
        document["models"]["forecast"]["features"] = ["visits.visits", "rain.rain_mm"]
        document["platform"]["objectStore"] = {"endpoint": "https://storage.googleapis.com",
                                               "credentialsSecret": "gcs-hmac"}
    elif change == "logger sink, one source":
        drift.update(loggerUrl="http://sink.monitoring.svc", predictions="sales")
    elif change == "no store at all":  # local paths, as `mlspec run --local`'s copy of a spec has
        del document["platform"]["gcs"]
        for dataset in document["datasets"].values():
            dataset["storage"] = dataset["storage"].replace("gs://lake/", "/data/lake/")
    else:
        del document["models"]["forecast"]["serving"]
        drift["predictions"] = "sales"
    assert _e501(tmp_path, document) == []
