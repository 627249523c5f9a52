"""Champion/challenger in the training pipeline's register stage, with a real MLflow (a SQLite
tracking store in tmp_path): a new version takes the alias only when it beats the version the
alias points at on the spec's primary metric, both measured on the same held-out rows; the
first version takes it; the comparison is logged on the new version's run and model version,
written in its model card, and the alias step says why a version did not take the alias."""

from __future__ import annotations

import json

import pytest
from kfp import dsl

from mlspec.runtime import kfp_components as components
from unit.runtime.test_runtime_kfp_components import FEATURES, LOGISTIC, artifact, churn_rows, mlflow_globals, train  # noqa: F401

pytestmark = pytest.mark.slow  # MLflow infers each logged model's pip requirements in a subprocess

NAME, ALIAS = "shop-churn", "champion"
# Always the majority class: an ROC AUC of 0.5 on any rows.
DUMMY = "sklearn.dummy.DummyClassifier"


def register_and_challenge(folder, uri, estimator, params, metric="roc_auc"):
    """Train on the same rows with the same split (the held-out rows are the same), register,
    challenge the champion, write the card and set the alias, as the pipeline does."""
    folder.mkdir()
    model, test_data = train(folder, churn_rows(), estimator=estimator, params=params)
    training_data = artifact(dsl.Dataset, folder, "training.parquet")
    churn_rows().to_parquet(training_data.path, index=False)
    registered = components.register_model.python_func(
        model=model, test_data=test_data, training_data=training_data, reference_uri="", features=FEATURES,
        estimator=estimator, params_json=json.dumps(params), metrics_json="{}", fairness_json="", tracking_uri=uri,
        experiment="shop/churn", registered_model_name=NAME, flavor="sklearn")
    import mlflow

    mlflow.set_tracking_uri(None)  # each pipeline step is a process of its own: nothing set by register_model
    comparison = components.challenge_champion.python_func(
        model=model, test_data=test_data, features=FEATURES, label="churn", task="binary_classification",
        metric=metric, tracking_uri=uri, registered_model_name=NAME, alias=ALIAS, version=registered.version,
        run_id=registered.run_id, flavor="sklearn")
    card = {"model_details": {"name": "churn", "overview": "Who leaves."}, "schema_version": "0.0.2"}
    hf_card = {"metadata": {"license": "mit"}, "body": "# churn\n\nMEASURED\n",
               "evaluation": {"task": "tabular-classification", "dataset": "customers", "placeholder": "MEASURED"}}
    components.write_model_card.python_func(
        card=card, hf_card=hf_card, metrics_json="{}", fairness_json="", version=registered.version,
        run_id=registered.run_id, tracking_uri=uri, model_card=artifact(dsl.Artifact, folder, "card.json"),
        comparison_json=comparison)
    components.set_alias.python_func(tracking_uri=uri, registered_model_name=NAME, alias=ALIAS,
                                     version=registered.version, comparison_json=comparison)
    return registered, json.loads(comparison), json.loads((folder / "card.json").read_text())


def test_only_a_better_challenger_takes_the_alias(tmp_path, monkeypatch, mlflow_globals, capsys):  # noqa: F811
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is relative to it
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)

    def holder() -> str:
        return str(client.get_model_version_by_alias(NAME, ALIAS).version)

    # 1. No champion yet: the first version takes the alias, weak as it is.
    first, comparison, _ = register_and_challenge(tmp_path / "v1", uri, DUMMY, {"strategy": "prior"})
    assert comparison["takes_alias"] and comparison["champion"] is None
    assert holder() == first.version == "1"

    # 2. A better challenger: measured against version 1 on the same rows, it takes the alias.
    second, comparison, card = register_and_challenge(tmp_path / "v2", uri, LOGISTIC, {"C": 0.5, "max_iter": 500})
    assert comparison["champion"] == pytest.approx(0.5) and comparison["challenger"] > 0.8
    assert comparison["takes_alias"] and comparison["champion_version"] == "1"
    assert comparison["reason"].startswith("roc_auc ") and "better (higher is better)" in comparison["reason"]
    assert holder() == second.version == "2"
    run = client.get_run(second.run_id)
    assert run.data.metrics["champion_roc_auc"] == pytest.approx(0.5)
    assert run.data.metrics["challenger_roc_auc"] == comparison["challenger"]
    assert run.data.tags["mlspec.challenge.takes_alias"] == "true"
    assert run.data.tags["mlspec.challenge.champion_version"] == "1"
    assert {"type": "roc_auc", "value": pytest.approx(0.5), "slice": "champion (version 1)"} in \
        card["quantitative_analysis"]["performance_metrics"]

    # 3. A worse challenger: registered, but the alias stays on version 2, and everyone says why.
    capsys.readouterr()
    third, comparison, card = register_and_challenge(tmp_path / "v3", uri, DUMMY, {"strategy": "prior"})
    assert not comparison["takes_alias"] and comparison["champion_version"] == "2"
    assert holder() == "2" and third.version == "3"
    assert client.get_model_version(NAME, "3").tags["mlspec.challenge.takes_alias"] == "false"
    reason = client.get_run(third.run_id).data.tags["mlspec.challenge.reason"]
    assert reason.startswith("roc_auc 0.5000 vs ") and "version 2" in reason and "not better" in reason
    out = capsys.readouterr().out
    assert f"shop-churn version 3 is registered without the alias `champion`: {reason}" in out
    verdict = card["considerations"]["tradeoffs"][-1]["description"]
    assert verdict.startswith("Champion/challenger: this version does not take the alias `champion`")
    markdown = client.download_artifacts(third.run_id, "model_card/model-card.md", str(tmp_path))
    assert verdict in open(markdown, encoding="utf-8").read()


def test_lower_is_better_metrics_are_compared_the_other_way(tmp_path, monkeypatch, mlflow_globals):  # noqa: F811
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    register_and_challenge(tmp_path / "v1", uri, LOGISTIC, {"C": 0.5, "max_iter": 500}, metric="log_loss")
    _, comparison, _ = register_and_challenge(tmp_path / "v2", uri, DUMMY, {"strategy": "prior"}, metric="log_loss")
    assert comparison["lower_is_better"] and comparison["challenger"] > comparison["champion"]
    assert not comparison["takes_alias"]
    assert str(MlflowClient(tracking_uri=uri).get_model_version_by_alias(NAME, ALIAS).version) == "1"
