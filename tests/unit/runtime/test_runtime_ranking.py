"""The ranking side of the training components (mlspec.runtime.kfp_components), called as plain
functions: the held-out split keeps whole groups, the ranker gets each group's size, and the
ranking metrics (ndcg, map, mrr, each alone or with a cutoff) are measured per group and
averaged, checked against hand-computed examples and scikit-learn's `ndcg_score`."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from kfp import dsl
from sklearn.linear_model import LinearRegression
from sklearn.metrics import ndcg_score

from mlspec.runtime import kfp_components as components

RANKER = "lightgbm.LGBMRanker"


def artifact(kind, folder, name):
    return kind(name=name, uri=str(folder / name))


def scored_model(folder):
    """A model whose score is its one feature `score` (a least-squares fit of y = x), so a test
    chooses the ranking the metrics are measured on."""
    x = np.linspace(-5, 5, 50).reshape(-1, 1)
    model = artifact(dsl.Model, folder, "model.joblib")
    joblib.dump(LinearRegression().fit(pd.DataFrame(x, columns=["score"]), x.ravel()), model.path)
    return model


def evaluate(folder, rows: pd.DataFrame, gates=(), group="session") -> dict:
    test_data = artifact(dsl.Dataset, folder, "test.parquet")
    rows.to_parquet(test_data.path, index=False)
    return json.loads(components.evaluate_model.python_func(
        model=scored_model(folder), test_data=test_data, features=["score"], label="relevance", task="ranking",
        gates=list(gates), metrics=dsl.Metrics(name="metrics"), group=group))


# Three sessions. A ranks [0, 1, 0, 1] (by descending score): two relevant rows, at 2 and 4.
# B ranks [0, 1]. C has no relevant row and is left out of every average.
HAND = pd.DataFrame({
    "session": ["A"] * 4 + ["B"] * 2 + ["C"] * 3,
    "score": [0.9, 0.8, 0.7, 0.1, 0.3, 0.6, 0.5, 0.4, 0.2],
    "relevance": [0, 1, 0, 1, 1, 0, 0, 0, 0],
})


def test_map_and_mrr_match_hand_computed_values(tmp_path):
    values = evaluate(tmp_path, HAND, gates=["map >= 0", "map@2 >= 0", "mrr@1 >= 0", "mrr@2 >= 0"])
    # AP(A) = (1/2 + 2/4) / 2 = 0.5; AP(B) = (1/2) / 1 = 0.5
    assert values["map"] == pytest.approx(0.5)
    # AP@2(A) = (1/2) / min(2, 2) = 0.25; AP@2(B) = (1/2) / min(2, 1) = 0.5
    assert values["map@2"] == pytest.approx(0.375)
    assert values["mrr"] == pytest.approx(0.5)  # the first relevant row is second in A and in B
    assert values["mrr@1"] == pytest.approx(0.0)  # neither list has a relevant row on top
    assert values["mrr@2"] == pytest.approx(0.5)


def test_ndcg_is_scikit_learns_per_group_averaged_over_groups_with_a_relevant_row(tmp_path):
    rng = np.random.default_rng(3)
    rows = pd.DataFrame({"session": np.repeat(np.arange(12), 8), "score": rng.permutation(96) / 96.0,
                         "relevance": rng.integers(0, 4, 96)})
    rows.loc[rows.session == 5, "relevance"] = 0  # no relevant row: not averaged
    values = evaluate(tmp_path, rows, gates=["ndcg@3 >= 0"])
    for metric, k in (("ndcg", None), ("ndcg@3", 3), ("ndcg@5", 5), ("ndcg@10", 10)):
        expected = np.mean([ndcg_score([g.relevance], [g.score], k=k) for _, g in rows.groupby("session")
                            if g.relevance.any()])
        assert values[metric] == pytest.approx(expected), metric


def test_tied_scores_count_against_the_model_in_map_and_mrr(tmp_path):
    rows = pd.DataFrame({"session": [1, 1, 1, 1], "score": [0.5] * 4, "relevance": [1, 0, 0, 0]})
    values = evaluate(tmp_path, rows, gates=["map >= 0"])
    assert values["mrr"] == pytest.approx(0.25) and values["map"] == pytest.approx(0.25)


def test_a_failed_ranking_gate_stops_the_pipeline_naming_it(tmp_path):
    with pytest.raises(RuntimeError, match=r"evaluation gate failed.*mrr@1 = 0.0000, required >= 0.5"):
        evaluate(tmp_path, HAND, gates=["map >= 0.4", "mrr@1 >= 0.5"])


def test_held_out_rows_without_any_relevant_row_are_an_error_not_a_perfect_score(tmp_path):
    rows = HAND.assign(relevance=0)
    with pytest.raises(RuntimeError, match="no group of session among the held-out rows has a relevant row"):
        evaluate(tmp_path, rows)


def sessions(n_sessions=60, per=8, seed=0) -> pd.DataFrame:
    """Sessions whose relevance follows `quality`, with a timestamp per session (later sessions later)."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=n_sessions * per)
    return pd.DataFrame({
        "session": np.repeat([f"s{i:03d}" for i in rng.permutation(n_sessions)], per),
        "quality": quality, "noise": rng.normal(size=n_sessions * per),
        "relevance": np.digitize(quality + rng.normal(0, 0.3, n_sessions * per), [0.5, 1.2]),
        "event_timestamp": pd.Timestamp("2024-01-01", tz="UTC")
        + pd.to_timedelta(np.repeat(np.arange(n_sessions), per), unit="h"),
    })


def train(folder, rows, split_method="random", categorical=(), features=("quality", "noise"), estimator=RANKER,
          params=None):
    data = artifact(dsl.Dataset, folder, "training_data.parquet")
    rows.to_parquet(data.path, index=False)
    model, test_data = artifact(dsl.Model, folder, "model.joblib"), artifact(dsl.Dataset, folder, "test.parquet")
    components.train_model.python_func(
        training_data=data, estimator=estimator, params_json=json.dumps({"n_estimators": 30, "verbose": -1} if params is None else params),
        features=list(features), categorical=list(categorical), label="relevance", task="ranking", test_size=0.25,
        seed=7, split_method=split_method, split_column="event_timestamp" if split_method == "time" else "",
        model=model, test_data=test_data, group="session")
    return model, test_data, data


@pytest.mark.parametrize("split_method", ["random", "time"])
def test_the_held_out_split_keeps_whole_groups(tmp_path, split_method):
    rows = sessions()
    model, test_data, _ = train(tmp_path, rows, split_method)
    test = pd.read_parquet(test_data.path)
    held = set(test.session)
    assert 10 <= len(held) <= 20  # a quarter of 60 sessions
    for session in held:  # every row of a held-out session, none of it trained on
        assert (test.session == session).sum() == 8
    if split_method == "time":  # the latest sessions
        latest = rows.groupby("session").event_timestamp.min().sort_values().index[-len(held):]
        assert held == set(latest)


def test_the_ranker_is_fitted_on_groups_and_ranks_held_out_sessions_well(tmp_path):
    model, test_data, _ = train(tmp_path, sessions())
    fitted = joblib.load(model.path)
    assert type(fitted).__name__ == "LGBMRanker"
    # 45 training sessions of 8 rows: LightGBM was told the groups (one query per session).
    assert len(fitted.booster_.dump_model()["tree_info"]) == 30
    values = json.loads(components.evaluate_model.python_func(
        model=model, test_data=test_data, features=["quality", "noise"], label="relevance", task="ranking",
        gates=["ndcg@5 >= 0.8"], metrics=dsl.Metrics(name="metrics"), group="session"))
    assert values["ndcg@5"] > 0.8


def test_a_ranker_without_groups_is_refused_by_lightgbm_so_groups_are_what_it_got(tmp_path):
    """LightGBM's ranker cannot be fitted without group sizes; the train step giving them is what
    makes the fit above succeed (a categorical feature routes them through the sklearn Pipeline)."""
    from lightgbm import LGBMRanker

    rows = sessions()
    with pytest.raises(Exception, match="[Gg]roup"):
        LGBMRanker(n_estimators=2, verbose=-1).fit(rows[["quality"]], rows["relevance"])
    rows["device"] = np.where(np.arange(len(rows)) % 3 == 0, "mobile", "desktop")
    model, _, _ = train(tmp_path, rows, categorical=["device"], features=("quality", "noise", "device"))
    assert type(joblib.load(model.path)).__name__ == "Pipeline"


def test_an_estimator_taking_query_ids_gets_one_per_row_ascending_by_group(tmp_path, monkeypatch):
    # XGBRanker's form (`fit(X, y, qid=...)`) without xgboost installed: the recording stand-in is
    # put in a module the train step allows, which still checks that it is an estimator class
    import lightgbm

    from support.rankers import QidRanker

    monkeypatch.setattr(lightgbm, "QidRanker", QidRanker, raising=False)
    model, _, _ = train(tmp_path, sessions(), estimator="lightgbm.QidRanker", params={})
    qid = joblib.load(model.path).qid_
    assert len(qid) == 45 * 8 and list(np.unique(qid)) == list(range(45))
    assert (np.diff(qid) >= 0).all() and set(np.bincount(qid)) == {8}  # contiguous: rows sorted by group


def test_an_estimator_taking_neither_learns_row_by_row(tmp_path):
    # a regressor used as a pointwise ranker: fit(X, y) takes neither groups nor query ids
    model, _, _ = train(tmp_path, sessions(), estimator="sklearn.linear_model.LinearRegression", params={})
    assert type(joblib.load(model.path)).__name__ == "LinearRegression"


@pytest.fixture
def mlflow_globals(monkeypatch):
    """register_model sets MLflow's process-wide tracking URI and experiment: put them back."""
    import os

    import mlflow
    from mlflow.tracking import fluent

    saved = {key: value for key, value in os.environ.items() if key.startswith("MLFLOW_")}
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    yield
    mlflow.set_tracking_uri(None)
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.mark.parametrize("flavor, files", [("sklearn", {"MLmodel", "model.skops"}),
                                           ("lightgbm", {"MLmodel", "model.bst"})])
def test_the_ranker_is_registered_in_the_flavor_its_serving_format_loads(tmp_path, monkeypatch, mlflow_globals,
                                                                         flavor, files):
    """`format: mlflow` (MLServer loads the scikit-learn flavor) and `format: lightgbm` (KServe's
    LightGBM server loads `model.bst`): the registered ranker scores rows as the fitted one does,
    under MLflow's metric names (no `@`)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    rows = sessions()
    model, test_data, training_data = train(tmp_path, rows)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registered = components.register_model.python_func(
        model=model, test_data=test_data, training_data=training_data, reference_uri="",
        features=["quality", "noise"], estimator=RANKER, params_json="{}",
        metrics_json=json.dumps({"ndcg@10": 0.9, "mrr": 0.8}), fairness_json="", tracking_uri=uri,
        experiment="recs/ranker", registered_model_name="ranker", flavor=flavor)
    client = MlflowClient(tracking_uri=uri)
    assert client.get_run(registered.run_id).data.metrics == {"ndcg_at_10": 0.9, "mrr": 0.8}
    folder = client.download_artifacts(registered.run_id, "model", str(tmp_path / "served"))
    assert files <= {p.name for p in Path(folder).iterdir()}
    fitted = joblib.load(model.path)
    sample = rows[["quality", "noise"]].head(16)
    assert np.allclose(mlflow.pyfunc.load_model(folder).predict(sample), fitted.predict(sample))
    if flavor == "lightgbm":
        import lightgbm

        booster = lightgbm.Booster(model_file=str(Path(folder) / "model.bst"))
        assert np.allclose(booster.predict(sample), fitted.predict(sample))
