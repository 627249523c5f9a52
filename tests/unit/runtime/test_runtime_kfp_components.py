"""The Kubeflow components of the generated training pipelines (mlspec.runtime.kfp_components),
called in this process as plain Python functions (`component.python_func`) on synthetic data
in tmp_path, with kfp's own artifact classes as their inputs and outputs: training, the
evaluation gates, the fairness gate (fairlearn), MLflow registration, the model card and the
alias. Feast's point-in-time join (`load_training_data`) needs an applied feature repository:
the slow pipeline test runs it, with the whole pipeline under kfp's local runner."""

from __future__ import annotations

import json
import os

import joblib
import numpy as np
import pandas as pd
import pytest
from kfp import dsl

from mlspec.runtime import kfp_components as components
from mlspec.targets.kfp import pipeline_components

FEATURES = ["tenure_months", "support_tickets"]
LOGISTIC = "sklearn.linear_model.LogisticRegression"


def churn_rows(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Churn follows support tickets and tenure, with noise. `age_group` alternates, independent
    of churn; `region` is decided by the ticket count, so the model's predictions differ by it."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 60, n)
    tickets = rng.poisson(2.0, n)
    churn = ((0.9 * tickets - 0.05 * tenure + rng.normal(0, 0.7, n)) > 0.5).astype("int64")
    return pd.DataFrame({
        "customer_id": np.arange(n),
        "tenure_months": tenure,
        "support_tickets": tickets,
        "age_group": np.where(np.arange(n) % 2 == 0, "18-39", "40+"),
        "region": np.where(tickets >= 3, "north", "south"),
        "churn": churn,
    })


def artifact(kind, folder, name):
    """A kfp artifact whose file lives in `folder` (a local URI is its own path)."""
    return kind(name=name, uri=str(folder / name))


def train(folder, rows: pd.DataFrame, estimator=LOGISTIC, params=None, task="binary_classification",
          label="churn", features=FEATURES, seed=7):
    data = artifact(dsl.Dataset, folder, "training_data.parquet")
    rows.to_parquet(data.path, index=False)
    model, test_data = artifact(dsl.Model, folder, "model.joblib"), artifact(dsl.Dataset, folder, "test.parquet")
    components.train_model.python_func(
        training_data=data, estimator=estimator, params_json=json.dumps(params or {}), features=features,
        categorical=[], label=label, task=task, test_size=0.25, seed=seed, split_method="random", split_column="",
        model=model, test_data=test_data)
    return model, test_data


@pytest.fixture(scope="module")
def churn_model(tmp_path_factory):
    """A logistic regression trained by `train_model` on 400 synthetic customers."""
    return train(tmp_path_factory.mktemp("churn"), churn_rows(), params={"C": 0.5, "max_iter": 500})


def evaluate(model, test_data, gates, task="binary_classification", label="churn", features=FEATURES):
    metrics = dsl.Metrics(name="metrics")
    values = components.evaluate_model.python_func(model=model, test_data=test_data, features=features,
                                                   label=label, task=task, gates=gates, metrics=metrics)
    return json.loads(values), metrics.metadata


# --- the components as emitted ------------------------------------------------------------------


def test_every_component_is_emitted_and_the_fairness_gate_only_for_models_with_one():
    from kfp.dsl.python_component import PythonComponent

    defined = sorted(name for name, value in vars(components).items() if isinstance(value, PythonComponent))
    with_gate, without = pipeline_components(True), pipeline_components(False)
    assert sorted(n for n in defined if f"\ndef {n}(" in with_gate) == defined
    assert sorted(n for n in defined if f"\ndef {n}(" in without) == [n for n in defined if n != "check_fairness"]
    # In pipeline order: the fairness gate after the evaluation, before the registration.
    assert with_gate.index("def evaluate_model(") < with_gate.index("def check_fairness(") \
        < with_gate.index("def register_model(")


# --- train ----------------------------------------------------------------------------------------


def test_train_model_fits_the_estimator_with_the_specs_params_on_a_stratified_split(churn_model, tmp_path):
    model, test_data = churn_model
    fitted = joblib.load(model.path)
    assert type(fitted).__name__ == "LogisticRegression"
    assert fitted.C == 0.5 and fitted.max_iter == 500 and isinstance(fitted.max_iter, int)  # JSON keeps ints
    assert model.metadata == {"estimator": LOGISTIC, "train_rows": 300, "test_rows": 100}
    held_out = pd.read_parquet(test_data.path)
    rows = churn_rows()
    assert len(held_out) == 100 and set(held_out.columns) == set(rows.columns)
    assert abs(held_out["churn"].mean() - rows["churn"].mean()) < 0.01  # stratified on the label
    _, again = train(tmp_path, rows, params={"C": 0.5, "max_iter": 500})
    assert pd.read_parquet(again.path).equals(held_out)  # the seed makes the split reproducible


# --- evaluate and gate ----------------------------------------------------------------------------


def test_evaluate_model_logs_every_classification_metric_and_passes_met_gates(churn_model):
    values, logged = evaluate(*churn_model, gates=["accuracy >= 0.7", "log_loss <= 0.6"])
    assert sorted(values) == ["accuracy", "balanced_accuracy", "f1", "log_loss", "precision", "recall", "roc_auc"]
    assert logged == values
    assert 0.7 <= values["accuracy"] <= 1 and 0.5 < values["roc_auc"] <= 1 and values["log_loss"] <= 0.6


def test_a_failed_gate_stops_the_pipeline_naming_each_failed_metric(churn_model):
    with pytest.raises(RuntimeError) as failed:
        evaluate(*churn_model, gates=["accuracy >= 0.5", "roc_auc >= 0.9999", "log_loss <= 0.0001"])
    message = str(failed.value)
    assert message.startswith("evaluation gate failed, the model is not registered: roc_auc = 0.")
    assert "required >= 0.9999" in message and "; log_loss = 0." in message and "required <= 0.0001" in message
    assert "accuracy" not in message  # met gates are not reported


def test_regression_models_are_gated_on_error_metrics(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, 200)
    rows = pd.DataFrame({"x": x, "loss": 3 * x + 5 + rng.normal(0, 0.5, 200)})
    model, test_data = train(tmp_path, rows, estimator="sklearn.linear_model.LinearRegression",
                             task="regression", label="loss", features=["x"])
    assert model.metadata["train_rows"] == 150  # no stratification for a continuous label
    values, _ = evaluate(model, test_data, ["r2 >= 0.95", "mae <= 1"], task="regression", label="loss",
                         features=["x"])
    assert sorted(values) == ["mae", "mape", "r2", "rmse"] and values["rmse"] < 1
    with pytest.raises(RuntimeError, match=r"mae = 0\.\d{4}, required <= 0\.01$"):
        evaluate(model, test_data, ["mae <= 0.01"], task="regression", label="loss", features=["x"])


def test_multiclass_models_get_macro_averages_and_one_vs_rest_auc(tmp_path):
    rows = churn_rows(600, seed=5).assign(segment=lambda f: np.digitize(f["support_tickets"], [2, 4]))
    model, test_data = train(tmp_path, rows, params={"max_iter": 1000}, task="multiclass_classification",
                             label="segment")
    values, _ = evaluate(model, test_data, ["roc_auc >= 0.8"], task="multiclass_classification", label="segment")
    assert values["roc_auc"] >= 0.8 and 0 < values["precision"] <= 1


# --- fairness gate --------------------------------------------------------------------------------


def check_fairness(model, test_data, sensitive, max_disparity, metric="selection_rate"):
    fairness = dsl.Metrics(name="fairness")
    result = components.check_fairness.python_func(
        model=model, test_data=test_data, features=FEATURES, label="churn", sensitive=sensitive, metric=metric,
        max_disparity=max_disparity, fairness=fairness)
    return json.loads(result), fairness.metadata


def test_fairness_gate_passes_when_groups_are_treated_alike(churn_model):
    result, logged = check_fairness(*churn_model, ["age_group"], max_disparity=0.3)
    assert result["metric"] == "selection_rate" and sorted(result["by_group"]["age_group"]) == ["18-39", "40+"]
    rates = result["by_group"]["age_group"].values()
    assert result["disparity"]["age_group"] == pytest.approx(max(rates) - min(rates))
    assert result["disparity"]["age_group"] <= 0.3
    assert logged == {"selection_rate_disparity_age_group": result["disparity"]["age_group"]}


def test_fairness_gate_fails_naming_the_column_whose_groups_differ(churn_model):
    with pytest.raises(RuntimeError) as failed:
        check_fairness(*churn_model, ["age_group", "region"], max_disparity=0.3)
    message = str(failed.value)
    assert message.startswith("fairness gate failed, the model is not registered: selection_rate differs by 0.")
    assert message.endswith("between groups of region, allowed 0.3") and "age_group" not in message


GROUP_METRICS = {  # each fairness metric, computed by hand from labels and predictions
    "selection_rate": lambda y, p: (p == 1).mean(),
    "true_positive_rate": lambda y, p: (p[y == 1] == 1).mean(),
    "false_positive_rate": lambda y, p: (p[y == 0] == 1).mean(),
    "accuracy": lambda y, p: (p == y).mean(),
}


@pytest.mark.parametrize("metric", sorted(GROUP_METRICS))
def test_fairness_gate_measures_the_specs_metric_per_group(churn_model, metric):
    model, test_data = churn_model
    result, logged = check_fairness(model, test_data, ["age_group"], max_disparity=1.0, metric=metric)
    test = pd.read_parquet(test_data.path)
    test["predicted"] = joblib.load(model.path).predict(test[FEATURES])
    expected = {group: GROUP_METRICS[metric](rows["churn"].to_numpy(), rows["predicted"].to_numpy())
                for group, rows in test.groupby("age_group")}
    assert result["by_group"]["age_group"] == pytest.approx(expected)
    assert list(logged) == [f"{metric}_disparity_age_group"]


# --- MLflow: model card and alias (file store: no database migrations to wait for) -----------------


@pytest.fixture
def mlflow_client(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    # MLflow 3 refuses the file store unless told to use it; a sqlite store would first spend
    # seconds on its migrations.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.chdir(tmp_path)  # anything MLflow puts in the working directory lands here
    uri = (tmp_path / "mlruns").as_uri()
    return uri, MlflowClient(tracking_uri=uri)


def read_artifact(client, run, path, folder) -> str:
    downloaded = client.download_artifacts(run.info.run_id, path, dst_path=str(folder))
    with open(downloaded, encoding="utf-8") as handle:
        return handle.read()


def test_model_card_gets_the_measured_metrics_per_slice_and_the_version(mlflow_client, tmp_path):
    uri, client = mlflow_client
    run = client.create_run(client.create_experiment("shop/churn"))
    card = {"model_details": {"name": "churn", "overview": "Who leaves next month."}, "schema_version": "0.0.2"}
    fairness = {"metric": "selection_rate", "disparity": {"age_group": 0.1},
                "by_group": {"age_group": {"40+": 0.3, "18-39": 0.4}}}
    hf_card = {"metadata": {"license": "mit", "pipeline_tag": "tabular-classification", "model_name": "churn"},
               "body": "# Model card for churn\n\n### Results\n\nMEASURED LATER\n",
               "evaluation": {"task": "tabular-classification", "dataset": "customers",
                              "placeholder": "MEASURED LATER"}}
    components.write_model_card.python_func(
        card=card, hf_card=hf_card, metrics_json=json.dumps({"roc_auc": 0.91, "accuracy": 0.875}),
        fairness_json=json.dumps(fairness), version="3", run_id=run.info.run_id, tracking_uri=uri,
        model_card=artifact(dsl.Artifact, tmp_path, "model-card.json"))
    logged = json.loads((tmp_path / "model-card.json").read_text(encoding="utf-8"))
    assert json.loads(read_artifact(client, run, "model_card/model-card.json", tmp_path)) == logged
    assert logged["model_details"]["version"]["name"] == "3"
    assert logged["model_details"]["version"]["diff"] == f"MLflow run {run.info.run_id}"
    assert logged["quantitative_analysis"]["performance_metrics"] == [
        {"type": "accuracy", "value": 0.875}, {"type": "roc_auc", "value": 0.91},
        {"type": "selection_rate", "value": 0.4, "slice": "age_group=18-39"},
        {"type": "selection_rate", "value": 0.3, "slice": "age_group=40+"}]
    assert card == {"model_details": {"name": "churn", "overview": "Who leaves next month."},
                    "schema_version": "0.0.2"}  # the pipeline's constant is not modified
    text = read_artifact(client, run, "model_card/model-card.md", tmp_path)
    assert text.startswith("# Model card: churn version 3\n\nWho leaves next month.\n")
    assert "| selection_rate | age_group=18-39 | 0.4000 |" in text and "| accuracy | overall | 0.8750 |" in text

    # The Hugging Face card: huggingface_hub reads the results back from its model-index.
    from huggingface_hub import ModelCard

    hf = ModelCard(read_artifact(client, run, "model_card/README.md", tmp_path))
    assert hf.data.license == "mit" and hf.data.model_name == "churn"
    results = {(r.dataset_config, r.metric_type): r.metric_value for r in hf.data.eval_results}
    assert results == {(None, "accuracy"): 0.875, (None, "roc_auc"): 0.91,
                       (None, "selection_rate_disparity"): 0.1,
                       ("age_group=18-39", "selection_rate"): 0.4, ("age_group=40+", "selection_rate"): 0.3}
    assert {(r.task_type, r.dataset_name, r.dataset_split) for r in hf.data.eval_results} == {
        ("tabular-classification", "customers", "test")}
    assert "MEASURED LATER" not in hf.text and "| age_group=40+ | selection_rate | 0.3000 |" in hf.text
    assert f"Version 3 (MLflow run `{run.info.run_id}`)" in hf.text


def test_set_alias_points_the_alias_at_the_version(mlflow_client, tmp_path, capsys):
    uri, client = mlflow_client
    client.create_registered_model("shop-churn")
    for _ in range(2):
        client.create_model_version("shop-churn", source=str(tmp_path / "model"))
    components.set_alias.python_func(tracking_uri=uri, registered_model_name="shop-churn", alias="champion",
                                     version="2")
    assert str(client.get_model_version_by_alias("shop-churn", "champion").version) == "2"
    assert "shop-churn@champion -> version 2" in capsys.readouterr().out


# --- MLflow: registration (slow: MLflow infers the model's pip requirements in a subprocess) -------


@pytest.fixture
def mlflow_globals(monkeypatch):
    """register_model sets MLflow's process-wide tracking URI and active experiment, and the
    MLFLOW_* environment variables that carry them to subprocesses, as a pipeline step may;
    put them all back for the rest of the session."""
    import mlflow
    from mlflow.tracking import fluent

    saved = {key: value for key, value in os.environ.items() if key.startswith("MLFLOW_")}
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    yield
    mlflow.set_tracking_uri(None)
    for key in [key for key in os.environ if key.startswith("MLFLOW_")]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.mark.slow
def test_register_model_logs_the_run_registers_a_version_and_writes_the_drift_reference(
        churn_model, tmp_path, monkeypatch, mlflow_globals):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is relative to it
    model, test_data = churn_model
    training_data = artifact(dsl.Dataset, tmp_path, "training.parquet")
    churn_rows().to_parquet(training_data.path, index=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    reference = tmp_path / "monitoring" / "reference.parquet"
    metrics = {"accuracy": 0.8, "roc_auc": 0.9}
    fairness = {"metric": "selection_rate", "disparity": {"age_group": 0.05}, "by_group": {}}
    registered = components.register_model.python_func(
        model=model, test_data=test_data, training_data=training_data, reference_uri=str(reference),
        features=FEATURES, estimator=LOGISTIC, params_json='{"C": 0.5}', metrics_json=json.dumps(metrics),
        fairness_json=json.dumps(fairness), tracking_uri=uri, experiment="shop/churn",
        registered_model_name="shop-churn", flavor="sklearn")
    assert registered.version == "1"
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(registered.run_id)
    assert run.data.metrics == {"accuracy": 0.8, "roc_auc": 0.9, "selection_rate_disparity_age_group": 0.05}
    assert run.data.params == {"estimator": LOGISTIC, "C": "0.5"}
    assert client.get_model_version("shop-churn", "1").run_id == registered.run_id
    assert [a.path for a in client.list_artifacts(registered.run_id, "test_data")] == ["test_data/test.parquet"]
    assert list(pd.read_parquet(reference).columns) == FEATURES  # what the drift check compares with
    assert len(pd.read_parquet(reference)) == 400
