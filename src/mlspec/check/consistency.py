"""Settings that must agree with each other: gates with the task, rollouts with serving,
derived names with Kubernetes limits, features with the platform services they need."""

from __future__ import annotations

import re

from mlspec import names
from mlspec.check.context import CheckContext
from mlspec.check.estimators import EXAMPLES as ESTIMATOR_EXAMPLES
from mlspec.check.estimators import estimator_problem
from mlspec.diagnostics import Severity, did_you_mean
from mlspec.spec.models import (
    CLASSIFICATION_METRICS,
    FAIRNESS_METRICS,
    REGRESSION_METRICS,
    TASKS,
    metric_task,
    ranking_cutoff_error,
)


TASK_FAMILY = {"binary_classification": "classification", "multiclass_classification": "classification",
               "regression": "regression", "ranking": "ranking"}
METRICS_OF = {"classification": CLASSIFICATION_METRICS, "regression": REGRESSION_METRICS,
              "ranking": ("ndcg@10", "map@10", "mrr")}


def _written_models(ctx: CheckContext):
    """(name, task, gate metric names, fairness metric or None) of every model whose task is
    valid, including a model validation left out for an error elsewhere in it (read from the
    document as written): these rules need only the task, so a broken gate condition or
    estimator beside them does not hide them until it is fixed."""
    for name, model in ctx.spec.models.items():
        fairness = model.evaluation.fairness
        yield name, model.task, list(model.evaluation.gates), fairness.metric if fairness else None
    for name, raw in ctx.left_out("models"):
        if raw.get("task") not in TASKS:
            continue
        evaluation = raw.get("evaluation") if isinstance(raw.get("evaluation"), dict) else {}
        gates = evaluation.get("gates") if isinstance(evaluation.get("gates"), dict) else {}
        fairness = evaluation.get("fairness")
        metric = fairness.get("metric", "selection_rate") if isinstance(fairness, dict) else None
        yield name, raw["task"], [str(g) for g in gates], metric if isinstance(metric, str) else None


def check_task_metrics(ctx: CheckContext) -> None:
    """Gate and fairness metrics the model's task has."""
    for name, task, gates, fairness_metric in _written_models(ctx):
        path = ("models", name)
        family = TASK_FAMILY[task]
        for metric in gates:
            where = path + ("evaluation", "gates", metric)
            other = metric_task(metric)
            if other != family:
                hint = (f"`{metric}` is a metric for {other} models; this model's task is {task}"
                        if other else did_you_mean(metric, METRICS_OF[family]))
                if family == "ranking" and other is None:
                    hint += " (ranking metrics: `ndcg`, `map`, `mrr`, each alone or with a cutoff as `ndcg@10`)"
                ctx.error("E401", f"unknown gate metric `{metric}`", where, on_key=True, help=hint)
            elif family == "ranking" and ranking_cutoff_error(metric):
                ctx.error("E412", ranking_cutoff_error(metric), where, on_key=True,
                          help=f"write `{metric.partition('@')[0]}@10` for the top 10 of each group, or"
                               f" `{metric.partition('@')[0]}` for each group's whole list")
        declared = ctx.spec.models.get(name)
        primary = declared.evaluation.primaryMetric if declared is not None else None
        if primary is not None:
            other = metric_task(primary)
            if other != family:
                hint = (f"`{primary}` is a metric for {other} models; this model's task is {task}"
                        if other else did_you_mean(primary, METRICS_OF[family]))
            else:
                hint = ranking_cutoff_error(primary) if family == "ranking" else None
            if hint is not None:
                ctx.error("E401", f"unknown primary metric `{primary}`", path + ("evaluation", "primaryMetric"),
                          help=hint)
        if fairness_metric is None:
            continue
        if family != "classification":
            ctx.error("E403", "fairness gates apply to classification models", path + ("evaluation", "fairness"),
                      on_key=True, help="a ranking model's fairness is a matter of exposure across groups, which"
                      " fairlearn's rates do not measure" if family == "ranking" else "")
        elif fairness_metric not in FAIRNESS_METRICS[task]:
            written = "metric" in _written_fairness(ctx, name)
            ctx.error("E403", f"fairness metric `{fairness_metric}`{'' if written else ' (the default)'} compares a"
                              f" rate of the positive class, which a {task.replace('_', ' ')} model does not have",
                      path + ("evaluation", "fairness", "metric"), on_key=not written,
                      help="use `metric: accuracy` for a multiclass model")


def _written_fairness(ctx: CheckContext, name: str) -> dict:
    try:
        fairness = ctx.source.data["models"][name]["evaluation"]["fairness"]
    except (KeyError, TypeError):
        return {}
    return fairness if isinstance(fairness, dict) else {}


def check_model_settings(ctx: CheckContext) -> None:
    for name, model in ctx.spec.models.items():
        path = ("models", name)
        family = TASK_FAMILY[model.task]
        if family == "ranking" and model.group is None:
            ctx.error("E413", "a ranking model needs `group`: the column of its label's dataset that groups the"
                              " rows ranked together", path + ("task",),
                      help="add `group: session_id` (a query or session column of the label's dataset)")
        elif family != "ranking" and model.group is not None:
            ctx.error("E413", f"`group` groups the rows of a ranking model; this model's task is {model.task}",
                      path + ("group",), on_key=True, help="set `task: ranking`, or remove `group`")
        if model.rollout and not model.serving:
            ctx.error("E404", "a rollout needs a `serving` section", path + ("rollout",), on_key=True,
                      help="add `serving: {format: mlflow}` to this model")
        if model.serving and model.serving.format == "custom" and not model.serving.runtime:
            ctx.error("E405", "serving format `custom` needs a `runtime` (a ServingRuntime name)",
                      path + ("serving", "format"), help="add `runtime: my-serving-runtime`")
        problem = estimator_problem(model.training.estimator)
        if problem:
            ctx.error("E414", problem, path + ("training", "estimator"),
                      help=f"name an estimator class such as {ESTIMATOR_EXAMPLES}")
        if model.serving:
            _check_serving_format(ctx, name, model)
        if model.rollout and model.rollout.backend == "iter8":
            ctx.error("W411", "the `iter8` backend writes Iter8 v2alpha2 objects that no released Iter8 acts on:"
                      " nothing will split traffic or judge the canary", path + ("rollout", "backend"),
                      severity=Severity.WARNING,
                      help="use `backend: kserve-analysis` (KServe's canary and an Argo Rollouts analysis);"
                           " `mlspec codes W411` says why Iter8 v1.1 cannot take its place")
        slo = ctx.spec.slos.get(model.rollout.slo) if model.rollout else None
        if slo is not None and slo.errorRate is None and slo.latencyP95Ms is None:
            ctx.error("E406", f"SLO `{model.rollout.slo}` sets neither `errorRate` nor `latencyP95Ms`",
                      ("slos", model.rollout.slo), on_key=True, help="a canary needs something to be judged on")


# Serving formats whose KServe runtime loads a booster file the pipeline writes only for an
# estimator of that library; and formats the pipeline cannot write at all.
BOOSTER_FORMATS = ("xgboost", "lightgbm")
BOOSTER_NAMES = {"xgboost": "an XGBoost", "lightgbm": "a LightGBM"}
UNWRITABLE_FORMATS = ("onnx", "pytorch", "tensorflow", "triton")
CATEGORICAL_TYPES = ("string", "bool")


def categorical_features(spec, model) -> list[str]:
    """The model's string and bool features (the pipeline one-hot encodes them inside the model)."""
    found = []
    for reference in model.features:
        view_name, _, feature = reference.partition(".")
        view = spec.featureViews.get(view_name)
        if view is None:
            continue
        for name, dtype in view.features.items():
            if (feature in ("*", name)) and dtype in CATEGORICAL_TYPES and name not in found:
                found.append(name)
    return found


def _check_serving_format(ctx: CheckContext, name: str, model) -> None:
    fmt, estimator = model.serving.format, model.training.estimator
    library = estimator.split(".", 1)[0]
    where = ("models", name, "serving", "format")
    if fmt in UNWRITABLE_FORMATS:
        ctx.error("E408", f"serving format `{fmt}` needs a model in that format, but the training pipeline trains"
                          f" the scikit-learn compatible estimator `{estimator}`", where,
                  help="serve it with `format: mlflow` (MLServer), or `sklearn`")
    elif fmt == "sklearn" and library != "sklearn":
        ctx.error("E408", f"KServe's scikit-learn server loads the pickled model with scikit-learn alone, so it"
                          f" cannot load `{estimator}`", where,
                  help="use `format: mlflow` (MLServer installs the model's requirements), or a `sklearn.` estimator")
    elif fmt in BOOSTER_FORMATS and library != fmt:
        ctx.error("E408", f"KServe's {fmt} server loads {BOOSTER_NAMES[fmt]} booster file, but the estimator"
                          f" `{estimator}` is not {BOOSTER_NAMES[fmt]} model", where,
                  help=f"use `format: mlflow`, or an estimator of the {fmt} package such as"
                       f" `{'xgboost.XGBClassifier' if fmt == 'xgboost' else 'lightgbm.LGBMClassifier'}`")
    elif fmt in BOOSTER_FORMATS and categorical_features(ctx.spec, model):
        names = ", ".join(f"`{f}`" for f in categorical_features(ctx.spec, model))
        ctx.error("E408", f"the {fmt} booster file KServe serves cannot carry the one-hot encoding of the string"
                          f" and bool features {names}", where,
                  help="use `format: mlflow` or `sklearn`: their model encodes them itself, so serving takes raw"
                       " values")


def check_slo_queries(ctx: CheckContext) -> None:
    """Custom SLO queries must give one sample per revision, as the default ones do: the
    analysis judges each revision (the canary's own requests), see targets/rollout.py. The
    revision's label is the deployment mode's: `revision_name` (Knative), `destination_workload`
    (Standard) for every mode a model gated on the SLO is served in."""
    for name, slo in ctx.spec.slos.items():
        modes = sorted({m.serving.mode for m in ctx.spec.models.values()
                        if m.serving and m.rollout and m.rollout.slo == name}) or ["knative"]
        labels = [names.REVISION_LABELS[mode] for mode in modes]
        for field in ("errorRate", "latencyP95Ms"):
            query = getattr(slo.queries, field) if slo.queries else None
            if query is None:
                continue
            missing = [part for part in ("{{selector}}", *labels) if part not in query]
            if missing:
                ctx.error("E407", f"the `{field}` query of SLO `{name}` does not judge each revision: it lacks "
                          + " and ".join(f"`{part}`" for part in missing), ("slos", name, "queries", field),
                          help="select with `{{selector}}` and keep one sample per revision, e.g."
                               f" `sum by ({labels[0]}) (...)`")


def check_canary_mode(ctx: CheckContext) -> None:
    """A canary in the shape KServe admits for the model's deployment mode (KServe 0.20,
    inference_service_validation.go validateCanarySpecs): `spec.canary` is Standard mode's, with
    a stable predictor under another name; `canaryTrafficPercent` is Knative's, where Knative
    keeps the previous revision itself."""
    for name, model in ctx.spec.models.items():
        rollout, serving = model.rollout, model.serving
        if rollout is None or serving is None:
            continue
        path = ("models", name, "rollout")
        if serving.mode == "knative" and rollout.stable is not None:
            ctx.error("E411", "`rollout.stable` is the stable predictor of a Standard-mode canary (`spec.canary`),"
                              " but the model is served in Knative mode, where Knative keeps the previous revision"
                              " itself", path + ("stable",), on_key=True,
                      help="set `serving.mode: standard`, or remove `rollout.stable`")
        if serving.mode != "standard":
            continue
        if rollout.backend == "iter8":
            ctx.error("E411", "the `iter8` backend moves `predictor.canaryTrafficPercent`, which KServe acts on in"
                              " Knative mode only; in Standard mode the canary is `spec.canary`",
                      path + ("backend",), help="use `backend: kserve-analysis`, or `serving.mode: knative`")
        stable = rollout.stable
        service = names.inference_service_name(ctx.spec.metadata.name, name)
        for key, version, fallback in (("serving", serving.modelVersion, "canary"),
                                       ("stable", stable.modelVersion if stable else None, "stable")):
            deployment = names.predictor_deployment(service, names.predictor_name(version, fallback))
            if (key == "serving" or stable is not None) and len(deployment) > 63:
                ctx.error("E209", f"Standard mode names the predictor's Deployment `{deployment}`, {len(deployment)}"
                                  " characters; Kubernetes allows 63",
                          ("models", name, "serving", "modelVersion") if key == "serving"
                          else path + ("stable", "modelVersion"),
                          help="shorten the model or system name, or the model version")
        if rollout.phase == "rolledBack" and stable is None:
            ctx.error("E411", "a Standard-mode rollback serves `rollout.stable`, but the model has none: there is"
                              " no previous version to go back to", path + ("phase",),
                      help="name the version to return to under `rollout.stable`, or promote it")
        if stable is not None and serving.storageUri is not None and stable.storageUri != serving.storageUri \
                and names.predictor_name(stable.modelVersion, "stable") == names.predictor_name(serving.modelVersion, "canary"):
            ctx.error("E411", f"the stable version and the canary would both be the predictor"
                              f" `{names.predictor_name(stable.modelVersion, 'stable')}` (KServe refuses a canary named"
                              " like the stable predictor)", path + ("stable", "modelVersion"),
                      help="give the stable and the canary their own `modelVersion`")


def check_derived_names(ctx: CheckContext) -> None:
    """Different spec names must not derive the same generated name, and derived
    Kubernetes names must fit their limits."""
    system = ctx.spec.metadata.name
    seen: dict[str, str] = {}
    for name in ctx.spec.models:
        derived = names.py_name(name)
        if derived in seen:
            ctx.error("E208", f"models `{seen[derived]}` and `{name}` derive the same name `{derived}`",
                      ("models", name), on_key=True, help="rename one of them")
        seen[derived] = name
        service = names.inference_service_name(system, name)
        if ctx.spec.models[name].serving and len(service) > names.MAX_INFERENCE_SERVICE_NAME:
            ctx.error("E209", f"InferenceService name `{service}` is {len(service)} characters; KServe allows"
                              f" {names.MAX_INFERENCE_SERVICE_NAME} (Knative appends `-predictor-00001`)",
                      ("models", name), on_key=True, help="shorten the model or system name")
    for kind, section in (("entity", "entities"), ("feature view", "featureViews")):
        lowered: dict[str, str] = {}
        for name in getattr(ctx.spec, section):
            if name.lower() in lowered:
                ctx.error("E208", f"{kind} names `{lowered[name.lower()]}` and `{name}` differ only in case",
                          (section, name), on_key=True, help="file systems and Feast's registry may confuse them")
            lowered[name.lower()] = name


def check_platform_requirements(ctx: CheckContext) -> None:
    spec, platform = ctx.spec, ctx.spec.platform

    def missing(service: str) -> bool:
        # A block left out because it has an error of its own is not missing.
        return getattr(platform, service) is None and not {("platform",), ("platform", service)} & ctx.dropped

    for name, model in spec.models.items():
        if model.rollout and missing("prometheus"):
            ctx.error("E501", "a rollout gated on an SLO needs `platform.prometheus`", ("models", name, "rollout"),
                      on_key=True, help="add `platform: {prometheus: {url: http://prometheus.monitoring.svc:9090}}`")
        if model.registry and missing("mlflow"):
            ctx.error("E501", "registering a model needs `platform.mlflow`", ("models", name, "registry"),
                      on_key=True, help="add `platform: {mlflow: {trackingUri: http://mlflow:5000}}`")
    for name, dataset in spec.datasets.items():
        if dataset.storage and dataset.storage.startswith("s3://") and missing("objectStore"):
            ctx.error("E501", "an s3:// storage location needs `platform.objectStore`",
                      ("datasets", name, "storage"), help="add `platform: {objectStore: {endpoint: ..., credentialsSecret: ...}}`")
    # gs:// and abfs:// locations: their credentials (and an abfs:// account) are named only there.
    stores = {"gs://": ("gcs", "add `platform: {gcs: {credentialsSecret: gcs-credentials}}`"),
              "abfs://": ("azure", "add `platform: {azure: {account: ..., credentialsSecret: azure-credentials}}`")}
    for name, dataset in spec.datasets.items():
        source = dataset.source
        places = [(("datasets", name, "storage"), dataset.storage),
                  (("datasets", name, "source", "uri"), getattr(source, "uri", None)),
                  (("datasets", name, "versioning", "dvc", "remote"),
                   dataset.versioning.dvc.remote if dataset.versioning else None)]
        for path, location in places:
            for scheme, (service, help_text) in stores.items():
                if isinstance(location, str) and location.startswith(scheme) and missing(service):
                    ctx.error("E501", f"{'an' if scheme == 'abfs://' else 'a'} {scheme} location needs"
                                      f" `platform.{service}`", path, help=help_text)
    registry = platform.feast.registry
    if registry.startswith(("abfs://", "az://", "abfss://", "wasbs://")):
        # Feast 0.67's registry stores: file, s3://, gs://, hdfs:// (REGISTRY_STORE_CLASS_FOR_SCHEME
        # in feast/infra/registry/registry.py) or a SQL database; none for Azure Blob Storage.
        ctx.error("E112", "Feast cannot keep its registry on Azure Blob Storage: its registry stores are"
                  " a file, s3://, gs://, hdfs:// or a SQL database", ("platform", "feast", "registry"),
                  help="keep the registry in a SQL database (`registry: postgresql://...`, password by"
                       " `${ENV}` reference) or on gs:// / s3://; the feature data can stay on abfs://")
    if registry.startswith("gs://") and missing("gcs"):
        ctx.error("E501", "a gs:// Feast registry needs `platform.gcs`", ("platform", "feast", "registry"),
                  help=stores["gs://"][1])
    if spec.deploy and spec.deploy.operator and missing("deployments"):
        ctx.error("E501", "running mlspec in the cluster needs `platform.deployments` (the repository it publishes to)",
                  ("deploy", "operator"), on_key=True)
    if spec.deploy and spec.deploy.argocd:
        if missing("deployments"):
            ctx.error("E501", "Argo CD deployment needs `platform.deployments` (the repository it watches)",
                      ("deploy", "argocd"), on_key=True)
        if not spec.environments and not any(path[0] == "environments" for path in ctx.dropped):
            ctx.error("E502", "Argo CD deployment needs at least one entry under `environments`",
                      ("deploy", "argocd"), on_key=True, help="add `environments: {prod: {namespace: models}}`")


# Kargo's git subscription and git-clone accept these URLs only (akuity/kargo v1.11.2,
# pkg/subscription/schemas/git.json, `repoURL.pattern`).
KARGO_GIT_URL_RE = re.compile(
    r"(?:^(ssh|https?)://(?:([\w-]+)(:(.+))?@)?([\w-]+(?:\.[\w-]+)*)(?::(\d{1,5}))?(/.*)$)"
    r"|(?:^([\w-]+)@([\w+]+(?:\.[\w-]+)*):(/?.*))$")


def check_promotion(ctx: CheckContext) -> None:
    """`deploy.promotion: kargo` needs environments, Argo CD Applications, a repository Kargo can
    clone, and an SLO AnalysisTemplate for every served model (targets/kargo.py)."""
    spec = ctx.spec
    if spec.deploy is None or spec.deploy.promotion != "kargo":
        return
    where = ("deploy", "promotion")
    if not spec.environments and not any(path[0] == "environments" for path in ctx.dropped):
        ctx.error("E503", "Kargo promotion needs at least one entry under `environments` (one Stage each)", where,
                  help="add `environments: {staging: {namespace: models-staging}, prod: {namespace: models}}`")
    if spec.deploy.argocd is None and ("deploy", "argocd") not in ctx.dropped:
        ctx.error("E503", "Kargo promotion syncs each environment's Argo CD Application: it needs `deploy.argocd`",
                  where, help="add `deploy: {argocd: {project: default}}`")
    deployments = spec.platform.deployments
    if deployments is None:
        if not {("platform",), ("platform", "deployments")} & ctx.dropped:
            ctx.error("E503", "Kargo promotion needs `platform.deployments` (the repository its Warehouse watches)",
                      where)
    elif not KARGO_GIT_URL_RE.fullmatch(deployments.repoURL):
        ctx.error("E503", f"Kargo cannot clone `{deployments.repoURL}`: its git subscription and steps take"
                  " https:// or ssh:// URLs only", ("platform", "deployments", "repoURL"),
                  help="give the deployments repository's https:// URL")
    elif "${{" in deployments.repoURL:
        ctx.error("E503", "Kargo would read `${{` in the deployments repository's URL as an expression",
                  ("platform", "deployments", "repoURL"))
    for name, model in spec.models.items():
        if model.serving is None:
            continue
        if model.rollout is None:
            ctx.error("E504", f"model `{name}` is served but has no rollout: Kargo would have no SLO analysis to"
                      " verify it with before promoting it further", ("models", name, "serving"), on_key=True,
                      help="add `rollout: {backend: kserve-analysis, canaryTrafficPercent: 10, slo: <an SLO>}`")
        elif model.rollout.backend != "kserve-analysis":
            ctx.error("E504", f"the `{model.rollout.backend}` backend writes no AnalysisTemplate for Kargo to verify"
                      f" model `{name}` with", ("models", name, "rollout", "backend"),
                      help="use `backend: kserve-analysis` with `deploy.promotion: kargo`")
