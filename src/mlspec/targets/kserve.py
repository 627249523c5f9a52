"""KServe InferenceServices, one per served model and environment.

Written the way KServe and Argo CD want them: the `model:` form with `modelFormat`, MLflow
models on protocol v2 from a storage folder, quantities as strings, replica bounds, the
Knative (Serverless) deployment mode wherever a canary is used, and the values KServe
would default written out so Argo CD sees no drift.
"""

from __future__ import annotations

from mlspec.ir.model import IREnvironment, IRModel, IRProject
from mlspec.targets import k8s, naming
from mlspec.targets.base import Artifact, Target
from mlspec.targets.emit import dump_yaml
from mlspec.targets.naming import k8s_dir

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
                artifacts.append(self.artifact(
                    f"{k8s_dir(env)}/{inference_service_file(model)}",
                    dump_yaml(inference_service(env, model)), deployable=True, environment=env.name))
        return artifacts


def inference_service_file(model: IRModel) -> str:
    return f"inferenceservice-{model.k8s_name}.yaml"


def prediction_logger(env: IREnvironment, model: IRModel) -> dict | None:
    """KServe's inference logger (0.20 `logger.storage`) for a drift-monitored model: every request and
    response, as KServe's JSON objects in the monitoring bucket (see naming, "the prediction log"),
    written with the credentials of the model's service account; or, when the spec names an HTTP
    sink, sent there as CloudEvents. The drift DAG reads the objects (runtime: kserve_frame)."""
    if model.drift is None:
        return None
    if model.drift.logger_url:
        return {"mode": "all", "url": model.drift.logger_url}
    storage = {"path": naming.PREDICTION_LOG_PATH, "parameters": {"format": naming.PREDICTION_LOG_FORMAT}}
    if model.serving.service_account:
        storage["serviceAccountName"] = model.serving.service_account
    return {"mode": "all", "url": naming.prediction_log_url(env.system, model), "storage": storage}


def inference_service(env: IREnvironment, model: IRModel) -> dict:
    serving, rollout = model.serving, model.rollout
    annotations = {"mlspec.dev/registered-model": model.registry_name}
    if model.description:  # `kubectl describe` and dashboards show annotations
        annotations["mlspec.dev/description"] = model.description
    if serving.model_version:
        annotations["mlspec.dev/model-version"] = serving.model_version
    if rollout is not None:
        # canaryTrafficPercent only acts in Knative mode; RawDeployment ignores it silently.
        annotations["serving.kserve.io/deploymentMode"] = "Serverless"
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
        "storageUri": serving.storage_uri,
        "resources": {"limits": limits, "requests": quantities},
    }
    if serving.runtime:
        model_block["runtime"] = serving.runtime
    predictor = {"minReplicas": serving.replicas.min, "maxReplicas": serving.replicas.max}
    if rollout is not None and rollout.phase == "canary":
        predictor["canaryTrafficPercent"] = rollout.canary_traffic_percent
    elif rollout is not None and rollout.phase == "rolledBack":
        predictor["canaryTrafficPercent"] = 0  # all traffic back on the previous revision
    if serving.service_account:
        predictor["serviceAccountName"] = serving.service_account
    logger = prediction_logger(env, model)
    if logger is not None:
        predictor["logger"] = logger
    predictor["model"] = model_block
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": k8s.metadata(model.inference_service, env.namespace, env.system, env, model, annotations),
        "spec": {"predictor": predictor},
    }
