"""The sample data of `mlspec run --local` (mlspec.local.synth) trains models that pass their
spec's gates and fairness gate, by a clear margin and for more than one seed.

Each model is trained and judged here as its generated pipeline does it, minus Feast and
Airflow: the label rows are joined to the features as of their event time (what Feast's
point-in-time join returns), in the order `load_training_data` sorts them, and then the
pipeline's own components run as plain functions (`train_model`, `evaluate_model`,
`check_fairness` from mlspec.runtime.kfp_components) with the spec's estimator, split, gates and
fairness metric, each gate and allowance made stricter (`stricter`).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from kfp import dsl

from conftest import REPO, SPECS
from mlspec.compiler.session import load_unit
from mlspec.local.data import ROWS
from mlspec.local.synth import synthesize
from mlspec.runtime import kfp_components as components
from mlspec.targets.kfp import CATEGORICAL_TYPES

SEEDS = (0, 1, 2)  # 0 is the seed `mlspec run --local` writes its sources with
CASES = REPO / "tests/cases/spec"
# The examples' models and the corpus's (tests/support/corpus.py: specs not tuned to the sample),
# every task: binary, multiclass, regression and ranking.
MODELS = [("payments-risk.yaml", "fraud-score"), ("payments-risk.yaml", "chargeback-loss"),
          ("customer-churn.yaml", "churn"),
          (str(CASES / "recommender.yaml"), "home-ranker"),                    # ranking, LGBMRanker
          (str(CASES / "card-fraud.yaml"), "fraud-triage"),                    # multiclass
          (str(CASES / "credit-risk.yaml"), "pd-12m"),                         # binary, LogisticRegression
          (str(CASES / "delivery-time.yaml"), "eta"),                          # regression, LightGBM
          (str(CASES / "predictive-maintenance.yaml"), "failure-7d"),          # binary, three entities
          (str(CASES / "predictive-maintenance.yaml"), "failure-7d-fleet"),    # a multi-entity view
          (str(CASES / "weekly-demand.yaml"), "units-forecast")]               # regression, joined SQL, XGBoost


@pytest.fixture(scope="module")
def systems():
    return {spec: load_unit(SPECS / spec).project.base for spec in {spec for spec, _ in MODELS}}


def training_rows(system, model, sample) -> pd.DataFrame:
    """The label rows with each feature as of the row's event time, within its view's TTL
    (rows without every feature dropped), sorted as `load_training_data` sorts them."""
    views = {v.name: v for v in system.feature_views if v.name in model.feature_views}
    join_keys = list(dict.fromkeys(k for v in views.values() for e in v.entities for k in e.join_keys))
    timestamp = model.label_timestamp  # the column the pipeline joins on (KfpTarget passes it)
    sensitive = list(model.fairness.sensitive) if model.fairness else []
    label_columns = list(dict.fromkeys([*join_keys, timestamp, model.label_column, *sensitive,
                                        *([model.group] if model.group else [])]))
    rows = sample.frames[model.label_dataset.name][label_columns].rename(columns={timestamp: "event_timestamp"})
    for view in views.values():
        keys = [k for e in view.entities for k in e.join_keys]
        names = [f.name for f in model.features if f.view == view.name]
        features = sample.frames[view.source.name][[*keys, view.timestamp_field, *names]]
        rows = pd.merge_asof(rows.sort_values("event_timestamp"),
                             features.rename(columns={view.timestamp_field: "_feature_time"})
                             .sort_values("_feature_time"),
                             left_on="event_timestamp", right_on="_feature_time", by=keys, direction="backward",
                             tolerance=pd.Timedelta(seconds=view.ttl_seconds)).drop(columns="_feature_time")
    rows = rows.dropna(subset=[f.name for f in model.features])
    order = [c for c in label_columns if c != timestamp] + ["event_timestamp"]
    return rows.sort_values(order, kind="mergesort").reset_index(drop=True)


def stricter(gate) -> str:
    """A gate with a quarter of its room taken away (`roc_auc >= 0.9` -> `>= 0.925`; a bound on
    an error, `mae <= 40` -> `<= 30`)."""
    if gate.operator in (">=", ">"):
        return f"{gate.metric} {gate.operator} {gate.threshold + (1 - gate.threshold) / 4:g}"
    return f"{gate.metric} {gate.operator} {gate.threshold * 0.75:g}"


def train_and_evaluate(model, rows, tmp_path, gates: list[str]) -> None:
    """The pipeline's own train and evaluate steps on `rows`; raises when a gate fails."""
    features = [f.name for f in model.features]
    training_data = dsl.Dataset(name="training_data", uri=str(tmp_path / "training_data.parquet"))
    rows.to_parquet(training_data.path, index=False)
    fitted = dsl.Model(name="model", uri=str(tmp_path / "model.joblib"))
    test_data = dsl.Dataset(name="test_data", uri=str(tmp_path / "test_data.parquet"))
    group = {"group": model.group} if model.group else {}
    components.train_model.python_func(
        training_data=training_data, estimator=model.training.estimator,
        params_json=json.dumps(model.training.params), features=features,
        categorical=[f.name for f in model.features if f.type in CATEGORICAL_TYPES], label=model.label_column,
        task=model.task, test_size=model.split.test, seed=model.split.seed, split_method=model.split.method,
        split_column="" if model.split.column is None else "event_timestamp", model=fitted, test_data=test_data,
        **group)
    components.evaluate_model.python_func(
        model=fitted, test_data=test_data, features=features, label=model.label_column, task=model.task,
        gates=gates, metrics=dsl.Metrics(name="metrics"), **group)
    return fitted, test_data


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("spec, name", MODELS)
def test_a_model_trained_on_the_sample_passes_its_gates_by_a_margin(systems, spec, name, seed, tmp_path):
    system = systems[spec]
    model = next(m for m in system.models if m.name == name)
    sample = synthesize(system, rows=ROWS, seed=seed)
    rows = training_rows(system, model, sample)
    assert len(rows) == len(sample.frames[model.label_dataset.name]), "every label row has its features"

    features = [f.name for f in model.features]
    # Each raises, naming the metric, when a (stricter) gate fails.
    fitted, test_data = train_and_evaluate(model, rows, tmp_path, [stricter(g) for g in model.gates])
    if model.fairness:
        fairness = model.fairness
        result = json.loads(components.check_fairness.python_func(
            model=fitted, test_data=test_data, features=features, label=model.label_column,
            sensitive=list(fairness.sensitive), metric=fairness.metric, max_disparity=fairness.max_disparity / 2,
            fairness=dsl.Metrics(name="fairness")))
        for column in fairness.sensitive:
            assert len(result["by_group"][column]) >= 2, "the gate compares groups"


# Models whose every gate, not only some, fails on a shuffled label (each gate measures ranking
# quality, which chance does not reach): held as strictly as when this control was written for them.
EVERY_GATE_FAILS = {"home-ranker"}


@pytest.mark.parametrize("spec, name", MODELS)
def test_with_the_label_shuffled_the_same_model_fails_its_gates(systems, spec, name, tmp_path):
    """The negative control: what the model learns is in the features, not in the row order or a
    leak, so with the label shuffled across rows the spec's own gates fail."""
    system = systems[spec]
    model = next(m for m in system.models if m.name == name)
    rows = training_rows(system, model, synthesize(system, rows=ROWS, seed=0))
    rows[model.label_column] = rows[model.label_column].sample(frac=1.0, random_state=0).to_numpy()
    with pytest.raises(RuntimeError, match="evaluation gate failed") as failure:
        train_and_evaluate(model, rows, tmp_path, [f"{g.metric} {g.operator} {g.threshold:g}" for g in model.gates])
    failed = [g.metric for g in model.gates if f"{g.metric} = " in str(failure.value)]
    if name in EVERY_GATE_FAILS:
        assert failed == [g.metric for g in model.gates], str(failure.value)
    else:
        # A loose gate may still hold by chance (a shuffled label's base rate meets `precision >= 0.3`):
        # the gates as a whole stop the model, naming each gate that failed.
        assert failed, str(failure.value)
