"""Where generated files land, and the names and paths that the targets and the commands agree on.

A DAG submits the pipeline file the kfp target writes, the pipeline asks Feast for the
feature service the feast target defines, `dvc.yaml` validates with the suite the Great
Expectations target writes, `mlspec publish` copies the folder the Kubernetes targets write
to, `mlspec rollout decide` reads the AnalysisRun the rollout target names, `mlspec run
--local` finds the DAGs, suites and pipelines where the targets put them. Each of those names
is decided here, once, so no target reads another target's module to find it.

Why in ir/: the targets that write these files and the commands that read them (gitops/,
local/) are above the targets in the stage order (ARCHITECTURE.md), so the contract lives below
all of them; every function here takes IR objects and nothing but the IR, so the IR is its
floor (the shared base under it knows no IR).
"""

from __future__ import annotations

from mlspec import names
from mlspec.ir.model import IRDataset, IREnvironment, IRModel, IRProject, IRSystem

# --- Airflow --------------------------------------------------------------------------------

DAGS_DIR = "airflow/dags"
HELPER_MODULE = "mlspec_runtime.py"  # beside the DAG files; listed in .airflowignore


def dataset_asset(system: IRSystem, dataset: IRDataset) -> str:
    """The Airflow Asset the ingestion DAG updates when it lands `dataset`, and the training DAGs
    that read the dataset are scheduled on. Named, not a storage URI: an `s3://` asset URI makes
    every DAG parse load Airflow's providers (~90 ms) to normalize it."""
    return f"{system.name}.{dataset.name}"


def suite_path(dataset: IRDataset) -> str:
    """The dataset's Great Expectations suite (run by the ingestion DAG and by `dvc repro`)."""
    return f"great_expectations/{dataset.name}.json"


# The Feast definitions read this environment variable for the object store's endpoint
# (their file sources' `s3_endpoint_override`), so the Feast DAG can point them where the
# deployment's `s3_endpoint` setting says; unset, they use the spec's endpoint.
FEAST_S3_ENDPOINT_ENV = "MLSPEC_FEAST_S3_ENDPOINT"


def feast_dag_id(system: IRSystem) -> str:
    """The DAG that applies the Feast repository and materializes its online feature views."""
    return names.feast_dag_id(system.name)


# --- the prediction log ---------------------------------------------------------------------
#
# A drift-monitored served model's InferenceService logs every request and response with KServe's
# logger to blob storage (`spec.predictor.logger`: `url` the bucket and prefix, `storage.path` the
# leaf folder). KServe's agent puts the namespace, the InferenceService and the component between
# the two (kserve/kserve pkg/logger/store.go, getObjectPrefix); the drift DAG reads that folder.
PREDICTION_LOG_PATH = "predictions"
PREDICTION_LOG_FORMAT = "json"  # KServe's default marshaller, written out: the drift DAG reads only it
PREDICTOR_COMPONENT = "predictor"


def prediction_log_url(system: IRSystem, model: IRModel) -> str:
    """The logger's `url`: the monitoring bucket, a folder per system and model."""
    return names.monitoring_uri(system.name, model.name, "").rstrip("/")


def prediction_log_prefix(system: IRSystem, model: IRModel, env: IREnvironment) -> str:
    """The folder KServe's logger writes a model's requests and responses to in one environment."""
    return (f"{prediction_log_url(system, model)}/{env.namespace}/{model.inference_service}/"
            f"{PREDICTOR_COMPONENT}/{PREDICTION_LOG_PATH}/")


def monitored_environment(project: IRProject) -> IREnvironment | None:
    """The environment whose prediction log the drift DAGs read: the last one (production)."""
    return project.environments[-1] if project.environments else None


def prediction_dataset(model: IRModel, system: IRSystem) -> IRDataset | None:
    """The dataset `monitoring.drift.predictions` names, if any."""
    if model.drift and model.drift.predictions:
        return system.dataset(model.drift.predictions)
    return None


def drift_predictions(system: IRSystem, model: IRModel, env: IREnvironment | None) -> tuple[str, bool]:
    """Where the drift DAG reads a model's predictions, and whether that is KServe's inference
    log: the dataset `monitoring.drift.predictions` names, else, for a served model logging to
    blob storage, the folder its logger writes in `env` (the last environment: production; a
    spec without environments deploys nothing, so nothing logs)."""
    dataset = prediction_dataset(model, system)
    kserve_log = dataset is None and model.serving is not None and not model.drift.logger_url and env is not None
    if kserve_log:
        return prediction_log_prefix(system, model, env), True
    if dataset is not None and dataset.storage:
        return dataset.storage, False
    return names.monitoring_uri(system.name, model.name, "predictions/"), False


def drift_check_path(model: IRModel) -> str:
    """The Evidently check the drift DAG runs."""
    return f"monitoring/{model.py_name}_drift.py"


# --- dataset partitions and assets ------------------------------------------------------------
#
# Every reader of a dataset's `storage` and its one writer (the ingestion DAG's upload task) agree
# on this layout, decided here once. Each ingestion run writes one Hive-style partition under the
# storage root, named by the run's logical date (UTC):
#
#     <storage>/ds=YYYY-MM-DD/part-0.parquet         a schedule that runs at most once a day
#     <storage>/ds=YYYY-MM-DD/part-HHMMSS.parquet    one that runs more often: a file per run
#
# Re-running a date replaces that partition only (for a more-than-daily schedule, that run's file
# only). Readers read the root as a partitioned Parquet dataset: pandas/pyarrow
# (`pd.read_parquet(root)`) and dask (Feast's file offline store) discover the partitions and add
# `ds` as a string column; a table extracted whole on every run repeats its rows in every
# partition, so a reader that wants rows, not snapshots, drops rows that are equal in every
# column but `ds`. A root that is a single Parquet object (written before partitioning) is read as
# that one file.

PARTITION_COLUMN = "ds"
PARTITION_DATE_FORMAT = "%Y-%m-%d"  # strftime of the logical date, UTC
DAILY_PART_FILE = "part-0.parquet"
RUN_PART_FILE = "part-{time}.parquet"  # time: the logical date's %H%M%S, UTC

_MORE_THAN_DAILY_PRESETS = ("@hourly", "@continuous")


def runs_more_than_daily(schedule: str | None) -> bool:
    """Whether a schedule (cron or preset) may run twice on one date, so runs need a file each."""
    if schedule is None:
        return False
    if schedule.startswith("@"):
        return schedule in _MORE_THAN_DAILY_PRESETS
    minute, hour = schedule.split()[:2]
    return not (minute.isdigit() and hour.isdigit())


def partition_layout(dataset: IRDataset) -> dict:
    """How the upload task names a run's partition (plain data, for the DAG's CONFIG)."""
    per_run = runs_more_than_daily(dataset.schedule)
    return {"column": PARTITION_COLUMN, "date_format": PARTITION_DATE_FORMAT,
            "file": RUN_PART_FILE if per_run else DAILY_PART_FILE, "per_run": per_run}


# --- Feast and Kubeflow ---------------------------------------------------------------------


def feature_service_name(model: IRModel) -> str:
    """The Feast feature service of a model: what its training pipeline asks Feast for."""
    return model.py_name


def pipeline_function_name(model: IRModel) -> str:
    """The `@dsl.pipeline` function in the pipeline source (what a local run calls)."""
    return f"{model.py_name}_training_pipeline"


def pipeline_source_path(model: IRModel) -> str:
    return f"kfp/{model.py_name}_training.py"


def pipeline_ir_path(model: IRModel) -> str:
    """The compiled pipeline the training DAG submits."""
    return f"kfp/{model.py_name}_training.yaml"


def model_flavor(model: IRModel) -> str:
    """How the pipeline logs the model (see register_model): `sklearn` (MLflow's scikit-learn
    flavor: `format: mlflow`, `custom`, or not served), `sklearn-pickle` (`format: sklearn`),
    `xgboost` or `lightgbm`; decided once, in mlspec.names (the check of environments uses it)."""
    from mlspec.names import serving_flavor

    return serving_flavor(model.serving.format if model.serving else None)


def mlflow_metric_name(metric: str) -> str:
    """The name a gate metric is logged under in MLflow, whose names take no `@` (`ndcg@10` ->
    `ndcg_at_10`); the training pipeline's `register_model` logs them so."""
    return metric.replace("@", "_at_")


def mlflow_flavor_module(model: IRModel) -> str:
    """`mlflow.<this>.load_model` loads the registered model with its own API (predict_proba...)."""
    return {"sklearn-pickle": "sklearn"}.get(model_flavor(model), model_flavor(model))


# --- documents ------------------------------------------------------------------------------


def card_path(model: IRModel, extension: str) -> str:
    return f"docs/{model.name}.model-card.{extension}"


def hf_card_path(model: IRModel) -> str:
    """The model's Hugging Face model card (README.md format, YAML metadata first)."""
    return f"docs/{model.name}.hf-card.md"


# --- Kubernetes and GitOps ------------------------------------------------------------------

KUSTOMIZATION_FILE = "kustomization.yaml"


def k8s_dir(env: IREnvironment) -> str:
    """The folder of an environment's deployable objects; its kustomization lists them all."""
    return f"k8s/{env.name}"


def deployment_root(project: IRProject, env: IREnvironment | None = None) -> str:
    """The system's folder in the deployments repository (`<deployments.path>/<system>`, with
    `env`'s platform settings when given): what `mlspec publish` owns there."""
    deployments = (env.system if env is not None else project.base).platform.deployments
    root = deployments.path if deployments else "deployments"
    return "/".join(p for p in (root, project.base.name) if p)


def deployment_path(project: IRProject, env: IREnvironment) -> str:
    """The environment's folder in the deployments repository: where `mlspec publish` copies
    `k8s_dir(env)` and what the environment's Argo CD Application watches."""
    return f"{deployment_root(project, env)}/{env.name}"


def analysis_run_name(model: IRModel) -> str:
    """The Argo Rollouts AnalysisRun of the version in canary (the rollout target writes it,
    `mlspec rollout decide` reads its result): one name per model version, so the result of
    an earlier version's run is never taken for this one's."""
    version = model.serving.model_version or "latest"
    return f"{model.inference_service}-v{version}".lower()[:63].rstrip("-.")


def iter8_experiment_name(model: IRModel) -> str:
    """The Iter8 Experiment of the canary (written by the rollout target, read by `rollout decide`)."""
    return f"{model.inference_service}-canary"


KARGO_AUTHORIZED_STAGE = "kargo.akuity.io/authorized-stage"


def uses_kargo(project: IRProject) -> bool:
    """Whether the system is promoted with Kargo (`deploy.promotion: kargo`, the same in every
    environment: E605); never for the environment made up when the spec has none (E503)."""
    return bool(project.environments) and not project.environments[0].implicit and all(
        env.system.deploy is not None and env.system.deploy.promotion == "kargo" for env in project.environments)


def kargo_authorized_stage(project: IRProject, env: IREnvironment) -> str:
    """The `kargo.akuity.io/authorized-stage` value that lets the environment's Stage sync its
    Argo CD Application (`<project>:<stage>`)."""
    return f"{kargo_project(project)}:{env.name}"


def kargo_verification_template(env: IREnvironment, model: IRModel) -> str:
    """The model's SLO AnalysisTemplate of an environment, in the Kargo Project's namespace (the
    rollout target writes it, the environment's Stage names it); a DNS label, like every name
    mlspec writes (the InferenceService's name leaves room: E209)."""
    return f"{model.inference_service}-slo-{env.name}"[:63].rstrip("-")


def kargo_project(project: IRProject) -> str:
    """The Kargo Project (and its namespace, and its Warehouse) of a system promoted with Kargo."""
    return project.base.name


def kargo_stage_branch(project: IRProject, env: IREnvironment) -> str:
    """The branch of the deployments repository where the environment's Kargo Stage puts the
    folder it promoted, and which the environment's Argo CD Application watches (Kargo's
    `stage/<stage>` convention, with the system's name since systems share the repository)."""
    return f"stage/{project.base.name}/{env.name}"
