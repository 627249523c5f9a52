"""Names derived from spec names, computed once here so checks, the IR and every target agree.

Spec names may use `-` or `_`; Kubernetes wants `-` and Python wants `_`. Deriving both
here, and checking for collisions in one place, keeps targets from inventing their own.
"""

from __future__ import annotations

import re

# Knative names a predictor's revisions `<isvc>-predictor-00001`, and a revision name is
# a DNS-1123 label (63 characters), so an InferenceService name may use 47 of them.
MAX_INFERENCE_SERVICE_NAME = 63 - len("-predictor-00001")


# The label that tells a predictor's revisions apart in each KServe deployment mode's request
# series (targets/k8s.py): Knative's queue-proxy `revision_name`, the mesh's `destination_workload`
# (the Deployment) in Standard mode.
REVISION_LABELS = {"knative": "revision_name", "standard": "destination_workload"}


def predictor_name(version: str | None, fallback: str) -> str:
    """A KServe Standard-mode predictor's `name` (KServe names its Deployment and Service
    `{isvc}-{name}-predictor`, constants.PredictorServiceName): `v` and the model version,
    lower-cased, in the CRD's pattern `^[a-z]([-a-z0-9]*[a-z0-9])?$`; `fallback` without a version."""
    if not version:
        return fallback
    return ("v" + re.sub(r"[^a-z0-9-]", "-", version.lower())).rstrip("-")


def predictor_deployment(service: str, name: str | None) -> str:
    return f"{service}-{name}-predictor" if name else f"{service}-predictor"


def k8s_name(*parts: str) -> str:
    return "-".join(p.replace("_", "-") for p in parts if p)


def py_name(*parts: str) -> str:
    return "_".join(p.replace("-", "_") for p in parts if p)


def dag_id(system: str, kind: str, name: str) -> str:
    """`customer-churn`, `ingest`, `customers` -> `customer_churn__ingest_customers`."""
    return f"{py_name(system)}__{kind}_{py_name(name)}"


def feast_dag_id(system: str) -> str:
    """The DAG that applies the Feast repository and materializes its online feature views."""
    return f"{py_name(system)}__feast"


# Bucket for what monitoring needs and no dataset holds: prediction logs and the training-data
# snapshot a drift check compares against (the training pipeline writes it).
MONITORING_BUCKET = "mlspec-monitoring"


def monitoring_uri(system: str, model: str, leaf: str) -> str:
    return f"s3://{MONITORING_BUCKET}/{system}/{model}/{leaf}"


def inference_service_name(system: str, model: str) -> str:
    return k8s_name(system, model)


def pipeline_name(system: str, model_k8s_name: str) -> str:
    """The Kubeflow pipeline of a model (`@dsl.pipeline(name=...)`, a Kubernetes-style name)."""
    return f"{system}-{model_k8s_name}-training"


# How the training pipeline logs a model for its serving format (targets/kfp.py, register_model):
# MLflow's scikit-learn flavor for `mlflow` and `custom` (and a model not served), a pickle for
# KServe's scikit-learn server, a booster file for xgboost and lightgbm. One pipeline serves
# every environment, so an environment may not need another flavor (check/environments.py).
SERVING_FLAVORS = {"sklearn": "sklearn-pickle", "xgboost": "xgboost", "lightgbm": "lightgbm"}


def serving_flavor(serving_format: str | None) -> str:
    """`sklearn`, `sklearn-pickle`, `xgboost` or `lightgbm` for a serving format (None: not served)."""
    return SERVING_FLAVORS.get(serving_format or "mlflow", "sklearn")
