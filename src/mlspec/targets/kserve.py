"""KServe InferenceServices, one per served model and environment.

Written the way KServe and Argo CD want them: the `model:` form with `modelFormat`, MLflow
models on protocol v2 from a storage folder, quantities as strings, replica bounds, the
deployment mode written out (`Knative` or `Standard`, the names since KServe 0.16), and the
values KServe would default written out so Argo CD sees no drift.

A canary takes the shape of its mode: in Knative mode `predictor.canaryTrafficPercent` (Knative
keeps the previous revision serving the rest); in Standard mode (KServe 0.20, PR #5672) the
stable version stays the predictor and the new one is a named `spec.canary` predictor with its
`trafficPercent`. Promotion moves the canary's model into the predictor under the canary's name
(KServe keeps its Deployment) and removes the canary; rollback removes the canary.
"""

from __future__ import annotations

from mlspec.ir.model import IREnvironment, IRModel, IRProject
from mlspec.ir import layout
from mlspec.targets import k8s
from mlspec.targets.base import Artifact, Target
from mlspec.targets.emit import dump_yaml
from mlspec.ir.layout import k8s_dir

# KServe's own defaults for a predictor container without resources (its configmap's
# `resource` defaults); written out so the live object equals the committed one.
DEFAULT_CPU = "1"
DEFAULT_MEMORY = "2Gi"
# The protocol each format's default runtime speaks; MLflow models are served by MLServer
# over the v2 (Open Inference) protocol only.
PROTOCOL = {"mlflow": "v2", "triton": "v2", "onnx": "v2", "sklearn": "v1", "xgboost": "v1",
            "lightgbm": "v1", "pytorch": "v1", "tensorflow": "v1", "custom": "v2"}


class KServeTarget(Target):
    name = "kserve"
    description = "KServe InferenceService per served model and environment"
    kinds = ("InferenceService",)

    def generate(self, project: IRProject) -> list[Artifact]:
        artifacts = []
        for env in project.environments:
            for model in env.system.models:
                if model.serving is None:
                    continue
                if model.serving.storage_uri is None:
                    if env is project.environments[0]:
                        self.warn(f"model `{model.name}` has no `serving.storageUri` yet, so no InferenceService"
                                  " is generated; `mlspec promote` sets it", project.base.spec_path,
                                  ("models", model.name, "serving"))
                    continue
                isvc = inference_service(env, model)
                refused = admission_errors(isvc)
                if refused:  # never write what KServe's admission webhook would refuse
                    for message in refused:
                        self.unsupported(f"KServe would refuse the InferenceService of `{model.name}` in"
                                         f" {env.name}: {message}", project.base.spec_path,
                                         ("models", model.name, "serving", "mode"))
                    continue
                artifacts.append(self.artifact(
                    f"{k8s_dir(env)}/{inference_service_file(model)}", dump_yaml(isvc), deployable=True,
                    environment=env.name))
        return artifacts


def inference_service_file(model: IRModel) -> str:
    return f"inferenceservice-{model.k8s_name}.yaml"


def prediction_logger(env: IREnvironment, model: IRModel) -> dict | None:
    """KServe's inference logger (0.20 `logger.storage`) for a drift-monitored model: every request and
    response, as KServe's JSON objects in the monitoring bucket (see ir.layout, "the prediction log"),
    written with the credentials of the model's service account; or, when the spec names an HTTP
    sink, sent there as CloudEvents. The drift DAG reads the objects (runtime: kserve_frame)."""
    if model.drift is None:
        return None
    if model.drift.logger_url:
        return {"mode": "all", "url": model.drift.logger_url}
    storage = {"path": layout.PREDICTION_LOG_PATH, "parameters": {"format": layout.PREDICTION_LOG_FORMAT}}
    if model.serving.service_account:
        storage["serviceAccountName"] = model.serving.service_account
    return {"mode": "all", "url": layout.prediction_log_url(env.system, model), "storage": storage}


# The `serving.kserve.io/deploymentMode` values since KServe 0.16 (pkg/constants/constants.go,
# DeploymentModeType): `Knative` and `Standard`; `Serverless` and `RawDeployment` are deprecated
# aliases that ParseDeploymentMode normalizes. KServe admits `spec.canary` only when the annotation
# is exactly `Standard`, not its alias (inference_service_validation.go, validateCanarySpecs).
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
DEPLOYMENT_MODES = {"knative": "Knative", "standard": "Standard"}


def inference_service(env: IREnvironment, model: IRModel) -> dict:
    serving, rollout = model.serving, model.rollout
    standard = serving.mode == "standard"
    annotations = {"mlspec.dev/registered-model": model.registry_name,
                   # Written for every model, so the cluster's default mode (the shipped ConfigMap says
                   # Serverless, KServe's code Standard) does not decide how the model is served.
                   DEPLOYMENT_MODE_ANNOTATION: DEPLOYMENT_MODES[serving.mode]}
    if model.description:  # `kubectl describe` and dashboards show annotations
        annotations["mlspec.dev/description"] = model.description
    if serving.model_version:
        annotations["mlspec.dev/model-version"] = serving.model_version
    if standard and rollout is not None and rollout.stable_model_version:
        # While in canary or rolled back the stable version serves; once promoted it is the previous one.
        key = "previous" if rollout.phase == "promoted" else "stable"
        annotations[f"mlspec.dev/{key}-model-version"] = rollout.stable_model_version
    if not standard:
        return _inference_service(env, model, annotations, _knative_predictor(env, model), None)
    if rollout is None:
        return _inference_service(env, model, annotations, _predictor(env, model, serving.storage_uri), None)
    if rollout.phase == "promoted" or rollout.stable_storage_uri in (None, serving.storage_uri):
        # Promoted: the canary's predictor became the stable one under its own name (KServe keeps its
        # Deployment: "set predictor.name to the canary name and remove the canary entry"). Without a
        # stable version (the first rollout), or when it is the stable version itself, the version
        # serves alone, as in Knative mode.
        predictor = _predictor(env, model, serving.storage_uri, k8s.canary_name(model))
        return _inference_service(env, model, annotations, predictor, None)
    stable = _predictor(env, model, rollout.stable_storage_uri, k8s.stable_name(model))
    if rollout.phase == "rolledBack":  # the canary is removed; the stable predictor serves everything
        return _inference_service(env, model, annotations, stable, None)
    # In canary: the stable predictor keeps serving; KServe splits the traffic with the HTTPRoute's
    # backend weights (httproute_reconciler.go, applyCanaryWeights); 0% is a dark launch. A canary
    # runs fixed replicas: KServe refuses maxReplicas on it, and minReplicas above the stable's.
    canary = _predictor(env, model, serving.storage_uri, k8s.canary_name(model), replicas=False)
    # The CRD requires the canary model's container name (spec.predictor's is exempt): KServe's
    # own, constants.InferenceServiceContainerName, which its defaulter gives the predictor's model.
    canary["model"] = {"name": "kserve-container", **canary["model"]}
    return _inference_service(env, model, annotations, stable,
                              [{"predictor": canary, "trafficPercent": rollout.canary_traffic_percent}])


def _knative_predictor(env: IREnvironment, model: IRModel) -> dict:
    rollout = model.rollout
    predictor = _predictor(env, model, model.serving.storage_uri)
    if rollout is not None and rollout.phase == "canary":
        predictor["canaryTrafficPercent"] = rollout.canary_traffic_percent
    elif rollout is not None and rollout.phase == "rolledBack":
        predictor["canaryTrafficPercent"] = 0  # all traffic back on the previous revision
    return dict(sorted(predictor.items(), key=lambda item: PREDICTOR_ORDER.index(item[0])))


# Key order of a predictor as written (the order the files have always had).
PREDICTOR_ORDER = ("name", "minReplicas", "maxReplicas", "canaryTrafficPercent", "serviceAccountName", "logger",
                   "model")


def _predictor(env: IREnvironment, model: IRModel, storage_uri: str, name: str | None = None,
               replicas: bool = True) -> dict:
    serving = model.serving
    cpu = serving.resources.cpu if serving.resources and serving.resources.cpu else DEFAULT_CPU
    memory = serving.resources.memory if serving.resources and serving.resources.memory else DEFAULT_MEMORY
    quantities = {"cpu": str(cpu), "memory": str(memory)}
    limits = dict(quantities)
    if serving.resources and serving.resources.gpu:
        limits["nvidia.com/gpu"] = str(serving.resources.gpu)
    model_block = {
        # A custom runtime is matched by the format it lists (`serving.modelFormat`).
        "modelFormat": {"name": serving.format if serving.format != "custom" else serving.model_format or model.py_name},
        "protocolVersion": PROTOCOL[serving.format],
        "storageUri": storage_uri,
        "resources": {"limits": limits, "requests": quantities},
    }
    if serving.runtime:
        model_block["runtime"] = serving.runtime
    predictor: dict = {}
    if name is not None:
        predictor["name"] = name
    if replicas:
        predictor.update({"minReplicas": serving.replicas.min, "maxReplicas": serving.replicas.max})
    if serving.service_account:
        predictor["serviceAccountName"] = serving.service_account
    logger = prediction_logger(env, model)
    if logger is not None:
        predictor["logger"] = logger
    predictor["model"] = model_block
    return predictor


def _inference_service(env: IREnvironment, model: IRModel, annotations: dict, predictor: dict,
                       canary: list | None) -> dict:
    spec = {"predictor": predictor}
    if canary is not None:
        spec["canary"] = canary
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": k8s.metadata(model.inference_service, env.namespace, env.system, env, model, annotations),
        "spec": spec,
    }


def admission_errors(isvc: dict) -> list[str]:
    """What KServe 0.20's validating webhook would refuse about the canary of an InferenceService
    (pkg/apis/serving/v1beta1/inference_service_validation.go, validateCanarySpecs), and the
    Knative-only `canaryTrafficPercent` in Standard mode, which KServe would silently ignore."""
    errors = []
    mode = (isvc.get("metadata", {}).get("annotations") or {}).get(DEPLOYMENT_MODE_ANNOTATION)
    spec = isvc.get("spec") or {}
    predictor = spec.get("predictor") or {}
    canaries = spec.get("canary") or []
    if canaries and mode != "Standard":
        errors.append(f"`spec.canary` is only admitted with the annotation {DEPLOYMENT_MODE_ANNOTATION}: Standard"
                      f" (it is {mode!r})")
    if "canaryTrafficPercent" in predictor and mode in ("Standard", "RawDeployment"):
        errors.append("`predictor.canaryTrafficPercent` acts in Knative mode only; Standard mode ignores it")
    names, total = set(), 0
    for index, canary in enumerate(canaries):
        body = canary.get("predictor") or {}
        name = body.get("name")
        if not name:
            errors.append(f"canary[{index}] predictor.name is required")
        elif name in names:
            errors.append(f"canary predictor.name {name!r} is duplicated")
        elif name == predictor.get("name"):
            errors.append(f"canary predictor.name {name!r} conflicts with the stable predictor's name")
        names.add(name)
        percent = canary.get("trafficPercent")
        if not isinstance(percent, int) or not 0 <= percent <= 100:
            errors.append(f"canary {name!r} trafficPercent must be between 0 and 100")
        else:
            total += percent
        if "maxReplicas" in body:
            errors.append(f"canary {name!r} must not set maxReplicas (canary uses fixed replicas)")
        if "minReplicas" in body and body["minReplicas"] > predictor.get("minReplicas", 1):
            errors.append(f"canary {name!r} minReplicas must not exceed the stable predictor's")
    if (predictor.get("model") or {}).get("name"):
        errors.append("the 'name' field is not allowed in the stable predictor's model (validatePredictor)")
    if total > 100:
        errors.append(f"the canaries' trafficPercent values sum to {total}, over 100")
    if canaries and not (predictor.get("model") or {}).get("storageUri"):
        errors.append("a canary requires a stable predictor with a model")
    return errors
