"""Names and paths that several targets and commands agree on.

A DAG submits the pipeline file the kfp target writes, the pipeline asks Feast for the
feature service the feast target defines, `dvc.yaml` validates with the suite the Great
Expectations target writes, `mlspec publish` copies the folder the Kubernetes targets write
to. Each of those names is decided here, once, so no target reads another target's module
to find it.
"""

from __future__ import annotations

from mlspec.ir import names
from mlspec.ir.model import IRDataset, IREnvironment, IRModel, IRProject, IRSystem

# --- Airflow --------------------------------------------------------------------------------

DAGS_DIR = "airflow/dags"
HELPER_MODULE = "mlspec_runtime.py"  # beside the DAG files; listed in .airflowignore


def suite_path(dataset: IRDataset) -> str:
    """The dataset's Great Expectations suite (run by the ingestion DAG and by `dvc repro`)."""
    return f"great_expectations/{dataset.name}.json"


# The Feast definitions read this environment variable for the object store's endpoint
# (their file sources' `s3_endpoint_override`), so the Feast DAG can point them where the
# deployment's `s3_endpoint` setting says; unset, they use the spec's endpoint.
FEAST_S3_ENDPOINT_ENV = "MLSPEC_FEAST_S3_ENDPOINT"


def feast_dag_id(system: IRSystem) -> str:
    """The DAG that applies the Feast repository and materializes its online feature views."""
    return f"{system.py_name}__feast"


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


def dataset_asset_uri(dataset: IRDataset) -> str | None:
    """The Airflow Asset the ingestion DAG's upload task updates: the dataset's storage root
    (an absolute path as a file:// URI). DAGs that wait for the dataset schedule on it."""
    if not dataset.storage:
        return None
    return "file://" + dataset.storage if dataset.storage.startswith("/") else dataset.storage


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
