"""`training.estimator` names what the train step calls with the spec's params. Attack (issue
23): `estimator: subprocess.Popen` with `params: {args: "...", shell: true}` ran a command on
the machine training the model (the reviewer's, in `mlspec run --local`). Refused at validate
and compile (E414, located), and by the train step itself, whatever it is handed."""

from __future__ import annotations

import json
import subprocess

import pandas as pd
import pytest

from conftest import invoke_mlspec
from mlspec.check.estimators import ESTIMATOR_MODULES, estimator_problem


def _spec(project, estimator: str, marker) -> str:
    text = (project / "specs" / "customer-churn.yaml").read_text(encoding="utf-8")
    assert "estimator: sklearn.ensemble.RandomForestClassifier" in text
    text = text.replace("estimator: sklearn.ensemble.RandomForestClassifier", f"estimator: {estimator}", 1)
    text = text.replace("params: {", f"params: {{args: \"touch {marker}\", shell: true, ", 1) \
        if "params: {" in text else text
    (project / "specs" / "customer-churn.yaml").write_text(text, encoding="utf-8")
    return "specs/customer-churn.yaml"


@pytest.mark.parametrize("estimator", ["subprocess.Popen", "os.system", "builtins.exec", "sklearn.utils.Bunch",
                                       "sklearn.tree.export_text", "sklearn.BaseEstimator",
                                       "lightgbm.Booster", "xgboost.DMatrix"])
@pytest.mark.parametrize("command", ["validate", "compile"])
def test_a_callable_that_is_no_estimator_class_is_refused_located(project, tmp_path, estimator, command):
    marker = tmp_path / "pwned"
    spec = _spec(project, estimator, marker)

    result = invoke_mlspec(command, spec, cwd=project)

    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "error[E414]" in output and "= at: models.churn.training.estimator" in output
    assert "specs/customer-churn.yaml:" in output
    assert not (project / "generated").exists() and not marker.exists()


@pytest.mark.parametrize("estimator", ["sklearn.ensemble.RandomForestClassifier", "sklearn.linear_model.Ridge",
                                       "lightgbm.LGBMClassifier", "xgboost.XGBRegressor",
                                       "sklearn.ensemble.HistGradientBoostingClassifier"])
def test_the_estimators_of_the_training_libraries_pass(estimator):
    assert estimator_problem(estimator) == ""


def _train(tmp_path, estimator: str, params: dict):
    from kfp import dsl

    from mlspec.runtime import kfp_components as components

    data = dsl.Dataset(name="training_data", uri=str(tmp_path / "training_data.parquet"))
    pd.DataFrame({"x": list(range(40)), "y": [i % 2 for i in range(40)]}).to_parquet(data.path, index=False)
    components.train_model.python_func(
        training_data=data, estimator=estimator, params_json=json.dumps(params), features=["x"], categorical=[],
        label="y", task="binary_classification", test_size=0.25, seed=1, split_method="random", split_column="",
        model=dsl.Model(name="model", uri=str(tmp_path / "model.joblib")),
        test_data=dsl.Dataset(name="test", uri=str(tmp_path / "test.parquet")))


def test_the_train_step_calls_no_callable_it_is_handed(tmp_path):
    """Behind validate: a pipeline run's parameters can be edited (the KFP UI, a hand-made run)."""
    pytest.importorskip("kfp")
    marker = tmp_path / "pwned"
    with pytest.raises(ValueError, match="is not a class of the modules"):
        _train(tmp_path, "subprocess.Popen", {"args": f"touch {marker}", "shell": True})
    assert not marker.exists()


def test_the_train_step_calls_only_estimator_classes_of_an_allowed_module(tmp_path, monkeypatch):
    """An allowed module holding something else (planted here) is not called either."""
    pytest.importorskip("kfp")
    import sklearn.tree

    monkeypatch.setattr(sklearn.tree, "Popen", subprocess.Popen, raising=False)
    marker = tmp_path / "pwned"
    with pytest.raises(TypeError, match="BaseEstimator"):
        _train(tmp_path, "sklearn.tree.Popen", {"args": f"touch {marker}", "shell": True})
    assert not marker.exists()
    _train(tmp_path, "sklearn.tree.DecisionTreeClassifier", {"max_depth": 2})  # an estimator is trained
    assert (tmp_path / "model.joblib").is_file()


def test_the_train_step_and_validate_allow_the_same_modules():
    import inspect

    pytest.importorskip("kfp")
    from mlspec.runtime import kfp_components as components

    source = inspect.getsource(components.train_model.python_func)
    listed = source.split("estimator_modules = (", 1)[1].split(")", 1)[0]
    assert sorted(m.strip().strip('"') for m in listed.replace("\n", " ").split(",") if m.strip()) \
        == sorted(ESTIMATOR_MODULES)
