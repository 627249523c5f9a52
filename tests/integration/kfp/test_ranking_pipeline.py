"""The generated training pipeline of a ranking model (tests/cases/spec/recommender.yaml: LightGBM's
LGBMRanker over a user view and an item view, grouped by session), run end to end with kfp's
local runner: Feast's point-in-time join over the applied repo, the ranker trained on whole
sessions, gated on ndcg@10, map@5 and mrr, registered in MLflow in the flavor `format: mlflow`
serves (scikit-learn, loaded by MLServer), with its model card; and a gate the model cannot meet
stops the run before anything is registered. The data is `mlspec run --local`'s own sample."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from conftest import REPO, VENDOR
from mlspec.compiler.compile import compile_spec
from mlspec.compiler.session import load_unit
from mlspec.local.synth import synthesize
from support.churn_data import feast_repo_copy

pytestmark = pytest.mark.slow

SPEC = REPO / "tests/cases/spec/recommender.yaml"
FEAST = str(Path(sys.executable).with_name("feast"))
EXPERIMENT = "home-recs/home-ranker"


@pytest.fixture(scope="module")
def recs_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("recs")
    result = compile_spec(SPEC, root / "generated", targets=["feast", "kfp"])
    assert result.ok, [d.message for d in result.diagnostics]
    sample = synthesize(load_unit(SPEC).project.base, rows=1000, seed=0)
    data = root / "data"
    data.mkdir()
    for name, frame in sample.frames.items():
        frame.to_parquet(data / f"{name}.parquet", index=False)
    repo = feast_repo_copy(result.files, root / "feast")
    applied = subprocess.run([FEAST, "apply"], cwd=repo, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "MLSPEC_FEAST_DATA_DIR": str(data)})
    assert applied.returncode == 0, applied.stdout + applied.stderr
    source = root / "home_ranker_training.py"
    source.write_text(result.files["kfp/home_ranker_training.py"], encoding="utf-8")
    return {"repo": repo, "labels": data / "impressions.parquet", "source": source, "sample": sample}


def _run(setup, tmp_path, monkeypatch, **overrides) -> str:
    import mlflow
    import yaml
    from kfp import local

    monkeypatch.chdir(tmp_path)
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.create_experiment(EXPERIMENT, artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_tracking_uri(None)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "pipeline-root"))
    spec = importlib.util.spec_from_file_location("home_ranker_training_under_test", setup["source"])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    config = yaml.safe_load((setup["repo"] / "feature_store.yaml").read_text())
    config["registry"] = str(setup["repo"] / config["registry"])
    config["online_store"]["path"] = str(setup["repo"] / config["online_store"]["path"])
    module.home_ranker_training_pipeline(feast_config=json.dumps(config), label_data_uri=str(setup["labels"]),
                                         mlflow_tracking_uri=tracking_uri, **overrides)
    return tracking_uri


def test_the_ranker_is_trained_on_sessions_gated_registered_and_served_as_mlflow(recs_setup, tmp_path,
                                                                               monkeypatch, capsys):
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient

    tracking_uri = _run(recs_setup, tmp_path, monkeypatch, reference_uri=str(tmp_path / "reference.parquet"))
    output = capsys.readouterr().out
    assert "groups of session_id trained on" in output  # the train step split by session
    client = MlflowClient(tracking_uri=tracking_uri)
    version = client.get_model_version_by_alias("HomeRanker", "champion")
    run = client.get_run(version.run_id)
    metrics = run.data.metrics  # MLflow's names take no `@`
    assert metrics["ndcg_at_10"] >= 0.75 and metrics["map_at_5"] >= 0.5 and metrics["mrr"] >= 0.7
    assert run.data.params["estimator"] == "lightgbm.LGBMRanker"

    # The held-out rows the run logged are whole sessions (a session of the sample has 10 rows).
    test_path = client.download_artifacts(version.run_id, "test_data/test.parquet", str(tmp_path))
    held_out = pd.read_parquet(test_path)
    assert set(held_out.groupby("session_id").size()) == {10}

    # The model card carries the ranking metrics as measured.
    card = json.loads(Path(client.download_artifacts(version.run_id, "model_card/model-card.json",
                                                     str(tmp_path))).read_text())
    jsonschema.Draft7Validator(json.loads((VENDOR / "schemas" / "model_card.v0.0.2.schema.json").read_text())
                               ).validate(card)
    overall = {m["type"]: m["value"] for m in card["quantitative_analysis"]["performance_metrics"]}
    assert overall["ndcg@10"] == pytest.approx(metrics["ndcg_at_10"])
    assert "rank by descending score" in json.dumps(card)

    # `format: mlflow`: the scikit-learn flavor, which MLServer's mlflow runtime loads as a pyfunc;
    # it scores the rows, and a row with better features scores higher.
    artifacts = client.download_artifacts(version.run_id, "model", str(tmp_path / "served"))
    mlmodel = (Path(artifacts) / "MLmodel").read_text()
    assert "sklearn:" in mlmodel and "python_function:" in mlmodel
    model = mlflow.pyfunc.load_model(artifacts)
    features = ["sessions_30d", "clicks_30d", "purchases_30d", "price", "ctr_7d", "stock_level"]
    rows = held_out[features].head(20)
    scores = model.predict(rows)
    assert len(scores) == 20
    relevance = held_out["relevance"].head(20).to_numpy()
    assert scores[relevance == relevance.max()].mean() > scores[relevance == 0].mean()


def test_a_ranking_gate_the_model_cannot_meet_stops_the_run_and_registers_nothing(recs_setup, tmp_path,
                                                                                monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    with pytest.raises(RuntimeError, match="evaluate-model"):
        _run(recs_setup, tmp_path, monkeypatch, gates=["ndcg@10 >= 0.75", "mrr@1 >= 1.01"],
             reference_uri=str(tmp_path / "reference.parquet"))
    assert "evaluation gate failed, the model is not registered: mrr@1 = " in capsys.readouterr().out
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert client.search_registered_models() == []
