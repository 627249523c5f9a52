"""Names and paths that several targets and commands agree on.

A DAG submits the pipeline file the kfp target writes, the pipeline asks Feast for the
feature service the feast target defines, `dvc.yaml` validates with the suite the Great
Expectations target writes, `mlspec publish` copies the folder the Kubernetes targets write
to. Each of those names is decided here, once, so no target reads another target's module
to find it.
"""

from __future__ import annotations

from mlspec.ir.model import IRDataset, IREnvironment, IRModel, IRProject

# --- Airflow --------------------------------------------------------------------------------

DAGS_DIR = "airflow/dags"
HELPER_MODULE = "mlspec_runtime.py"  # beside the DAG files; listed in .airflowignore


def suite_path(dataset: IRDataset) -> str:
    """The dataset's Great Expectations suite (run by the ingestion DAG and by `dvc repro`)."""
    return f"great_expectations/{dataset.name}.json"


def drift_check_path(model: IRModel) -> str:
    """The Evidently check the drift DAG runs."""
    return f"monitoring/{model.py_name}_drift.py"


# --- Feast and Kubeflow ---------------------------------------------------------------------


def feature_service_name(model: IRModel) -> str:
    """The Feast feature service of a model: what its training pipeline asks Feast for."""
    return model.py_name


def pipeline_source_path(model: IRModel) -> str:
    return f"kfp/{model.py_name}_training.py"


def pipeline_ir_path(model: IRModel) -> str:
    """The compiled pipeline the training DAG submits."""
    return f"kfp/{model.py_name}_training.yaml"


# --- documents ------------------------------------------------------------------------------


def card_path(model: IRModel, extension: str) -> str:
    return f"docs/{model.name}.model-card.{extension}"


# --- Kubernetes and GitOps ------------------------------------------------------------------

KUSTOMIZATION_FILE = "kustomization.yaml"


def k8s_dir(env: IREnvironment) -> str:
    """The folder of an environment's deployable objects; its kustomization lists them all."""
    return f"k8s/{env.name}"


def deployment_path(project: IRProject, env: IREnvironment) -> str:
    """The environment's folder in the deployments repository: where `mlspec publish` copies
    `k8s_dir(env)` and what the environment's Argo CD Application watches."""
    deployments = env.system.platform.deployments
    root = deployments.path if deployments else "deployments"
    return "/".join(p for p in (root, project.base.name, env.name) if p)


def analysis_run_name(model: IRModel) -> str:
    """The Argo Rollouts AnalysisRun of the version in canary (the rollout target writes it,
    `mlspec rollout decide` reads its result): one name per model version, so the result of
    an earlier version's run is never taken for this one's."""
    version = model.serving.model_version or "latest"
    return f"{model.inference_service}-v{version}".lower()[:63].rstrip("-.")


def iter8_experiment_name(model: IRModel) -> str:
    """The Iter8 Experiment of the canary (written by the rollout target, read by `rollout decide`)."""
    return f"{model.inference_service}-canary"
