"""Airflow 3.3 DAGs: per dataset an ingestion DAG (extract -> validate with Great
Expectations -> version with DVC -> upload the run's partition, updating the dataset's
Asset), per system with feature views a Feast DAG scheduled on its sources' Assets (apply
when changed -> materialize), per model a training DAG that submits its Kubeflow pipeline,
and per drift-monitored model a drift DAG whose Evidently check branches to
`TriggerDagRunOperator` (the training DAG) or a no-action task.

Airflow facts built in: `airflow.sdk.DAG`, operators from providers.standard, `schedule=`
(not `schedule_interval`), a fixed `pendulum` start date with `catchup=False`, lineage
as inlets/outlets on every task that the OpenLineage provider turns into exactly the datasets
`lineage_names` names (`File`, `Table` and file `Asset` objects: `openlineage.client` itself
costs ~0.3 s to import per parse; no extractor needed). DAG files import only Airflow and
pendulum at the top;
pandas, Great Expectations, Evidently, boto3 and kfp are imported when a task runs, by
the shared helper module beside the DAGs (listed in `.airflowignore`).

No spec string is pasted into Python: every value is written with `pprint`/`repr`, and
Python identifiers in the DAG files are fixed, never derived from spec names.
"""

from __future__ import annotations

from mlspec.ir.model import IRDataset, IREnvironment, IRModel, IRProject, IRSqlSource, IRSystem
from mlspec.runtime import emitted_source
from mlspec.targets import airflow_common as common
from mlspec.targets import lineage_names as lineage
from mlspec.ir import layout
from mlspec.targets.base import Artifact, Target
from mlspec.targets.templating import pyliteral, render_template

START_DATE = (2024, 1, 1)


def task_lineage(tasks, assets: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """task_id -> {"inlets", "outlets"}: Python source of what each task declares; `assets` are
    the Airflow Assets (by name) a task updates, for the DAGs scheduled on them."""
    assets = assets or {}
    return {task_id: {"inlets": lineage.airflow_entities(inputs),
                      "outlets": lineage.airflow_entities(
                          outputs, extra=(f"Asset(name={ascii(assets[task_id])})",) if task_id in assets else ())}
            for task_id, inputs, outputs in tasks}


# Presets a CronTriggerTimetable does not know by name.
_CRON_PRESET_ALIASES = {"@annually": "@yearly"}


def schedule_source(system: IRSystem, schedule: str | None, assets: list[str]) -> str | None:
    """Python source of a DAG's `schedule`: the spec's schedule; with `assets`, a run whenever
    every one of them was updated since the last run, as well as on the cron schedule if there is
    one (Airflow 3's AssetOrTimeSchedule). None when the combination cannot be expressed."""
    if not assets:
        return ascii(schedule)
    names = "[" + ", ".join(f"Asset(name={ascii(a)})" for a in assets) + "]"
    if len(names) > 80:
        names = "[\n" + "".join(f"        Asset(name={ascii(a)}),\n" for a in assets) + "    ]"
    if schedule is None:
        return names
    if schedule in ("@once", "@continuous"):
        return None
    cron = _CRON_PRESET_ALIASES.get(schedule, schedule)
    return (f"AssetOrTimeSchedule(\n        timetable=CronTriggerTimetable({ascii(cron)}, timezone=\"UTC\"),\n"
            f"        assets={names},\n    )")


class AirflowTarget(Target):
    name = "airflow"
    description = "Airflow 3 DAGs: ingestion (GX + DVC), training (Kubeflow), drift (Evidently), with lineage"

    def generate(self, project: IRProject) -> list[Artifact]:
        system = project.base
        dags: list[tuple[str, str]] = []
        for dataset in common.ingested_datasets(system):
            dags.append((dataset.ingest_dag_id, render_template("airflow/ingest_dag.py.j2", **ingest_context(system, dataset))))
        if system.feature_views:
            dags.append((layout.feast_dag_id(system), render_template("airflow/feast_dag.py.j2", **feast_context(system))))
        for model in system.models:
            if system.platform.kubeflow is None:
                self.warn(f"model `{model.name}`: `platform.kubeflow` is not set, so its training DAG needs the"
                          f" Airflow Variable `{common.variable_key(system, model.name, 'kfp_host')}`",
                          system.spec_path, ("platform",))
            context = train_context(system, model)  # a schedule it can express: check/training_data.py (E417)
            dags.append((model.train_dag_id, render_template("airflow/train_dag.py.j2", **context)))
            if model.drift_dag_id:
                monitored = layout.monitored_environment(project)
                dags.append((model.drift_dag_id, render_template("airflow/drift_dag.py.j2",
                                                                 **drift_context(system, model, monitored))))
        if not dags:
            return []
        artifacts = [self.artifact(f"{layout.DAGS_DIR}/{dag_id}.py", text) for dag_id, text in dags]
        # The task bodies: mlspec.runtime.airflow_tasks, copied as it is written.
        artifacts.append(self.artifact(f"{layout.DAGS_DIR}/{layout.HELPER_MODULE}", emitted_source("airflow_tasks")))
        artifacts.append(self.artifact(f"{layout.DAGS_DIR}/.airflowignore",
                                       render_template("airflow/airflowignore.j2", helper=layout.HELPER_MODULE)))
        return artifacts


# --- what each DAG file is rendered from ---------------------------------------------------


def _dag_args(system: IRSystem, dag_id: str, schedule: str | None, description: str | None,
              kind: str, retries: int = 0, tasks=(), sdk_names=()) -> dict:
    """What `_dag.py.j2` and the imports of `_common.py.j2` need; `tasks` are the (task_id,
    inputs, outputs) lineage of the DAG's tasks, `sdk_names` what else it uses of airflow.sdk."""
    owner = system.metadata.owner or "mlspec"
    kinds = {lineage.airflow_entity_kind(d) for _, inputs, outputs in tasks for d in (*inputs, *outputs)}
    return {
        "lineage_entities": sorted(kinds & {"File", "Table"}),
        "ol_dataset": "Dataset" in kinds,
        "sdk_names": ["DAG", *sorted(set(sdk_names) | (kinds & {"Asset"}))],
        "dag_id": dag_id,
        "schedule_source": ascii(schedule),
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
        # gs:// and abfs:// endpoints, only for a spec that has such a store.
        **({"gcs_endpoint": [common.variable_key(system, "gcs_endpoint"), system.platform.gcs.endpoint]}
           if system.platform.gcs else {}),
        **({"azure_endpoint": [common.variable_key(system, "azure_endpoint"), system.platform.azure.endpoint]}
           if system.platform.azure else {}),
    }


def _credentials(system: IRSystem) -> dict:
    """Connection ids (never keys) the tasks read each store's credentials from."""
    store, gcs, azure = system.platform.object_store, system.platform.gcs, system.platform.azure
    return {"conn_id": store.credentials_secret if store else None, "region": store.region if store else None,
            **({"gcs_conn_id": gcs.credentials_secret} if gcs else {}),
            **({"azure_conn_id": azure.credentials_secret, "azure_account": azure.account} if azure else {})}


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
        else {"kind": "file", "format": source.format, **({"options": source.options} if source.options else {})},
        "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in dataset.columns],
        "suite": layout.suite_path(dataset),
        "dvc": {"remote": common.dvc_remote_name(dataset.dvc_remote), "url": common.dvc_url(dataset.dvc_remote),
                "path": common.dvc_data_path(dataset), "config": "dvc/config"} if dataset.dvc_remote else None,
        "credentials": _credentials(system),
        "settings": settings,
    }
    if dataset.storage:
        config["partition"] = layout.partition_layout(dataset)
    tasks = lineage.ingest_tasks(dataset)
    # The task that lands the dataset where training reads it updates its asset.
    landing = {"upload": layout.dataset_asset(system, dataset)} if dataset.storage else {}
    declared = task_lineage(tasks, landing)
    return {
        "dag": _dag_args(system, dataset.ingest_dag_id, dataset.schedule, dataset.description, "ingest",
                         tasks=tasks, sdk_names=("Asset",) if landing else (), retries=dataset.retries),
        "config": pyliteral(config),
        "sql": source.sql if is_sql else None,
        "tasks": [{"task_id": t, **declared[t]} for t, _, _ in tasks],
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
        landed = view.source.source is not None and view.source.storage
        asset = layout.dataset_asset(system, view.source) if landed else None
        if asset is None:
            unscheduled.append(view.source.name)
        elif asset not in assets:
            assets.append(asset)
    config = {
        "system": system.name,
        "dag_id": layout.feast_dag_id(system),
        "s3_endpoint_env": layout.FEAST_S3_ENDPOINT_ENV,
        "views": [{"name": v.name, "online": v.online, "ttl_seconds": v.ttl_seconds,
                   "asset": layout.dataset_asset(system, v.source)} for v in system.feature_views],
        "credentials": _credentials(system),
        "settings": settings,
    }
    tasks = lineage.feast_tasks(system)
    declared = task_lineage(tasks)
    description = (f"Feast repository of {system.name}: apply on change, materialize the online feature views"
                   " after their sources land")
    # Retried as often as its most-retried source: what makes ingestion worth retrying
    # (a flaky object store) is what Feast reads too.
    dag = _dag_args(system, layout.feast_dag_id(system), None, description, "feast",
                    retries=max(v.source.retries for v in system.feature_views), tasks=tasks,
                    sdk_names=("Asset", "AssetAny") if assets else ())
    # Sources no ingestion DAG writes never update an Asset: their views are materialized daily.
    daily = '"@daily"' if unscheduled else None
    dag["schedule_source"] = (("AssetOrTimeSchedule(timetable=CronTriggerTimetable(\"@daily\", timezone=\"UTC\"),"
                               " assets=SOURCES)") if daily and assets else daily or "SOURCES")
    return {
        "dag": dag,
        "config": pyliteral(config),
        "assets": assets,
        # Sources no ingestion DAG writes never update an Asset: their views are materialized daily.
        "daily": bool(unscheduled),
        "tasks": declared,
    }


def train_context(system: IRSystem, model: IRModel) -> dict:
    kubeflow = system.platform.kubeflow
    settings = _system_settings(system)
    del settings["s3_endpoint"], settings["staging_dir"]
    settings["kfp_host"] = [common.variable_key(system, model.name, "kfp_host"), kubeflow.host if kubeflow else None]
    settings["pipeline_package"] = [common.variable_key(system, model.name, "pipeline_package"), None]
    # "true" runs the pipeline source with kfp's local runner in the task's own environment instead
    # of submitting it (no Kubeflow Pipelines server: tests, a laptop); off unless set.
    settings["kfp_local"] = [common.variable_key(system, model.name, "kfp_local"), None]
    settings["kfp_local_root"] = [common.variable_key(system, model.name, "kfp_local_root"), None]
    # What the run is given: the pipeline's own defaults, each overridable per deployment.
    arguments = common.training_arguments(system, model)
    for name, default in arguments.items():
        settings[name] = [common.variable_key(system, model.name, name), default or None]
    config = {
        "system": system.name,
        "model": model.name,
        "dag_id": model.train_dag_id,
        "pipeline_package": layout.pipeline_ir_path(model),
        "pipeline_source": layout.pipeline_source_path(model),
        "pipeline_function": layout.pipeline_function_name(model),
        "experiment": system.name,
        "timeout_seconds": 6 * 3600,
        "arguments": list(arguments),
        "settings": settings,
    }
    tasks = lineage.train_tasks(system, model)
    declared = task_lineage(tasks)["submit_pipeline"]
    # What starts it is the spec's (`training.triggers`): the cron, the landing of its data, the
    # drift DAG (which triggers it by id, whatever its schedule), or by hand.
    triggers = model.training.triggers
    assets = training_assets(system, model) if "data" in triggers else []
    schedule = model.training.schedule if "schedule" in triggers else None
    # Airflow retries only a submission that failed; the steps of a run retry inside it.
    dag = _dag_args(system, model.train_dag_id, schedule, model.description, "train",
                    retries=model.training.submit_retries, tasks=tasks,
                    sdk_names=(("Asset",) if assets else ())
                    + (("AssetOrTimeSchedule", "CronTriggerTimetable") if assets and schedule else ()))
    dag["schedule_source"] = schedule_source(system, schedule, assets)
    return {
        "dag": dag,
        "config": pyliteral(config),
        "inlets": declared["inlets"],
        "outlets": declared["outlets"],
        "starts": _starts(bool(assets), schedule is not None, "drift" in triggers),
    }


def _starts(on_data: bool, on_schedule: bool, on_drift: bool) -> str:
    """The training DAG's docstring sentence on what starts it (`training.triggers`)."""
    reasons = ((["when every dataset it reads has been landed again by its ingestion DAG (Airflow assets)"]
                if on_data else [])
               + (["on the model's training schedule"] if on_schedule else [])
               + (["when the drift DAG finds drift and triggers it"] if on_drift else []))
    if not reasons:
        return "Runs only when triggered by hand (`training.triggers`)."
    return "Runs (`training.triggers`), besides by hand:\n" + "\n".join(f"- {reason}" for reason in reasons)


def training_assets(system: IRSystem, model: IRModel) -> list[str]:
    """The assets of the datasets a model's training reads (its label dataset and the sources of
    its features) that an ingestion DAG of this system lands."""
    read = [model.label_dataset, *model.feature_sources]
    landed = [d for d in read if d.source is not None and d.storage]
    return list(dict.fromkeys(layout.dataset_asset(system, d) for d in landed))


def drift_context(system: IRSystem, model: IRModel, env: IREnvironment | None) -> dict:
    """The drift DAG compares the training data with the prediction log: a dataset the spec names,
    or what the InferenceService's KServe logger writes in the last environment (production)."""
    drift = model.drift
    settings = _system_settings(system)
    settings["reference"] = [common.variable_key(system, model.name, "reference"), model.drift_reference]
    predictions, kserve_log = layout.drift_predictions(system, model, env)
    settings["predictions"] = [common.variable_key(system, model.name, "predictions"), predictions]
    config = {
        "system": system.name,
        "model": model.name,
        "dag_id": model.drift_dag_id,
        "train_dag_id": model.train_dag_id,
        "check": layout.drift_check_path(model),
        "partition_column": layout.PARTITION_COLUMN,
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
    return {
        "dag": _dag_args(system, model.drift_dag_id, drift.schedule, model.description, "drift",
                         tasks=lineage.drift_tasks(system, model, env)),
        "config": pyliteral(config),
        "train_dag_id": model.train_dag_id,
        "on_drift": drift.on_drift,
        "lineage": task_lineage(lineage.drift_tasks(system, model, env)),
        # Where the alert goes: Airflow's SmtpNotifier, called when alert_drift fails on drift.
        "email": {"to": list(drift.alert_email), "smtp_conn_id": drift.alert_smtp_connection,
                  "subject": f"mlspec: drift in the inputs of model {model.name} of {system.name}",
                  "html_content": (f"The drift DAG {model.drift_dag_id} found drift in the prediction log of model"
                                   f" {model.name} above its threshold ({drift.max_drift_share:g} of the columns)."
                                   " See the alert_drift task's log for the drifted columns.")}
        if drift.alert_email else None,
    }
