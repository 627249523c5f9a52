"""The generated churn training pipeline, run end to end with kfp's local runner on synthetic
data, a local Feast repo and a local MLflow store: a good model is registered with its alias
and model card; a gate the data cannot meet stops the run before anything is registered."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from mlspec.compiler.compile import compile_spec
from conftest import REPO, SPECS, VENDOR
from support.churn_data import churn_frames, feast_repo_copy

pytestmark = pytest.mark.slow

FEAST = str(Path(sys.executable).with_name("feast"))
EXPERIMENT = "customer-churn/churn"


@pytest.fixture(scope="module")
def churn_setup(tmp_path_factory):
    """Generated files, a applied Feast repo over synthetic activity, and the label file."""
    root = tmp_path_factory.mktemp("churn")
    result = compile_spec(SPECS / "customer-churn.yaml", REPO / "generated", targets=["feast", "kfp"])
    assert result.ok, [d.message for d in result.diagnostics]
    customers, activity = churn_frames(n=2000)
    data = root / "data"
    data.mkdir()
    activity.to_parquet(data / "customer_activity.parquet", index=False)
    customers.to_parquet(data / "customers.parquet", index=False)
    repo = feast_repo_copy(result.files, root / "feast")
    applied = subprocess.run([FEAST, "apply"], cwd=repo, capture_output=True, text=True, timeout=300,
                             env={**__import__("os").environ, "MLSPEC_FEAST_DATA_DIR": str(data)})
    assert applied.returncode == 0, applied.stdout + applied.stderr
    source = root / "churn_training.py"
    source.write_text(result.files["kfp/churn_training.py"], encoding="utf-8")
    return {"root": root, "repo": repo, "labels": data / "customers.parquet", "source": source}


def _pipeline(source: Path):
    spec = importlib.util.spec_from_file_location("churn_training_under_test", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.churn_training_pipeline


def _feast_config(repo: Path) -> str:
    """The store the pipeline is given instead of a repo folder: the applied repo's, by absolute paths."""
    import yaml

    config = yaml.safe_load((repo / "feature_store.yaml").read_text())
    config["registry"] = str(repo / config["registry"])
    config["online_store"]["path"] = str(repo / config["online_store"]["path"])
    return json.dumps(config)


def _run(setup, tmp_path, monkeypatch, **overrides):
    """Run the pipeline locally against a fresh sqlite MLflow store; returns its tracking URI."""
    import mlflow
    from kfp import local

    monkeypatch.chdir(tmp_path)  # the runner's subprocesses inherit it; nothing lands in the checkout
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)
    # Artifacts go to the temp folder, not ./mlruns of whatever the working directory is.
    mlflow.create_experiment(EXPERIMENT, artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_tracking_uri(None)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "pipeline-root"))
    pipeline = _pipeline(setup["source"])
    pipeline(feast_config=_feast_config(setup["repo"]), label_data_uri=str(setup["labels"]),
             mlflow_tracking_uri=tracking_uri, **overrides)
    return tracking_uri


def test_pipeline_registers_a_gated_model_with_alias_and_card(churn_setup, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    reference = tmp_path / "monitoring" / "reference.parquet"
    tracking_uri = _run(churn_setup, tmp_path, monkeypatch, reference_uri=str(reference))
    client = MlflowClient(tracking_uri=tracking_uri)
    version = client.get_model_version_by_alias("ChurnModel", "champion")
    assert str(version.version) == "1"
    run = client.get_run(version.run_id)
    metrics = run.data.metrics
    # The spec's gates, checked on what MLflow recorded.
    assert metrics["accuracy"] >= 0.85
    assert metrics["roc_auc"] >= 0.80
    assert metrics["selection_rate_disparity_age_group"] <= 0.1
    assert run.data.params["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    assert run.data.params["n_estimators"] == "100"
    assert run.data.params["max_depth"] == "8"
    # Champion/challenger: the first version has no champion to beat, and takes the alias.
    assert run.data.tags["mlspec.challenge.takes_alias"] == "true"
    assert run.data.tags["mlspec.challenge.metric"] == "accuracy"  # the first gate's
    assert run.data.metrics["challenger_accuracy"] == pytest.approx(metrics["accuracy"])

    # The model card logged with the run is valid and carries the measured metrics per slice.
    card_path = client.download_artifacts(version.run_id, "model_card/model-card.json", str(tmp_path))
    card = json.loads(Path(card_path).read_text())
    schema = json.loads((VENDOR / "schemas" / "model_card.v0.0.2.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(card)
    performance = card["quantitative_analysis"]["performance_metrics"]
    overall = {m["type"]: m["value"] for m in performance if "slice" not in m}
    assert overall["accuracy"] == pytest.approx(metrics["accuracy"])
    slices = sorted(m["slice"] for m in performance if "slice" in m)
    assert slices == ["age_group=18-29", "age_group=30-44", "age_group=45-64", "age_group=65+"]
    assert card["model_details"]["version"]["name"] == "1"
    assert card["considerations"]["tradeoffs"][-1]["description"].startswith(
        "Champion/challenger: this version takes the alias `champion`: no version of ChurnModel has the alias")

    # The Hugging Face card logged with the run: huggingface_hub reads the run's real metrics back.
    from huggingface_hub import ModelCard

    hf_path = client.download_artifacts(version.run_id, "model_card/README.md", str(tmp_path))
    hf = ModelCard.load(hf_path)
    results = {(r.dataset_config, r.metric_type): r.metric_value for r in hf.data.eval_results}
    assert results[(None, "accuracy")] == pytest.approx(metrics["accuracy"])
    assert results[(None, "roc_auc")] == pytest.approx(metrics["roc_auc"])
    assert results[(None, "selection_rate_disparity")] == pytest.approx(metrics["selection_rate_disparity_age_group"])
    assert sorted(c for c, m in results if c) == slices
    assert hf.data.license == "other" and hf.data.model_name == "ChurnModel"

    # The drift check's reference: the features this version was trained on.
    import pandas as pd

    snapshot = pd.read_parquet(reference)
    assert list(snapshot.columns) == ["total_purchases", "avg_order_value", "days_since_last_purchase",
                                      "support_tickets_count"]
    assert len(snapshot) > 100 and not snapshot.isna().any().any()

    # The registered model loads by alias and predicts from the four features.
    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri(tracking_uri)
    try:
        model = mlflow.pyfunc.load_model("models:/ChurnModel@champion")
    finally:
        mlflow.set_tracking_uri(None)
    sample = pd.DataFrame({"total_purchases": [10.0], "avg_order_value": [40.0], "days_since_last_purchase": [50],
                           "support_tickets_count": [6]}).astype(
        {"total_purchases": "float32", "avg_order_value": "float32", "days_since_last_purchase": "int32",
         "support_tickets_count": "int32"})
    assert list(model.predict(sample)) == [1]  # many tickets, long inactive: churns

    # The fairness notebook finds the model by alias and the held-out rows its run logged, and
    # shows the gate's metric per slice as the run measured it (every cell, in order).
    import nbformat

    result = compile_spec(SPECS / "customer-churn.yaml", REPO / "generated", targets=["what_if"])
    notebook = nbformat.reads(result.files["analysis/churn_fairness.ipynb"], as_version=4)
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    namespace: dict = {}
    for source in code:
        exec(compile(source, "churn_fairness.ipynb", "exec"), namespace)
    assert str(namespace["version"].version) == "1"
    assert len(namespace["test"]) == 400  # the 20% test split of 2000 rows
    frame = namespace["frames"]["age_group"]
    assert frame.difference(method="between_groups")["selection_rate"] == pytest.approx(
        metrics["selection_rate_disparity_age_group"])


def test_failed_gate_stops_at_evaluation_and_registers_nothing(churn_setup, tmp_path, monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    reference = tmp_path / "reference.parquet"
    with pytest.raises(RuntimeError, match="evaluate-model"):
        _run(churn_setup, tmp_path, monkeypatch, gates=["accuracy >= 0.999", "roc_auc >= 0.8"],
             reference_uri=str(reference))
    assert not reference.exists(), "a rejected model must not become the drift reference"
    output = capsys.readouterr().out
    assert "evaluation gate failed, the model is not registered: accuracy = 0." in output
    assert "required >= 0.999" in output
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert client.search_registered_models() == []
    assert client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id]) == []
