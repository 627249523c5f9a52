"""Airflow 3.3 DAGs: per dataset an ingestion DAG (extract -> validate with Great
Expectations -> version with DVC -> upload the run's partition, updating the dataset's
Asset), per system with feature views a Feast DAG scheduled on its sources' Assets (apply
when changed -> materialize), per model a training DAG that submits its Kubeflow pipeline,
and per drift-monitored model a drift DAG whose Evidently check branches to
`TriggerDagRunOperator` (the training DAG) or a no-action task.

Airflow facts built in: `airflow.sdk.DAG`, operators from providers.standard, `schedule=`
(not `schedule_interval`), a fixed `pendulum` start date with `catchup=False`, lineage
as Airflow lineage `File(url=...)` inlets/outlets on every task, which the OpenLineage
provider turns into datasets (`openlineage.client` itself costs ~0.3 s to import per parse; no
extractor needed). DAG files import only Airflow and pendulum at the top;
pandas, Great Expectations, Evidently, boto3 and kfp are imported when a task runs, by
the shared helper module beside the DAGs (listed in `.airflowignore`).

No spec string is pasted into Python: every value is written with `pprint`/`repr`, and
Python identifiers in the DAG files are fixed, never derived from spec names.
"""

from __future__ import annotations

from mlspec.ir.model import IRDataset, IREnvironment, IRModel, IRProject, IRSqlSource, IRSystem
from mlspec.runtime import emitted_source
from mlspec.targets import airflow_common as common
from mlspec.targets import naming
from mlspec.targets.base import Artifact, Target
from mlspec.targets.templating import pyliteral, render_template

START_DATE = (2024, 1, 1)


def lineage_literal(datasets, indent: int = 8) -> str:
    """Inlets/outlets as a literal list of dataset URLs (see `airflow_common.lineage_url`)."""
    return pyliteral([common.lineage_url(namespace, name) for namespace, name in datasets], indent)


class AirflowTarget(Target):
    name = "airflow"
    description = "Airflow 3 DAGs: ingestion (GX + DVC), training (Kubeflow), drift (Evidently), with lineage"

    def generate(self, project: IRProject) -> list[Artifact]:
        system = project.base
        dags: list[tuple[str, str]] = []
        for dataset in common.ingested_datasets(system):
            dags.append((dataset.ingest_dag_id, render_template("airflow/ingest_dag.py.j2", **ingest_context(system, dataset))))
        if system.feature_views:
            dags.append((naming.feast_dag_id(system), render_template("airflow/feast_dag.py.j2", **feast_context(system))))
        for model in system.models:
            if system.platform.kubeflow is None:
                self.warn(f"model `{model.name}`: `platform.kubeflow` is not set, so its training DAG needs the"
                          f" Airflow Variable `{common.variable_key(system, model.name, 'kfp_host')}`",
                          system.spec_path, ("platform",))
            dags.append((model.train_dag_id, render_template("airflow/train_dag.py.j2", **train_context(system, model))))
            if model.drift_dag_id:
                dags.append((model.drift_dag_id, render_template("airflow/drift_dag.py.j2",
                                                                 **drift_context(system, model, project.environments[-1]))))
        if not dags:
            return []
        artifacts = [self.artifact(f"{naming.DAGS_DIR}/{dag_id}.py", text) for dag_id, text in dags]
        # The task bodies: mlspec.runtime.airflow_tasks, copied as it is written.
        artifacts.append(self.artifact(f"{naming.DAGS_DIR}/{naming.HELPER_MODULE}", emitted_source("airflow_tasks")))
        artifacts.append(self.artifact(f"{naming.DAGS_DIR}/.airflowignore",
                                       render_template("airflow/airflowignore.j2", helper=naming.HELPER_MODULE)))
        return artifacts


# --- what each DAG file is rendered from ---------------------------------------------------


def _dag_args(system: IRSystem, dag_id: str, schedule: str | None, description: str | None,
              kind: str, retries: int = 0) -> dict:
    owner = system.metadata.owner or "mlspec"
    return {
        "dag_id": dag_id,
        "schedule": schedule,
        "description": description,
        "tags": ["mlspec", system.name, kind],
        "default_args": {"owner": owner, "retries": retries},
        "start_date": START_DATE,
    }


def _system_settings(system: IRSystem) -> dict:
    store = system.platform.object_store
    return {
        # The generated folder of this system (holds great_expectations/, dvc/, monitoring/, kfp/);
        # by default found from the DAG file's own path.
        "root": [common.variable_key(system, "root"), None],
        "s3_endpoint": [common.variable_key(system, "s3_endpoint"), store.endpoint if store else None],
        "staging_dir": [common.variable_key(system, "staging_dir"), None],
    }


def _credentials(system: IRSystem) -> dict:
    store = system.platform.object_store
    return {"conn_id": store.credentials_secret if store else None, "region": store.region if store else None}


def ingest_context(system: IRSystem, dataset: IRDataset) -> dict:
    source = dataset.source
    is_sql = isinstance(source, IRSqlSource)
    settings = _system_settings(system)
    if not is_sql:
        settings["source_uri"] = [common.variable_key(system, dataset.name, "source_uri"), source.uri]
    if dataset.storage:
        settings["storage"] = [common.variable_key(system, dataset.name, "storage"), dataset.storage]
    if dataset.dvc_remote:
        settings["dvc_repo"] = [common.variable_key(system, "dvc_repo"), None]
    config = {
        "system": system.name,
        "dataset": dataset.name,
        "dag_id": dataset.ingest_dag_id,
        "source": {"kind": "sql", "connection": source.connection} if is_sql
        else {"kind": "file", "format": source.format},
        "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in dataset.columns],
        "suite": naming.suite_path(dataset),
        "dvc": {"remote": common.dvc_remote_name(dataset.dvc_remote), "url": dataset.dvc_remote,
                "path": common.dvc_data_path(dataset), "config": "dvc/config"} if dataset.dvc_remote else None,
        "credentials": _credentials(system),
        "settings": settings,
    }
    if dataset.storage:
        config["partition"] = naming.partition_layout(dataset)
    source_ds = common.source_lineage(system, dataset)
    staging = common.staging_lineage(system, dataset)
    tasks = [("extract", [source_ds], [staging]), ("validate", [staging], [])]
    if dataset.dvc_remote:
        tasks.append(("version", [staging], [(dataset.dvc_remote.rstrip("/"), common.dvc_data_path(dataset))]))
    if dataset.storage:
        tasks.append(("upload", [staging], [common.split_uri(dataset.storage)]))
    asset = naming.dataset_asset_uri(dataset)
    return {
        "dag": _dag_args(system, dataset.ingest_dag_id, dataset.schedule, dataset.description, "ingest",
                         retries=dataset.retries),
        "config": pyliteral(config),
        "sql": source.sql if is_sql else None,
        # The upload task updates the dataset's Airflow Asset: DAGs that wait for the data
        # (the Feast DAG) are scheduled on it.
        "tasks": [{"task_id": t, "inlets": lineage_literal(i), "outlets": lineage_literal(o),
                   "asset": asset if t == "upload" else None} for t, i, o in tasks],
        "chain": " >> ".join(f"{t}_task" for t, _, _ in tasks),
    }


def feast_context(system: IRSystem) -> dict:
    """The Feast DAG: apply the repository when it changed, then materialize the online
    feature views, whenever one of their sources lands (its ingestion DAG's Asset)."""
    settings = _system_settings(system)
    del settings["staging_dir"]
    settings["feast_repo"] = [common.variable_key(system, "feast_repo"), None]
    assets, unscheduled = [], []
    for view in system.feature_views:
        asset = naming.dataset_asset_uri(view.source) if view.source.source is not None else None
        if asset is None:
            unscheduled.append(view.source.name)
        elif asset not in assets:
            assets.append(asset)
    config = {
        "system": system.name,
        "dag_id": naming.feast_dag_id(system),
        "s3_endpoint_env": naming.FEAST_S3_ENDPOINT_ENV,
        "views": [{"name": v.name, "online": v.online, "ttl_seconds": v.ttl_seconds,
                   "asset": naming.dataset_asset_uri(v.source)} for v in system.feature_views],
        "credentials": _credentials(system),
        "settings": settings,
    }
    sources = list(dict.fromkeys(common.split_uri(v.source.storage) for v in system.feature_views
                                 if v.source.storage))
    views = [(common.lineage_namespace(system), f"feast.{v.name}") for v in system.feature_views]
    online = [(common.lineage_namespace(system), f"feast.{v.name}") for v in system.feature_views if v.online]
    description = (f"Feast repository of {system.name}: apply on change, materialize the online feature views"
                   " after their sources land")
    return {
        # Retried as often as its most-retried source: what makes ingestion worth retrying
        # (a flaky object store) is what Feast reads too.
        "dag": _dag_args(system, naming.feast_dag_id(system), None, description, "feast",
                         retries=max(v.source.retries for v in system.feature_views)),
        "config": pyliteral(config),
        "assets": assets,
        # Sources no ingestion DAG writes never update an Asset: their views are materialized daily.
        "daily": bool(unscheduled),
        "apply_lineage": {"inlets": lineage_literal(sources), "outlets": lineage_literal(views)},
        "materialize_lineage": {"inlets": lineage_literal(sources), "outlets": lineage_literal(online or views)},
    }


def _model_lineage(system: IRSystem, model: IRModel) -> tuple[str, str]:
    tracking = system.platform.mlflow.tracking_uri if system.platform.mlflow else "mlflow"
    return tracking, f"registered-models/{model.registry_name}"


def train_context(system: IRSystem, model: IRModel) -> dict:
    kubeflow = system.platform.kubeflow
    settings = _system_settings(system)
    del settings["s3_endpoint"], settings["staging_dir"]
    settings["kfp_host"] = [common.variable_key(system, model.name, "kfp_host"), kubeflow.host if kubeflow else None]
    settings["pipeline_package"] = [common.variable_key(system, model.name, "pipeline_package"), None]
    config = {
        "system": system.name,
        "model": model.name,
        "dag_id": model.train_dag_id,
        "pipeline_package": naming.pipeline_ir_path(model),
        "experiment": system.name,
        "timeout_seconds": 6 * 3600,
        "settings": settings,
    }
    inputs = [common.split_uri(d.storage) for d in [*model.feature_sources, model.label_dataset]
              if d.storage]
    inputs = list(dict.fromkeys(inputs))
    return {
        "dag": _dag_args(system, model.train_dag_id, model.training.schedule, model.description, "train",
                         retries=model.training.retries),
        "config": pyliteral(config),
        "inlets": lineage_literal(inputs),
        "outlets": lineage_literal([_model_lineage(system, model)]),
    }


def drift_context(system: IRSystem, model: IRModel, env: IREnvironment) -> dict:
    """The drift DAG compares the training data with the prediction log: a dataset the spec names,
    or what the InferenceService's KServe logger writes in the last environment (production)."""
    drift = model.drift
    settings = _system_settings(system)
    settings["reference"] = [common.variable_key(system, model.name, "reference"), model.drift_reference]
    kserve_log = common.prediction_dataset(model, system) is None and model.serving is not None \
        and not drift.logger_url
    predictions = naming.prediction_log_prefix(system, model, env) if kserve_log \
        else common.drift_predictions(model, system)
    settings["predictions"] = [common.variable_key(system, model.name, "predictions"), predictions]
    config = {
        "system": system.name,
        "model": model.name,
        "dag_id": model.drift_dag_id,
        "train_dag_id": model.train_dag_id,
        "check": naming.drift_check_path(model),
        "partition_column": naming.PARTITION_COLUMN,
        "window_seconds": drift.window_seconds,
        "timestamp_column": common.prediction_timestamp_column(model, system),
        "prediction_log": "kserve" if kserve_log else "dataset",
        # A v1 request's instances are lists of values in the model's feature order.
        "features": [f.name for f in model.features],
        "on_drift": drift.on_drift,
        "branches": {"drift": "trigger_retraining" if drift.on_drift == "retrain" else "alert_drift",
                     "no_drift": "no_action"},
        "credentials": _credentials(system),
        "settings": settings,
    }
    inputs = [common.split_uri(settings["reference"][1]), common.split_uri(settings["predictions"][1])]
    result = (common.lineage_namespace(system), f"drift/{model.name}")
    return {
        "dag": _dag_args(system, model.drift_dag_id, drift.schedule, model.description, "drift"),
        "config": pyliteral(config),
        "train_dag_id": model.train_dag_id,
        "on_drift": drift.on_drift,
        "check_inlets": lineage_literal(inputs),
        "result": lineage_literal([result]),
        "trainer": lineage_literal([_model_lineage(system, model)]),
    }
