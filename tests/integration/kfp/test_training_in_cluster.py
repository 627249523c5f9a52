"""Training runs in a cluster as generated (issue 13, the training half):

- the Feast configuration reaches the training step as a pipeline parameter (the spec's store
  as JSON, the registry on the object store), not as a repo folder in the image, and the
  training DAG submits the pipeline's arguments (each an Airflow Variable);
- string and bool features are one-hot encoded inside the logged model, so what serves it
  takes raw values;
- `evaluation.split` offers a time split on a timestamp column;
- the model is logged in the flavor its serving format needs (a `model.pkl` KServe's
  scikit-learn server loads; a `model.bst` beside the MLflow flavor for LightGBM);
- a custom runtime's `modelFormat` is the spec's;
- retries are set once per layer: KFP steps retry inside the run, the Airflow task only
  resubmits a submission that failed;
- the What-If notebook and the model card slice by the fairness gate's own metric.

The components run in this process as plain functions (`component.python_func`) with kfp's
artifact classes, as tests/unit/runtime/test_runtime_kfp_components.py does; MLflow on a local file store.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import types

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from kfp import dsl

from conftest import REPO, SPECS
from mlspec.runtime import airflow_tasks as tasks
from mlspec.runtime import kfp_components as components
from support.mlspec_data import project_of
from support.runtime_tasks import hide_airflow_sdk

GENERATED = REPO / "generated"
FEATURES = ["tenure_months", "plan", "is_business"]


def artifact(kind, folder, name):
    return kind(name=name, uri=str(folder / name))


def customer_rows(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Churn depends on the plan (a string) and whether the account is a business (a bool)."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro"], n)
    business = rng.random(n) < 0.4
    tenure = rng.integers(1, 60, n)
    score = (plan == "basic") * 1.5 - business * 1.0 - 0.02 * tenure + rng.normal(0, 0.5, n)
    return pd.DataFrame({
        "customer_id": np.arange(n),
        "tenure_months": tenure,
        "plan": plan,
        "is_business": business,
        "churn": (score > 0.3).astype("int64"),
        "event_timestamp": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 6, unit="h"),
    })


def train(folder, rows, categorical=("plan", "is_business"), split_method="random", split_column="",
          estimator="sklearn.ensemble.RandomForestClassifier", params=None):
    data = artifact(dsl.Dataset, folder, "training_data.parquet")
    rows.to_parquet(data.path, index=False)
    model, test_data = artifact(dsl.Model, folder, "model.joblib"), artifact(dsl.Dataset, folder, "test.parquet")
    components.train_model.python_func(
        training_data=data, estimator=estimator, params_json=json.dumps(params or {"random_state": 3}),
        features=FEATURES, categorical=list(categorical), label="churn", task="binary_classification",
        test_size=0.25, seed=7, split_method=split_method, split_column=split_column, model=model,
        test_data=test_data)
    return model, test_data


# --- categorical features -------------------------------------------------------------------------


def test_string_and_bool_features_are_encoded_inside_the_model(tmp_path):
    model, test_data = train(tmp_path, customer_rows())
    fitted = joblib.load(model.path)
    assert type(fitted).__name__ == "Pipeline" and [name for name, _ in fitted.steps] == ["encode", "estimator"]
    raw = pd.DataFrame({"tenure_months": [3, 50], "plan": ["basic", "pro"], "is_business": [False, True]})
    assert list(fitted.predict(raw)) == [1, 0]
    # KServe's v1 protocol hands the model rows as lists, without column names
    assert list(fitted.predict(raw.astype(object).values.tolist())) == [1, 0]
    # a plan the model never saw is no error
    assert fitted.predict(raw.assign(plan=["enterprise", "enterprise"])).shape == (2,)
    values = components.evaluate_model.python_func(model=model, test_data=test_data, features=FEATURES,
                                                   label="churn", task="binary_classification",
                                                   gates=["accuracy >= 0.8"], metrics=dsl.Metrics(name="m"))
    assert json.loads(values)["accuracy"] >= 0.8


def test_numeric_features_keep_the_bare_estimator(tmp_path):
    model, _ = train(tmp_path, customer_rows().assign(plan=1.0, is_business=0.0), categorical=())
    assert type(joblib.load(model.path)).__name__ == "RandomForestClassifier"  # what a booster format needs


def test_the_pipeline_passes_the_string_and_bool_features_as_categorical(tmp_path):
    from mlspec.compiler.compile import compile_spec

    spec = tmp_path / "spec.yaml"
    text = (SPECS / "customer-churn.yaml").read_text()
    text = text.replace("      support_tickets_count: {type: int32, min: 0}\n",
                        "      support_tickets_count: {type: int32, min: 0}\n      plan: {type: string}\n"
                        "      is_business: {type: bool}\n")
    text = text.replace("      support_tickets_count: int32\n",
                        "      support_tickets_count: int32\n      plan: string\n      is_business: bool\n")
    text = text.replace("customer_features.support_tickets_count]", "customer_features.support_tickets_count,\n"
                        "               customer_features.plan, customer_features.is_business]")
    spec.write_text(text)
    result = compile_spec(spec, tmp_path / "generated", targets=["kfp"])
    assert result.ok, [d.message for d in result.diagnostics]
    source = result.files["kfp/churn_training.py"]
    assert "        categorical=['plan', 'is_business'],\n" in source


# --- the time split -------------------------------------------------------------------------------


def test_a_time_split_holds_out_the_latest_rows(tmp_path):
    rows = customer_rows()
    model, test_data = train(tmp_path, rows, split_method="time", split_column="event_timestamp")
    held_out = pd.read_parquet(test_data.path)
    assert len(held_out) == 100
    cutoff = held_out["event_timestamp"].min()
    assert (rows[rows["event_timestamp"] < cutoff]["customer_id"] < held_out["customer_id"].min()).all()
    assert joblib.load(model.path).n_features_in_ == 3
    assert model.metadata["train_rows"] == 300


def test_a_time_split_without_a_period_to_hold_out_says_so(tmp_path):
    rows = customer_rows().assign(event_timestamp=pd.Timestamp("2026-01-01", tz="UTC"))
    with pytest.raises(RuntimeError, match="time split on event_timestamp: every row falls on one side"):
        train(tmp_path, rows, split_method="time", split_column="event_timestamp")


def test_the_spec_s_time_split_reaches_the_pipeline(tmp_path):
    from mlspec.compiler.compile import compile_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text((SPECS / "customer-churn.yaml").read_text().replace(
        "      split: {test: 0.2, seed: 42}", "      split: {method: time, column: event_timestamp, test: 0.2}"))
    result = compile_spec(spec, tmp_path / "generated", targets=["kfp"])
    assert result.ok, [d.message for d in result.diagnostics]
    source = result.files["kfp/churn_training.py"]
    # the label dataset's timestamp column is the join's event_timestamp
    assert "        split_method='time',\n        split_column='event_timestamp',\n" in source


# --- Feast without a repo folder ------------------------------------------------------------------


def test_the_pipeline_gets_the_feast_store_of_the_spec_not_a_repo_folder():
    from feast import RepoConfig

    source = (GENERATED / "customer-churn/kfp/churn_training.py").read_text()
    assert "feast_repo" not in source and "FeatureStore(config=RepoConfig(**json.loads(feast_config)))" in source
    ir = next(iter(yaml.safe_load_all((GENERATED / "customer-churn/kfp/churn_training.yaml").read_text())))
    default = ir["root"]["inputDefinitions"]["parameters"]["feast_config"]["defaultValue"]
    config = json.loads(default)
    feature_store = yaml.safe_load((GENERATED / "customer-churn/feast/feature_store.yaml").read_text())
    assert config == {k: v for k, v in feature_store.items() if k != "mlspec"}  # what `feast apply` used
    assert config["registry"] == "s3://feast-registry/customer-churn/registry.db"
    repo = RepoConfig(**config)
    assert repo.registry.path == "s3://feast-registry/customer-churn/registry.db" and repo.project == "customer_churn"
    # Feast's S3 registry finds MinIO through its own variable
    assert "task.set_env_variable('FEAST_S3_ENDPOINT_URL', 'http://minio.minio.svc.cluster.local:9000')" in source


def test_a_registry_inside_the_feature_repo_is_a_warning(tmp_path):
    from mlspec.compiler.compile import compile_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text((SPECS / "customer-churn.yaml").read_text().replace(
        "  feast: {registry: s3://feast-registry/customer-churn/registry.db}", "  feast: {registry: data/registry.db}"))
    result = compile_spec(spec, tmp_path / "generated", targets=["kfp"])
    assert result.ok
    [warning] = [d for d in result.diagnostics if d.code == "W701"]
    assert "Feast registry `data/registry.db` is a path inside the feature repo" in warning.message


def test_the_training_dag_submits_the_pipelines_arguments(monkeypatch, tmp_path):
    import kfp

    from mlspec.targets.airflow import train_context

    project = project_of(SPECS / "customer-churn.yaml")
    model = project.base.models[0]
    config = ast.literal_eval(train_context(project.base, model)["config"])
    assert config["arguments"] == ["feast_config", "label_data_uri", "mlflow_tracking_uri", "reference_uri"]
    assert config["settings"]["label_data_uri"] == ["mlspec__customer_churn__churn__label_data_uri",
                                                    "s3://raw-data/customers.parquet"]
    config["dag_file"] = str(tmp_path / "customer-churn/airflow/dags/customer_churn__train_churn.py")
    submitted = {}

    class Client:  # stands in for the Kubeflow Pipelines API
        def __init__(self, host):
            pass

        def create_run_from_pipeline_package(self, package, arguments, run_name, experiment_name):
            submitted.update(arguments)
            return types.SimpleNamespace(run_id="run-1")

        def wait_for_run_completion(self, run_id, timeout):
            return types.SimpleNamespace(state="SUCCEEDED")

    monkeypatch.setattr(kfp, "Client", Client)
    hide_airflow_sdk(monkeypatch)  # settings from the environment only
    monkeypatch.setenv("AIRFLOW_VAR_MLSPEC__CUSTOMER_CHURN__CHURN__MLFLOW_TRACKING_URI", "http://mlflow.test:5000")
    tasks.submit_pipeline(config, {"run_id": "manual__1"})
    assert submitted["mlflow_tracking_uri"] == "http://mlflow.test:5000"  # a Variable overrides the spec
    assert submitted["label_data_uri"] == "s3://raw-data/customers.parquet"
    assert json.loads(submitted["feast_config"])["project"] == "customer_churn"
    assert "reference_uri" not in submitted  # the spec gives none: the pipeline's own default


# --- retries: once per layer ----------------------------------------------------------------------


def test_retries_are_set_once_per_layer():
    spec = yaml.safe_load((SPECS / "customer-churn.yaml").read_text())
    assert spec["models"]["churn"]["training"]["retries"] == 2
    dag = (GENERATED / "customer-churn/airflow/dags/customer_churn__train_churn.py").read_text()
    assert "default_args={'owner': 'growth-ml@example.com', 'retries': 0}" in dag  # submitRetries
    ir = next(iter(yaml.safe_load_all((GENERATED / "customer-churn/kfp/churn_training.yaml").read_text())))
    tasks_ = ir["root"]["dag"]["tasks"]
    retried = {name: task.get("retryPolicy", {}).get("maxRetryCount") for name, task in tasks_.items()}
    assert retried["load-training-data"] == retried["train-model"] == retried["register-model"] == 2
    assert retried["evaluate-model"] is None and retried["check-fairness"] is None  # a failed gate fails again


def test_a_failed_run_is_not_resubmitted_but_a_failed_submission_is(monkeypatch, tmp_path):
    import kfp

    class AirflowFailException(Exception):
        pass

    sdk = types.ModuleType("airflow.sdk")
    exceptions = types.ModuleType("airflow.sdk.exceptions")
    exceptions.AirflowFailException = AirflowFailException
    monkeypatch.setitem(sys.modules, "airflow.sdk", sdk)
    monkeypatch.setitem(sys.modules, "airflow.sdk.exceptions", exceptions)
    sdk.Variable = types.SimpleNamespace(get=lambda key, default=None: default)
    monkeypatch.setenv("AIRFLOW_VAR_MLSPEC__SHOP__CHURN__KFP_HOST", "http://kfp:8888")
    config = {"system": "shop", "model": "churn", "dag_id": "shop__train_churn", "experiment": "shop",
              "dag_file": str(tmp_path / "shop/airflow/dags/shop__train_churn.py"),
              "pipeline_package": "kfp/churn_training.yaml", "timeout_seconds": 60, "arguments": [],
              "settings": {"root": ["mlspec__shop__root", None], "kfp_host": ["mlspec__shop__churn__kfp_host", None],
                           "pipeline_package": ["mlspec__shop__churn__pipeline_package", None]}}
    outcome = {}

    class Client:
        def __init__(self, host):
            pass

        def create_run_from_pipeline_package(self, package, arguments, run_name, experiment_name):
            if outcome["submit"] == "refused":
                raise ConnectionError("ml-pipeline is not reachable")
            return types.SimpleNamespace(run_id="run-9")

        def wait_for_run_completion(self, run_id, timeout):
            if outcome["submit"] == "timeout":
                raise TimeoutError("still running")
            return types.SimpleNamespace(state="FAILED")

    monkeypatch.setattr(kfp, "Client", Client)
    outcome["submit"] = "refused"
    with pytest.raises(ConnectionError):  # Airflow retries this (submitRetries)
        tasks.submit_pipeline(config, {"run_id": "r"})
    outcome["submit"] = "ok"
    with pytest.raises(AirflowFailException, match="Kubeflow run run-9 ended in state FAILED"):
        tasks.submit_pipeline(config, {"run_id": "r"})
    outcome["submit"] = "timeout"
    with pytest.raises(AirflowFailException, match="waiting for Kubeflow run run-9 failed"):
        tasks.submit_pipeline(config, {"run_id": "r"})


# --- serving formats ------------------------------------------------------------------------------


def test_a_custom_runtime_gets_the_specs_model_format(tmp_path):
    from mlspec.compiler.compile import compile_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text((SPECS / "customer-churn.yaml").read_text().replace(
        "      format: mlflow\n", "      format: custom\n      runtime: churn-runtime\n      modelFormat: churn-v2\n"))
    result = compile_spec(spec, tmp_path / "generated", targets=["kserve"])
    assert result.ok, [d.message for d in result.diagnostics]
    service = yaml.safe_load(result.files["k8s/prod/inferenceservice-churn.yaml"])
    assert service["spec"]["predictor"]["model"]["modelFormat"] == {"name": "churn-v2"}
    assert service["spec"]["predictor"]["model"]["runtime"] == "churn-runtime"


def test_each_serving_format_has_its_flavor():
    source = (GENERATED / "payments-risk/kfp/chargeback_loss_training.py").read_text()
    assert "        flavor='sklearn-pickle',\n" in source  # format: sklearn
    assert "        flavor='sklearn',\n" in (GENERATED / "payments-risk/kfp/fraud_score_training.py").read_text()


@pytest.fixture
def mlflow_globals(monkeypatch, tmp_path):
    """register_model sets MLflow's process-wide tracking URI and experiment; put them back."""
    import mlflow
    from mlflow.tracking import fluent

    saved = {key: value for key, value in os.environ.items() if key.startswith("MLFLOW_")}
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.chdir(tmp_path)
    yield (tmp_path / "mlruns").as_uri()
    mlflow.set_tracking_uri(None)
    for key in [key for key in os.environ if key.startswith("MLFLOW_")]:
        del os.environ[key]
    os.environ.update(saved)


def register(tmp_path, model, test_data, uri, flavor, name="shop-churn"):
    training = artifact(dsl.Dataset, tmp_path, "training.parquet")
    customer_rows().to_parquet(training.path, index=False)
    return components.register_model.python_func(
        model=model, test_data=test_data, training_data=training, reference_uri="", features=FEATURES,
        estimator="sklearn.ensemble.RandomForestClassifier", params_json="{}", metrics_json='{"accuracy": 0.9}',
        fairness_json="", tracking_uri=uri, experiment="shop/churn", registered_model_name=name, flavor=flavor)


def model_folder(uri, name, version, dest):
    from mlflow.tracking import MlflowClient

    import mlflow

    return mlflow.artifacts.download_artifacts(
        MlflowClient(tracking_uri=uri).get_model_version_download_uri(name, version), dst_path=str(dest),
        tracking_uri=uri)


KSERVE_SKLEARN_EXTENSIONS = (".joblib", ".pkl", ".pickle")  # kserve/python/sklearnserver/sklearnserver/model.py


@pytest.mark.slow
def test_format_sklearn_logs_the_pickle_kserves_sklearn_server_loads(tmp_path, mlflow_globals):
    model, test_data = train(tmp_path, customer_rows())
    registered = register(tmp_path, model, test_data, mlflow_globals, "sklearn-pickle")
    folder = model_folder(mlflow_globals, "shop-churn", registered.version, tmp_path / "download")
    # The server's own rule: exactly one file with one of its extensions, loaded with joblib.
    files = [f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f))
             and f.endswith(KSERVE_SKLEARN_EXTENSIONS)]
    assert files == ["model.pkl"]
    served = joblib.load(os.path.join(folder, files[0]))
    assert list(served.predict([[3, "basic", False], [50, "pro", True]])) == [1, 0]  # raw values, v1 rows


@pytest.mark.slow
def test_format_mlflow_serves_raw_values_through_pyfunc(tmp_path, mlflow_globals):
    import mlflow

    model, test_data = train(tmp_path, customer_rows())
    registered = register(tmp_path, model, test_data, mlflow_globals, "sklearn")
    mlflow.set_tracking_uri(mlflow_globals)
    loaded = mlflow.pyfunc.load_model(f"models:/shop-churn/{registered.version}")  # as MLServer loads it
    raw = pd.DataFrame({"tenure_months": [3, 50], "plan": ["basic", "pro"], "is_business": [False, True]})
    assert list(loaded.predict(raw)) == [1, 0]


class _Booster:
    def __init__(self, model):
        self.model = model

    def save_model(self, path):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("tree\nversion=v4\n")


class _LightGBMLike:
    """lightgbm is not installed here: a fitted scikit-learn model with the `booster_` that
    lightgbm's scikit-learn API models have."""

    def __init__(self, fitted):
        self.fitted = fitted
        self.booster_ = _Booster(fitted)

    def predict(self, rows):
        return self.fitted.predict(rows)


@pytest.mark.slow
def test_format_lightgbm_puts_the_booster_kserve_loads_beside_the_flavor(tmp_path, mlflow_globals, monkeypatch):
    """lightgbm is not installed here, so `mlflow.lightgbm.save_model` is stood in for by the
    scikit-learn flavor; what is checked is mlspec's part: the folder of the registered version
    holds the MLflow model and exactly one `.bst`, the booster KServe's LightGBM server loads."""
    import mlflow

    model, test_data = train(tmp_path, customer_rows().assign(plan=1.0, is_business=0.0), categorical=())
    joblib.dump(_LightGBMLike(joblib.load(model.path)), model.path)
    saved = []

    def save_model(lgb_model, path, **kwargs):
        saved.append(path)
        mlflow.sklearn.save_model(lgb_model.fitted, path, serialization_format="pickle")

    import importlib

    flavor = importlib.import_module("mlflow.lightgbm")  # the module, not mlflow's lazy stand-in for it
    monkeypatch.setattr(flavor, "save_model", save_model)
    monkeypatch.setattr(mlflow, "lightgbm", flavor)
    registered = register(tmp_path, model, test_data, mlflow_globals, "lightgbm", name="shop-lgb")
    assert saved and registered.version == "1"
    folder = model_folder(mlflow_globals, "shop-lgb", "1", tmp_path / "download")
    assert [f for f in os.listdir(folder) if f.endswith(".bst")] == ["model.bst"]
    assert os.path.isfile(os.path.join(folder, "MLmodel"))


# --- the fairness gate's metric, everywhere it is reported -----------------------------------------


def test_the_fairness_notebook_slices_by_the_fairness_gates_metric():
    import nbformat

    notebook = nbformat.read(GENERATED / "payments-risk/analysis/fraud_score_fairness.ipynb", as_version=4)
    code = "".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "FAIRNESS_METRIC = 'false_positive_rate'" in code
    assert 'frame.difference(method="between_groups")[FAIRNESS_METRIC]' in code
    assert "pos_label=positive" in code and "selection_rate" in code  # counted as the gate counts it
    text = "".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "`false_positive_rate` is the metric the\ntraining pipeline's fairness gate compares" in text
    card = (GENERATED / "payments-risk/docs/fraud-score.model-card.md").read_text()
    assert "`false_positive_rate` (the metric the fairness gate compares) per group of\n`country`" in card


def test_the_notebook_loads_the_model_with_its_flavor(tmp_path):
    import nbformat

    from mlspec.compiler.compile import compile_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text((SPECS / "payments-risk.yaml").read_text().replace(
        "      estimator: sklearn.ensemble.GradientBoostingClassifier", "      estimator: xgboost.XGBClassifier")
        .replace("      format: mlflow\n      storageUri: s3://mlflow-artifacts/3/f00d",
                 "      format: xgboost\n      storageUri: s3://mlflow-artifacts/3/f00d"))
    result = compile_spec(spec, tmp_path / "generated", targets=["what_if", "kfp"])
    assert result.ok, [d.message for d in result.diagnostics]
    notebook = nbformat.reads(result.files["analysis/fraud_score_fairness.ipynb"], as_version=4)
    assert 'mlflow.xgboost.load_model(f"models:/{MODEL_NAME}@{MODEL_ALIAS}")' in "".join(
        c.source for c in notebook.cells)
    assert "        flavor='xgboost',\n" in result.files["kfp/fraud_score_training.py"]


def test_an_environment_may_not_serve_the_model_in_a_format_of_another_flavor(tmp_path):
    from mlspec.compiler.compile import compile_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text((SPECS / "customer-churn.yaml").read_text().replace(
        "      models.churn.rollout.canaryTrafficPercent: 50\n",
        "      models.churn.rollout.canaryTrafficPercent: 50\n      models.churn.serving.format: sklearn\n"))
    result = compile_spec(spec, tmp_path / "generated", targets=["kfp"])
    assert not result.ok
    [error] = [d for d in result.diagnostics if d.code == "E418"]  # found by the front end validate runs too
    assert "model `churn` is served as `sklearn`" in error.message and "(in environment `dev`)" in error.message


# --- the submit step's local mode (kfp's local runner; the whole loop: integration/process/test_loop_e2e.py)

LOCAL_PIPELINE = '''
from kfp import dsl


@dsl.component(base_image="python:3.11")
def check(greeting: str, fail: str):
    if fail == "yes":
        raise ValueError("the step failed")
    assert greeting == "from a Variable", greeting


@dsl.pipeline(name="tiny")
def tiny_training_pipeline(greeting: str = "from the spec", fail: str = "no"):
    check(greeting=greeting, fail=fail)
'''


@pytest.mark.parametrize("fail", [False, True])
def test_the_submit_step_runs_the_pipeline_with_kfps_local_runner_when_asked(tmp_path, monkeypatch, fail):
    root = tmp_path / "shop"
    (root / "kfp").mkdir(parents=True)
    (root / "kfp" / "tiny_training.py").write_text(LOCAL_PIPELINE)
    config = {"system": "shop", "model": "tiny", "dag_id": "shop__train_tiny", "experiment": "shop",
              "dag_file": str(root / "airflow/dags/shop__train_tiny.py"), "pipeline_package": "kfp/tiny_training.yaml",
              "pipeline_source": "kfp/tiny_training.py", "pipeline_function": "tiny_training_pipeline",
              "timeout_seconds": 60, "arguments": ["greeting", "fail"],
              "settings": {"root": ["mlspec__shop__root", None], "kfp_host": ["mlspec__shop__tiny__kfp_host", None],
                           "pipeline_package": ["mlspec__shop__tiny__pipeline_package", None],
                           "kfp_local": ["mlspec__shop__tiny__kfp_local", None],
                           "kfp_local_root": ["mlspec__shop__tiny__kfp_local_root", None],
                           "greeting": ["mlspec__shop__tiny__greeting", "from the spec"],
                           "fail": ["mlspec__shop__tiny__fail", None]}}
    hide_airflow_sdk(monkeypatch)  # settings from the environment only
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIRFLOW_VAR_MLSPEC__SHOP__TINY__KFP_LOCAL", "true")  # no host needed
    monkeypatch.setenv("AIRFLOW_VAR_MLSPEC__SHOP__TINY__KFP_LOCAL_ROOT", str(tmp_path / "runs"))
    monkeypatch.setenv("AIRFLOW_VAR_MLSPEC__SHOP__TINY__GREETING", "from a Variable")
    if fail:
        monkeypatch.setenv("AIRFLOW_VAR_MLSPEC__SHOP__TINY__FAIL", "yes")  # Variables are strings
        with pytest.raises(RuntimeError, match="local run of kfp/tiny_training.py failed"):
            tasks.submit_pipeline(config, {"run_id": "manual__1"})
    else:
        assert tasks.submit_pipeline(config, {"run_id": "manual__1"}) == "local:" + str(
            tmp_path / "runs" / "shop" / "tiny" / "manual__1")
