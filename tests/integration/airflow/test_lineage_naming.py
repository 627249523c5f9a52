"""Lineage is the whole graph, named the OpenLineage way, on a four-dataset, three-model system:
SQL (Snowflake), local-file, GCS and CSV sources; two models share a weather feature view and
all three are trained on the same label table, one of them watched for drift.

- `mlspec impact` lists every DAG, pipeline, model and deployment downstream of a dataset,
  a column or a feature view (the training DAGs read their datasets; they were only reached
  before through a drift DAG, so `store_weather` listed none and `store_sales` missed two);
- every job's inputs and outputs follow https://openlineage.io/docs/spec/naming (no
  `airflow-connection://`, no `<system>://staging/`; `file:///mnt/feeds/x` is (`file`,
  `/mnt/feeds/x`)), in `mlspec lineage emit` and in the DAG files alike;
- a real `airflow dags test` run with the OpenLineage provider's file transport names the same
  datasets as `mlspec lineage emit --file`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_mlspec

SPEC = """\
apiVersion: mlspec/v1alpha1
kind: MLSystem
metadata: {name: demand-forecast, owner: forecasting@example.com}
platform:
  objectStore: {endpoint: http://minio.minio.svc:9000, credentialsSecret: minio-credentials}
  mlflow: {trackingUri: http://mlflow.mlflow.svc:5000}
  kubeflow: {host: http://ml-pipeline.kubeflow.svc:8888}
  lineage: {url: http://marquez.marquez.svc:5000, namespace: demand-forecast}
datasets:
  store_sales:
    source:
      sql: "SELECT store_id, week, units, returns FROM SALES.PUBLIC.STORE_SALES"
      connection: snowflake_dw
      tables: ["snowflake://acme-analytics/SALES.PUBLIC.STORE_SALES"]
    storage: s3://retail-raw/store_sales.parquet
    schedule: "@weekly"
    columns:
      store_id: {type: int64, nullable: false}
      week: {type: timestamp, nullable: false}
      units: {type: float64, min: 0}
      returns: {type: float64, min: 0}
  store_weather:
    source: {uri: "file://FEEDS/weather.parquet", format: parquet}
    storage: s3://retail-raw/store_weather.parquet
    schedule: "@daily"
    columns:
      store_id: {type: int64, nullable: false}
      event_timestamp: {type: timestamp, nullable: false}
      temp_c: {type: float64}
      rain_mm: {type: float64, min: 0}
  promotions:
    source: {uri: "s3://retail-landing/promotions/", format: parquet}  # gs:// is refused (E112)
    storage: s3://retail-raw/promotions.parquet
    schedule: "@daily"
    columns:
      store_id: {type: int64, nullable: false}
      event_timestamp: {type: timestamp, nullable: false}
      discount: {type: float64, min: 0, max: 1}
  stores:
    source: {uri: "FEEDS/stores.csv", format: csv}
    storage: "file://LAKE/stores.parquet"
    schedule: "@daily"
    columns:
      store_id: {type: int64, nullable: false}
      event_timestamp: {type: timestamp, nullable: false}
      floor_area: {type: float64, min: 0}
entities:
  store: {joinKeys: [store_id]}
featureViews:
  weather:
    entities: [store]
    source: store_weather
    timestampField: event_timestamp
    ttl: 7d
    features: {temp_c: float64, rain_mm: float64}
  promo:
    entities: [store]
    source: promotions
    timestampField: event_timestamp
    ttl: 7d
    features: {discount: float64}
  store_profile:
    entities: [store]
    source: stores
    timestampField: event_timestamp
    ttl: 30d
    features: {floor_area: float64}
models:
  units-weekly:
    task: regression
    features: [weather.*, promo.discount]
    label: store_sales.units
    training: {estimator: sklearn.ensemble.RandomForestRegressor}
    evaluation: {split: {method: time, column: week, test: 0.25}}
  units-by-store:
    task: regression
    features: [weather.temp_c, store_profile.floor_area]
    label: store_sales.units
    training: {estimator: sklearn.linear_model.Ridge}
  returns:
    task: regression
    features: [promo.discount]
    label: store_sales.returns
    training: {estimator: sklearn.ensemble.RandomForestRegressor}
    monitoring:
      drift: {schedule: "@daily", maxDriftShare: 0.3, onDrift: retrain}
"""

TRAIN = {m: f"demand_forecast__train_{m.replace('-', '_')}" for m in ("units-weekly", "units-by-store", "returns")}
PIPELINES = {m: f"demand-forecast-{m}-training" for m in TRAIN}


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demand")
    for folder in ("feeds", "lake"):
        (root / folder).mkdir()
    path = root / "specs" / "demand-forecast.yaml"
    path.parent.mkdir()
    path.write_text(SPEC.replace("FEEDS", str(root / "feeds")).replace("LAKE", str(root / "lake")))
    return path


def _impact(spec: Path, ref: str) -> dict:
    result = run_mlspec("impact", ref, str(spec), "--format", "json")
    assert result.returncode == 0, result.stderr
    [found] = json.loads(result.stdout)
    return found["affected"]


def test_impact_of_a_dataset_lists_every_training_dag_and_pipeline_that_reads_it(spec):
    weather = _impact(spec, "dataset:store_weather")
    # the Feast DAG materializes the view read from it
    assert weather["DAGs"] == sorted([TRAIN["units-weekly"], TRAIN["units-by-store"], "demand_forecast__feast"])
    assert weather["pipelines"] == sorted([PIPELINES["units-weekly"], PIPELINES["units-by-store"]])
    assert weather["models"] == ["units-by-store", "units-weekly"]
    assert weather["feature views"] == ["weather"]

    sales = _impact(spec, "dataset:store_sales")
    assert sales["DAGs"] == sorted([*TRAIN.values(), "demand_forecast__drift_returns"])
    assert sales["pipelines"] == sorted(PIPELINES.values())
    assert sales["models"] == ["returns", "units-by-store", "units-weekly"]


def test_impact_of_a_column_and_a_feature_view(spec):
    # temp_c feeds both weather models; rain_mm only the one reading the whole view
    assert _impact(spec, "column:store_weather.temp_c")["models"] == ["units-by-store", "units-weekly"]
    rain = _impact(spec, "column:store_weather.rain_mm")
    assert rain["models"] == ["units-weekly"] and rain["DAGs"] == [TRAIN["units-weekly"]]
    assert rain["feature views"] == ["weather"]
    # the label column reaches the model trained on it (and its drift DAG), not the others
    returns = _impact(spec, "column:store_sales.returns")
    assert returns["models"] == ["returns"]
    assert returns["DAGs"] == ["demand_forecast__drift_returns", TRAIN["returns"]]
    # a join key changes every view keyed by it, so every model reading the dataset
    assert _impact(spec, "column:stores.store_id")["models"] == ["units-by-store"]
    promo = _impact(spec, "feature:promo")
    assert promo["models"] == ["returns", "units-weekly"]
    assert promo["pipelines"] == sorted([PIPELINES["returns"], PIPELINES["units-weekly"]])


def test_an_unknown_column_suggests_the_closest_one(spec):
    result = run_mlspec("impact", "column:store_weather.temp", str(spec))
    assert result.returncode == 2
    assert "dataset `store_weather` has no column `temp`" in result.stderr and "did you mean `temp_c`" in result.stderr


def _emitted(spec: Path, tmp_path: Path) -> dict[str, tuple[list, list]]:
    out = tmp_path / "static.jsonl"
    result = run_mlspec("lineage", "emit", str(spec), "--file", str(out))
    assert result.returncode == 0, result.stderr
    jobs = {}
    for line in out.read_text().splitlines():
        event = json.loads(line)
        jobs[event["job"]["name"]] = ([(d["namespace"], d["name"]) for d in event["inputs"]],
                                      [(d["namespace"], d["name"]) for d in event["outputs"]])
    return jobs


def test_every_dataset_is_named_by_the_openlineage_conventions(spec, tmp_path):
    jobs = _emitted(spec, tmp_path)
    root = str(spec.parent.parent)
    # every ingestion job reads its source, named by its data source
    assert jobs["demand_forecast__ingest_store_sales.extract"][0] == [
        ("snowflake://acme-analytics", "SALES.PUBLIC.STORE_SALES")]
    assert jobs["demand_forecast__ingest_store_weather.extract"][0] == [("file", f"{root}/feeds/weather.parquet")]
    assert jobs["demand_forecast__ingest_promotions.extract"][0] == [("s3://retail-landing", "promotions/")]
    assert jobs["demand_forecast__ingest_stores.upload"] == (
        [("file", f"{root}/feeds/stores.csv")], [("file", f"{root}/lake/stores.parquet")])
    namespaces = {ns for inputs, outputs in jobs.values() for ns, _ in inputs + outputs}
    # (the drift check's reference snapshot and prediction log are under s3://mlspec-monitoring)
    assert namespaces == {"snowflake://acme-analytics", "file", "s3://retail-landing", "s3://retail-raw",
                          "s3://mlspec-monitoring", "demand-forecast"}
    # what has no data-store naming lives in the job namespace: feature views and models only
    own = sorted({name for inputs, outputs in jobs.values() for ns, name in inputs + outputs
                  if ns == "demand-forecast"})
    assert own == ["feast.promo", "feast.store_profile", "feast.weather", "mlflow.demand_forecast_returns",
                   "mlflow.demand_forecast_units_by_store", "mlflow.demand_forecast_units_weekly"]
    assert jobs[f"{TRAIN['units-by-store']}.submit_pipeline"] == (
        [("s3://retail-raw", "store_sales.parquet"), ("demand-forecast", "feast.weather"),
         ("demand-forecast", "feast.store_profile")],
        [("demand-forecast", "mlflow.demand_forecast_units_by_store")])


def _compile(spec: Path, out: Path) -> Path:
    from mlspec.compiler.compile import compile_spec

    result = compile_spec(spec, out, targets=["airflow", "great_expectations", "lineage", "drift"])
    assert result.ok, [d.message for d in result.diagnostics]
    for path, text in result.files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text, encoding="utf-8")
    return out


def test_dag_files_name_local_files_with_their_leading_slash(spec, tmp_path):
    dags = _compile(spec, tmp_path / "generated") / "airflow" / "dags"
    text = (dags / "demand_forecast__ingest_store_weather.py").read_text()
    root = str(spec.parent.parent)
    assert f"Asset(uri='file://{root}/feeds/weather.parquet')" in text
    assert "file://" + root.lstrip("/") not in text  # the path's first slash is kept
    sales = (dags / "demand_forecast__ingest_store_sales.py").read_text()
    assert "Table(cluster='snowflake://acme-analytics', database='SALES', name='PUBLIC.STORE_SALES')" in sales
    assert "airflow-connection" not in sales and "staging" not in sales.split("CONFIG", 1)[0]


@pytest.mark.slow
def test_airflow_run_and_static_emit_name_the_same_datasets(spec, tmp_path):
    """`airflow dags test` of the file-to-file ingestion, with the OpenLineage provider writing its
    events to a file: every dataset of every task's event is the one `lineage emit` names."""
    import pandas as pd

    from support.airflow_runner import shared_home

    root = spec.parent.parent
    pd.DataFrame({"store_id": [1, 2, 3], "event_timestamp": pd.to_datetime(["2026-01-01"] * 3, utc=True),
                  "floor_area": [120.0, 340.5, 98.0]}).to_csv(root / "feeds" / "stores.csv", index=False)
    generated = _compile(spec, tmp_path / "generated")
    events = tmp_path / "openlineage.jsonl"
    dag_id = "demand_forecast__ingest_stores"
    env = {"AIRFLOW__OPENLINEAGE__DISABLED": "False", "AIRFLOW__OPENLINEAGE__NAMESPACE": "demand-forecast",
           "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events),
                                                          "append": True}),
           "AIRFLOW_VAR_MLSPEC__DEMAND_FORECAST__STAGING_DIR": str(tmp_path / "staging")}
    home = shared_home()
    result = home.dags_test(dag_id, "2026-01-02", generated / "airflow" / "dags", env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert home.task_states(dag_id) == {"extract": "success", "validate": "success", "upload": "success"}
    assert len(pd.read_parquet(root / "lake" / "stores.parquet")) == 3

    runtime = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event["eventType"] == "COMPLETE" and event["job"]["name"].startswith(dag_id + "."):
            runtime[event["job"]["name"]] = ([(d["namespace"], d["name"]) for d in event["inputs"]],
                                             [(d["namespace"], d["name"]) for d in event["outputs"]])
    static = _emitted(spec, tmp_path)
    assert set(runtime) == {f"{dag_id}.{t}" for t in ("extract", "validate", "upload")}
    for job, datasets in runtime.items():
        assert datasets == static[job], job
    assert runtime[f"{dag_id}.upload"][1] == [("file", f"{root}/lake/stores.parquet")]
