"""The Kubeflow Pipelines lightweight components of the training pipeline mlspec generates.

KFP embeds each component's source text in the compiled pipeline, so these functions must
stand in the generated `kfp/<model>_training.py` itself: mlspec copies the sections below the
`# mlspec-emit:` markers into it verbatim (see mlspec.runtime), `fairness` only for a model with
a fairness gate. Each function imports what it needs inside its body, because it runs alone
in the training image.

What comes before the first marker is not emitted: it gives this module the names the
generated pipeline file defines above the components (its imports, and the spec's image and
packages), so that the components can be imported, linted and called as plain functions
(`evaluate_model.python_func(...)`) by the tests.
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

# In the generated file: the spec's `training.image` and `training.packages`.
BASE_IMAGE = "python:3.11"
PACKAGES = []
# mlspec-emit: always


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def load_training_data(
    feast_config: str,
    label_data_uri: str,
    feature_service: str,
    timestamp_column: str,
    label_columns: list,
    training_data: Output[Dataset],
):
    """Join the label rows (entity keys, event time, label, sensitive and split columns) to
    the model's features as of each row's event time (Feast point-in-time join).

    Feast is configured from `feast_config` (the spec's `feature_store.yaml` as JSON), not from
    a repo folder: the feature definitions come from the registry it names (on the object
    store, where `feast apply` wrote them), so the training image needs no Feast repo."""
    import json

    import pandas as pd
    from feast import FeatureStore, RepoConfig

    labels = pd.read_parquet(label_data_uri, columns=label_columns)
    entity_df = labels.rename(columns={timestamp_column: "event_timestamp"})
    store = FeatureStore(config=RepoConfig(**json.loads(feast_config)))
    service = store.get_feature_service(feature_service)
    frame = store.get_historical_features(entity_df=entity_df, features=service).to_df()
    feature_columns = [f.name for p in service.feature_view_projections for f in p.features]
    missing = frame[feature_columns].isna().any(axis=1)
    if missing.any():
        print(f"dropping {int(missing.sum())} of {len(frame)} rows without feature values in the TTL window")
        frame = frame[~missing]
    if frame.empty:
        raise RuntimeError(f"no training rows: no label row of {label_data_uri} has features in {feature_service}")
    keys = [c for c in label_columns if c != timestamp_column] + ["event_timestamp"]
    frame = frame.sort_values(keys, kind="mergesort").reset_index(drop=True)  # reproducible order
    frame.to_parquet(training_data.path, index=False)
    print(f"{len(frame)} training rows with features {feature_columns}")


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def train_model(
    training_data: Input[Dataset],
    estimator: str,
    params_json: str,
    features: list,
    categorical: list,
    label: str,
    task: str,
    test_size: float,
    seed: int,
    split_method: str,
    split_column: str,
    model: Output[Model],
    test_data: Output[Dataset],
    group: str = "",
):
    """Split the rows, then fit the spec's estimator with its params on the training part.

    A `random` split holds out a random (stratified, for classification) share; a `time` split
    holds out the rows from the cut-off time of `split_column` on, so no later rows are trained
    on. String and bool features (`categorical`) are one-hot encoded inside the fitted model (an
    sklearn Pipeline), so whatever serves the model takes the raw values. The params travel as
    JSON: a KFP struct parameter would turn every integer into a float.

    A ranking model (`group`, the column grouping the rows ranked together) holds out whole
    groups (a random share of them, or for a time split the groups that start from the cut-off
    on), and is fitted on rows sorted by group with each group's size (`group=` for LightGBM's
    LGBMRanker, `qid=` for XGBoost's XGBRanker; an estimator taking neither learns row by row)."""
    import importlib
    import inspect
    import json

    import joblib
    import pandas as pd
    from sklearn.model_selection import train_test_split

    frame = pd.read_parquet(training_data.path)
    if group:  # ranking: a group is held out whole or trained on whole, never split
        from sklearn.model_selection import GroupShuffleSplit

        frame = frame.sort_values(group, kind="mergesort").reset_index(drop=True)
        if frame[group].nunique() < 2:
            raise RuntimeError(f"ranking: the training rows hold {frame[group].nunique()} group of {group}; holding"
                               " groups out for evaluation needs two at least")
        if split_method == "time":
            starts = pd.to_datetime(frame[split_column], utc=True).groupby(frame[group]).min()
            starts = starts.sort_values(kind="mergesort")
            held = starts.index[min(len(starts) - 1, int(len(starts) * (1 - test_size))):]
            is_test = frame[group].isin(held)
            train, test = frame[~is_test], frame[is_test]
            print(f"time split on {split_column}: {len(held)} groups of {group} starting from"
                  f" {starts[held[0]]} held out")
        else:
            splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
            train_index, test_index = next(splitter.split(frame, groups=frame[group]))
            train, test = frame.iloc[train_index], frame.iloc[test_index]
        print(f"ranking: {train[group].nunique()} groups of {group} trained on, {test[group].nunique()} held out")
    elif split_method == "time":
        times = pd.to_datetime(frame[split_column], utc=True)
        cutoff = times.sort_values(kind="mergesort").iloc[int(len(frame) * (1 - test_size))]
        train, test = frame[times < cutoff], frame[times >= cutoff]
        if train.empty or test.empty:
            raise RuntimeError(f"time split on {split_column}: every row falls on one side of {cutoff};"
                               " the training data covers too short a period")
        print(f"time split on {split_column}: trained on rows before {cutoff}, evaluated on the rest")
    else:
        stratify = frame[label] if task != "regression" else None
        train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
    # Only an estimator class of the training libraries is called, whatever the pipeline was
    # given (a run's parameters can be edited): the modules mlspec validate allows
    # (mlspec.check.estimators), and a class derived from scikit-learn's BaseEstimator.
    from sklearn.base import BaseEstimator

    estimator_modules = (
        "sklearn.discriminant_analysis", "sklearn.dummy", "sklearn.ensemble", "sklearn.gaussian_process",
        "sklearn.isotonic", "sklearn.kernel_ridge", "sklearn.linear_model", "sklearn.naive_bayes",
        "sklearn.neighbors", "sklearn.neural_network", "sklearn.svm", "sklearn.tree",
        "lightgbm", "lightgbm.sklearn", "xgboost", "xgboost.sklearn",
    )
    module_name, _, class_name = estimator.rpartition(".")
    if module_name not in estimator_modules or not class_name[:1].isupper():
        raise ValueError(f"estimator {estimator!r} is not a class of the modules {', '.join(estimator_modules)}")
    estimator_class = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(estimator_class, type) and issubclass(estimator_class, BaseEstimator)):
        raise TypeError(f"estimator {estimator!r} is not a scikit-learn compatible estimator class"
                        f" (a subclass of sklearn.base.BaseEstimator)")
    fitted = estimator_class(**json.loads(params_json))
    if categorical:
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder

        # By position, so the model takes rows as lists (KServe's v1 protocol) as well as frames.
        positions = [features.index(name) for name in categorical]
        encode = ColumnTransformer([("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                     positions)], remainder="passthrough")
        fitted = Pipeline([("encode", encode), ("estimator", fitted)])
    fit_params = {}
    if group:
        accepts = inspect.signature(estimator_class.fit).parameters
        if "group" in accepts:  # the size of each group, in row order (the rows are sorted by group)
            fit_params["group"] = train.groupby(group, sort=False).size().to_numpy()
        elif "qid" in accepts:  # a query id per row, ascending
            fit_params["qid"] = pd.factorize(train[group], sort=True)[0]
        if categorical:
            fit_params = {f"estimator__{name}": value for name, value in fit_params.items()}
    fitted = fitted.fit(train[features], train[label], **fit_params)
    joblib.dump(fitted, model.path)
    model.metadata.update({"estimator": estimator, "train_rows": len(train), "test_rows": len(test)})
    test.to_parquet(test_data.path, index=False)
    print(f"trained {estimator} on {len(train)} rows; {len(test)} rows held out")


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def evaluate_model(
    model: Input[Model],
    test_data: Input[Dataset],
    features: list,
    label: str,
    task: str,
    gates: list,
    metrics: Output[Metrics],
    group: str = "",
) -> str:
    """Measure the model on the held-out rows and stop the pipeline when a gate fails.

    Each gate is the spec's own comparison (`accuracy >= 0.85`, `mae <= 40`), so lower-is-better metrics
    (log_loss, rmse, mae, mape) are gated the way the spec wrote them. Returns the metrics as JSON.

    A ranking model's metrics (`ndcg`, `map`, `mrr`, each alone or with a cutoff `@k`: those the
    gates name and a few more) are measured on each group of held-out rows, ranked by the model's
    scores, and averaged over the groups that hold a relevant row (relevance above 0; a group
    without one ranks nothing right or wrong). NDCG is scikit-learn's (`ndcg_score`: the
    relevance as gain, tied scores averaged); MAP and MRR count a row relevant when its relevance
    is above 0, and break tied scores against the model (the irrelevant row first)."""
    import json
    import operator

    import joblib
    import numpy as np
    import pandas as pd
    from sklearn import metrics as skm

    fitted = joblib.load(model.path)
    test = pd.read_parquet(test_data.path)
    x, y = test[features], test[label]
    predicted = fitted.predict(x)
    values = {}
    if task == "ranking":
        def ranking_metric(name, cutoff, relevance, score):
            if name == "ndcg":
                if len(relevance) == 1:
                    return 1.0  # one relevant row, ranked first
                return float(skm.ndcg_score([relevance], [score], k=cutoff))
            hits = relevance[np.lexsort((relevance, -score))][:cutoff] > 0
            if name == "mrr":
                return float(1.0 / (np.argmax(hits) + 1)) if hits.any() else 0.0
            precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)  # map: average precision
            return float((precision * hits).sum() / min(len(hits) if cutoff is None else cutoff,
                                                        int((relevance > 0).sum())))

        wanted = ["ndcg", "ndcg@5", "ndcg@10", "map@5", "map@10", "mrr"] + [gate.split()[0] for gate in gates]
        score = np.asarray(predicted, dtype="float64")
        per_group = [(y.to_numpy()[rows], score[rows]) for rows in test.groupby(group, sort=True).indices.values()]
        per_group = [(relevance.astype("float64"), s) for relevance, s in per_group if (relevance > 0).any()]
        if not per_group:
            raise RuntimeError(f"ranking: no group of {group} among the held-out rows has a relevant row (label > 0)"
                               " to rank, so nothing can be measured")
        for metric in dict.fromkeys(wanted):
            name, _, cutoff = metric.partition("@")
            values[metric] = float(np.mean([ranking_metric(name, int(cutoff) if cutoff else None, relevance, s)
                                            for relevance, s in per_group]))
        print(f"ranking metrics over {len(per_group)} groups of {group} with a relevant row")
    elif task == "regression":
        values["rmse"] = float(np.sqrt(skm.mean_squared_error(y, predicted)))
        values["mae"] = float(skm.mean_absolute_error(y, predicted))
        values["r2"] = float(skm.r2_score(y, predicted))
        values["mape"] = float(skm.mean_absolute_percentage_error(y, predicted))
    else:
        proba = fitted.predict_proba(x)
        binary = len(fitted.classes_) == 2
        average = {"pos_label": fitted.classes_[-1]} if binary else {"average": "macro"}
        values["accuracy"] = float(skm.accuracy_score(y, predicted))
        values["balanced_accuracy"] = float(skm.balanced_accuracy_score(y, predicted))
        values["precision"] = float(skm.precision_score(y, predicted, zero_division=0, **average))
        values["recall"] = float(skm.recall_score(y, predicted, zero_division=0, **average))
        values["f1"] = float(skm.f1_score(y, predicted, zero_division=0, **average))
        values["log_loss"] = float(skm.log_loss(y, proba, labels=fitted.classes_))
        if binary:
            values["roc_auc"] = float(skm.roc_auc_score(y, proba[:, 1]))
        else:
            values["roc_auc"] = float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=fitted.classes_))
    for name, value in sorted(values.items()):
        metrics.log_metric(name, value)
        print(f"{name} = {value:.4f}")
    compare = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
    failed = []
    for gate in gates:  # "<metric> <operator> <threshold>", e.g. "accuracy >= 0.85"
        metric, op, threshold = gate.split()
        if not compare[op](values[metric], float(threshold)):
            failed.append(f"{metric} = {values[metric]:.4f}, required {op} {threshold}")
    if failed:
        raise RuntimeError("evaluation gate failed, the model is not registered: " + "; ".join(failed))
    return json.dumps(values, sort_keys=True)
# mlspec-emit: fairness


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def check_fairness(
    model: Input[Model],
    test_data: Input[Dataset],
    features: list,
    label: str,
    sensitive: list,
    metric: str,
    max_disparity: float,
    fairness: Output[Metrics],
) -> str:
    """Compare `metric` across the groups of each sensitive column (fairlearn MetricFrame) and
    stop the pipeline when the largest difference between groups exceeds `max_disparity`.
    Returns {"disparity": {column: value}, "by_group": {column: {group: value}}} as JSON."""
    import json

    import joblib
    import pandas as pd
    from fairlearn.metrics import (MetricFrame, false_positive_rate, selection_rate,
                                   true_positive_rate)
    from sklearn.metrics import accuracy_score

    fitted = joblib.load(model.path)
    test = pd.read_parquet(test_data.path)
    predicted = fitted.predict(test[features])
    positive = fitted.classes_[-1]
    functions = {
        "selection_rate": lambda t, p: selection_rate(t, p, pos_label=positive),
        "true_positive_rate": lambda t, p: true_positive_rate(t, p, pos_label=positive),
        "false_positive_rate": lambda t, p: false_positive_rate(t, p, pos_label=positive),
        "accuracy": accuracy_score,
    }
    result = {"metric": metric, "disparity": {}, "by_group": {}}
    failed = []
    for column in sensitive:
        frame = MetricFrame(metrics=functions[metric], y_true=test[label], y_pred=predicted,
                            sensitive_features=test[column].astype(str))
        disparity = float(frame.difference(method="between_groups"))
        result["disparity"][column] = disparity
        result["by_group"][column] = {str(g): float(v) for g, v in sorted(frame.by_group.items())}
        fairness.log_metric(f"{metric}_disparity_{column}", disparity)
        print(f"{metric} by {column}: {result['by_group'][column]}; disparity {disparity:.4f}")
        if disparity > max_disparity:
            failed.append(f"{metric} differs by {disparity:.4f} between groups of {column}, allowed {max_disparity}")
    if failed:
        raise RuntimeError("fairness gate failed, the model is not registered: " + "; ".join(failed))
    return json.dumps(result, sort_keys=True)
# mlspec-emit: always


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def register_model(
    model: Input[Model],
    test_data: Input[Dataset],
    training_data: Input[Dataset],
    reference_uri: str,
    features: list,
    estimator: str,
    params_json: str,
    metrics_json: str,
    fairness_json: str,
    tracking_uri: str,
    experiment: str,
    registered_model_name: str,
    flavor: str,
) -> NamedTuple("Registered", [("run_id", str), ("version", str)]):
    """Log params, metrics, the model and the held-out rows to MLflow and register the model
    as a new version (the alias is set last, once the model card is written).

    The model is logged in the flavor its serving format needs, so the version's folder is what
    KServe's runtime for that format loads: `sklearn` (MLflow's scikit-learn flavor, for MLServer
    and `format: mlflow`), `sklearn-pickle` (a `model.pkl` KServe's scikit-learn server loads),
    `xgboost` (a `model.ubj` booster for its XGBoost server; no input example, whose JSON it
    would take for a second model file) or `lightgbm` (the flavor plus the `model.bst` booster
    its LightGBM server loads)."""
    import json
    import os
    import shutil
    import tempfile
    from collections import namedtuple

    import joblib
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    fitted = joblib.load(model.path)
    sample = pd.read_parquet(test_data.path)[features].head(5)
    signature = infer_signature(sample, fitted.predict(sample))
    # MLflow's metric names take no `@`: a ranking metric's cutoff is logged as `ndcg_at_10`.
    measured = {name.replace("@", "_at_"): value for name, value in json.loads(metrics_json).items()}
    fairness = json.loads(fairness_json) if fairness_json else {}
    for column, value in fairness.get("disparity", {}).items():
        measured[f"{fairness['metric']}_disparity_{column}"] = value
    with mlflow.start_run() as run:
        mlflow.log_params({"estimator": estimator, **json.loads(params_json)})
        mlflow.log_metrics(measured)
        if flavor == "lightgbm":
            import skops.io

            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "model")
                # MLflow saves LightGBM's scikit-learn models with skops too, trusting only the classifier and
                # regressor by itself: the ranker (LGBMRanker) was fitted by this pipeline as well.
                trusted = skops.io.get_untrusted_types(data=skops.io.dumps(fitted))
                mlflow.lightgbm.save_model(fitted, path, signature=signature, input_example=sample,
                                           skops_trusted_types=trusted)
                fitted.booster_.save_model(os.path.join(path, "model.bst"))
                mlflow.log_artifacts(path, artifact_path="model")
            registered = mlflow.register_model(f"runs:/{run.info.run_id}/model", registered_model_name)
            version = str(registered.version)
        else:
            if flavor == "xgboost":
                info = mlflow.xgboost.log_model(fitted, name="model", registered_model_name=registered_model_name,
                                                signature=signature, model_format="ubj")
            elif flavor == "sklearn-pickle":
                info = mlflow.sklearn.log_model(fitted, name="model", registered_model_name=registered_model_name,
                                                signature=signature, input_example=sample,
                                                serialization_format="pickle")
            else:
                import skops.io

                # MLflow saves sklearn models with skops, which loads only types it is told to trust;
                # the model was fitted by this pipeline's own train step, so its types are trusted.
                trusted = skops.io.get_untrusted_types(data=skops.io.dumps(fitted))
                info = mlflow.sklearn.log_model(fitted, name="model", registered_model_name=registered_model_name,
                                                signature=signature, input_example=sample,
                                                skops_trusted_types=trusted)
            version = str(info.registered_model_version)
        # The held-out rows travel with the run, for the fairness notebook and later audits.
        with tempfile.TemporaryDirectory() as folder:
            copy = os.path.join(folder, "test.parquet")
            shutil.copyfile(test_data.path, copy)
            mlflow.log_artifact(copy, artifact_path="test_data")
    print(f"registered {registered_model_name} version {version} (run {run.info.run_id}, {flavor} flavor)")
    if reference_uri:
        # The drift check compares production features with what this version was trained on.
        if "://" not in reference_uri:
            os.makedirs(os.path.dirname(os.path.abspath(reference_uri)), exist_ok=True)
        pd.read_parquet(training_data.path)[features].to_parquet(reference_uri, index=False)
        print(f"wrote the drift reference snapshot to {reference_uri}")
    return namedtuple("Registered", ["run_id", "version"])(run.info.run_id, version)


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def challenge_champion(
    model: Input[Model],
    test_data: Input[Dataset],
    features: list,
    label: str,
    task: str,
    metric: str,
    tracking_uri: str,
    registered_model_name: str,
    alias: str,
    version: str,
    run_id: str,
    flavor: str,
    group: str = "",
) -> str:
    """Champion/challenger: measure the new version (the challenger) and the version the alias
    points at (the champion) on the same held-out rows (this run's test split) by the spec's
    primary metric, with the same code for both; the challenger takes the alias only if it is
    strictly better (lower for log_loss, rmse, mae and mape), and the first version, with no
    champion, takes it. A champion that cannot be measured on these rows (it reads other features)
    cannot defend the alias. The comparison is logged on the challenger's MLflow run (metrics
    `challenger_<metric>` and `champion_<metric>`, tags `mlspec.challenge.*`) and as tags of its
    model version, and returned as JSON for the model card and the alias step."""
    import json

    import joblib
    import numpy as np
    import pandas as pd
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
    from sklearn import metrics as skm

    test = pd.read_parquet(test_data.path)
    x, y = test[features], test[label]

    def measure(fitted) -> float:
        if task == "ranking":  # as evaluate_model: per group with a relevant row, averaged
            name, _, cutoff = metric.partition("@")
            cutoff = int(cutoff) if cutoff else None
            score = np.asarray(fitted.predict(x), dtype="float64")
            values = []
            for rows in test.groupby(group, sort=True).indices.values():
                relevance = y.to_numpy()[rows].astype("float64")
                if not (relevance > 0).any():
                    continue
                if name == "ndcg":
                    values.append(1.0 if len(relevance) == 1 else float(skm.ndcg_score([relevance], [score[rows]],
                                                                                        k=cutoff)))
                    continue
                hits = relevance[np.lexsort((relevance, -score[rows]))][:cutoff] > 0
                if name == "mrr":
                    values.append(float(1.0 / (np.argmax(hits) + 1)) if hits.any() else 0.0)
                else:
                    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
                    values.append(float((precision * hits).sum() / min(len(hits) if cutoff is None else cutoff,
                                                                       int((relevance > 0).sum()))))
            return float(np.mean(values))
        predicted = fitted.predict(x)
        if task == "regression":
            return float({"rmse": lambda: np.sqrt(skm.mean_squared_error(y, predicted)),
                          "mae": lambda: skm.mean_absolute_error(y, predicted),
                          "r2": lambda: skm.r2_score(y, predicted),
                          "mape": lambda: skm.mean_absolute_percentage_error(y, predicted)}[metric]())
        binary = len(fitted.classes_) == 2
        average = {"pos_label": fitted.classes_[-1]} if binary else {"average": "macro"}
        if metric in ("roc_auc", "log_loss"):
            proba = fitted.predict_proba(x)
            if metric == "log_loss":
                return float(skm.log_loss(y, proba, labels=fitted.classes_))
            if binary:
                return float(skm.roc_auc_score(y, proba[:, 1]))
            return float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=fitted.classes_))
        return float({"accuracy": lambda: skm.accuracy_score(y, predicted),
                      "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, predicted),
                      "precision": lambda: skm.precision_score(y, predicted, zero_division=0, **average),
                      "recall": lambda: skm.recall_score(y, predicted, zero_division=0, **average),
                      "f1": lambda: skm.f1_score(y, predicted, zero_division=0, **average)}[metric]())

    lower_is_better = metric in ("log_loss", "rmse", "mae", "mape")
    client = MlflowClient(tracking_uri=tracking_uri or None)
    challenger = measure(joblib.load(model.path))
    result = {"metric": metric, "lower_is_better": lower_is_better, "alias": alias, "version": version,
              "challenger": challenger, "champion": None, "champion_version": None}
    try:
        holder = client.get_model_version_by_alias(registered_model_name, alias)
    except MlflowException:  # RESOURCE_DOES_NOT_EXIST: no version has the alias yet
        holder = None
    if holder is None or str(holder.version) == str(version):
        result.update(takes_alias=True, reason=f"no version of {registered_model_name} has the alias `{alias}` yet")
    else:
        import mlflow

        if tracking_uri:  # `models:/` URIs are resolved against the process's registry
            mlflow.set_tracking_uri(tracking_uri)
        result["champion_version"] = str(holder.version)
        uri = f"models:/{registered_model_name}/{holder.version}"
        loader = {"xgboost": mlflow.xgboost, "lightgbm": mlflow.lightgbm}.get(flavor, mlflow.sklearn)
        fitted = loader.load_model(uri)  # an unreachable registry fails the step (it is retried)
        try:
            champion = measure(fitted)
        except Exception as error:  # other features, other classes: it cannot be judged on these rows
            champion = None
            result.update(takes_alias=True, reason=f"the champion, version {holder.version}, cannot be measured on"
                                                   f" this run's held-out rows ({type(error).__name__}: {error})")
        if champion is not None:
            result["champion"] = champion
            better = challenger < champion if lower_is_better else challenger > champion
            word = "lower" if lower_is_better else "higher"
            result.update(takes_alias=better, reason=(
                f"{metric} {challenger:.4f} vs {champion:.4f} of the champion, version {holder.version}, on the same"
                f" held-out rows: {'better' if better else 'not better'} ({word} is better)"))
    name = metric.replace("@", "_at_")
    client.log_metric(run_id, f"challenger_{name}", challenger)
    if result["champion"] is not None:
        client.log_metric(run_id, f"champion_{name}", result["champion"])
    tags = {"mlspec.challenge.metric": metric, "mlspec.challenge.takes_alias": str(result["takes_alias"]).lower(),
            "mlspec.challenge.reason": result["reason"],
            "mlspec.challenge.champion_version": result["champion_version"] or ""}
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
        client.set_model_version_tag(registered_model_name, version, key, value)
    verdict = "takes" if result["takes_alias"] else "does not take"
    print(f"{registered_model_name} version {version} {verdict} the alias `{alias}`: {result['reason']}")
    return json.dumps(result, sort_keys=True)


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def write_model_card(
    card: dict,
    hf_card: dict,
    metrics_json: str,
    fairness_json: str,
    version: str,
    run_id: str,
    tracking_uri: str,
    model_card: Output[Artifact],
    comparison_json: str = "",
):
    """Fill the model card with the measured metrics (overall and per sensitive slice) and
    the registered version, and log it as artifacts of the run: Model Card Toolkit JSON and
    Markdown, and the Hugging Face model card (`model_card/README.md`: YAML metadata whose
    `model-index` holds the results, huggingface.co/docs/hub/model-cards#evaluation-results), each
    with the champion/challenger comparison (`comparison_json`, from challenge_champion)."""
    import datetime
    import json

    import yaml
    from mlflow.tracking import MlflowClient

    measured = json.loads(metrics_json)
    fairness = json.loads(fairness_json) if fairness_json else {}
    performance = [{"type": name, "value": value} for name, value in sorted(measured.items())]
    for column, groups in sorted(fairness.get("by_group", {}).items()):
        performance += [{"type": fairness["metric"], "value": value, "slice": f"{column}={group}"}
                        for group, value in sorted(groups.items())]
    card = dict(card)
    card["model_details"] = dict(card["model_details"], version={
        "name": version, "date": datetime.date.today().isoformat(), "diff": f"MLflow run {run_id}"})
    comparison = json.loads(comparison_json) if comparison_json else {}
    if comparison.get("champion") is not None:
        performance.append({"type": comparison["metric"], "value": comparison["champion"],
                            "slice": f"champion (version {comparison['champion_version']})"})
    card["quantitative_analysis"] = {"performance_metrics": performance}
    verdict = ""
    if comparison:
        verdict = (f"Champion/challenger: this version {'takes' if comparison['takes_alias'] else 'does not take'}"
                   f" the alias `{comparison['alias']}`: {comparison['reason']}.")
        card["considerations"] = dict(card.get("considerations") or {})
        card["considerations"]["tradeoffs"] = [*card["considerations"].get("tradeoffs", []), {"description": verdict}]
    text = json.dumps(card, indent=2, sort_keys=True) + "\n"
    with open(model_card.path, "w", encoding="utf-8") as handle:
        handle.write(text)
    rows = "\n".join(f"| {m['type']} | {m.get('slice', 'overall')} | {m['value']:.4f} |" for m in performance)
    markdown = (f"# Model card: {card['model_details']['name']} version {version}\n\n"
                f"{card['model_details'].get('overview', '')}\n\n"
                f"| metric | slice | value |\n|---|---|---|\n{rows}\n" + (f"\n{verdict}\n" if verdict else ""))
    client = MlflowClient(tracking_uri=tracking_uri or None)
    client.log_text(run_id, text, "model_card/model-card.json")
    client.log_text(run_id, markdown, "model_card/model-card.md")

    # The Hugging Face card: one evaluation result for the whole held-out split, one per slice.
    evaluation = hf_card["evaluation"]
    task = {"type": evaluation["task"]}
    dataset = {"name": evaluation["dataset"], "type": evaluation["dataset"], "split": "test"}
    overall = [{"type": name, "value": float(value), "name": name} for name, value in sorted(measured.items())]
    overall += [{"type": f"{fairness['metric']}_disparity", "value": float(value),
                 "name": f"{fairness['metric']} disparity across {column}"}
                for column, value in sorted(fairness.get("disparity", {}).items())]
    results = [{"task": task, "dataset": dataset, "metrics": overall}]
    table = [("overall", m["name"], m["value"]) for m in overall]
    for column, groups in sorted(fairness.get("by_group", {}).items()):
        for group, value in sorted(groups.items()):
            where = f"{column}={group}"
            results.append({"task": task, "dataset": dict(dataset, config=where), "metrics": [
                {"type": fairness["metric"], "value": float(value), "name": f"{fairness['metric']} ({where})"}]})
            table.append((where, fairness["metric"], float(value)))
    metadata = dict(hf_card["metadata"])
    metadata["model-index"] = [{"name": metadata.get("model_name") or card["model_details"]["name"],
                                "results": results}]

    def cell(value) -> str:
        return " ".join(str(value).split()).replace("|", "\\|")

    rows = "\n".join(f"| {cell(where)} | {cell(name)} | {value:.4f} |" for where, name, value in table)
    measured_text = (f"Version {cell(version)} (MLflow run `{run_id}`), on the held-out split:\n\n"
                     f"| Slice | Metric | Value |\n|---|---|---|\n{rows}" + (f"\n\n{verdict}" if verdict else ""))
    body = hf_card["body"].replace(evaluation["placeholder"], measured_text)
    front = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True, default_flow_style=False)
    client.log_text(run_id, f"---\n{front}---\n\n{body}", "model_card/README.md")


@dsl.component(base_image=BASE_IMAGE, packages_to_install=PACKAGES)
def set_alias(tracking_uri: str, registered_model_name: str, alias: str, version: str, comparison_json: str = ""):
    """Point the alias (MLflow aliases, not stages) at the version that passed every gate and
    beat the champion (`comparison_json`, from challenge_champion); a version that did not is left
    registered without it, and the step says why."""
    import json

    from mlflow.tracking import MlflowClient

    comparison = json.loads(comparison_json) if comparison_json else {"takes_alias": True}
    if not comparison["takes_alias"]:
        print(f"{registered_model_name} version {version} is registered without the alias `{alias}`:"
              f" {comparison['reason']}")
        return
    MlflowClient(tracking_uri=tracking_uri or None).set_registered_model_alias(registered_model_name, alias, version)
    print(f"{registered_model_name}@{alias} -> version {version}")
