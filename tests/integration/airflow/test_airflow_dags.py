"""The committed DAGs under generated/ load in Airflow 3's DagBag from the dags folder alone,
with the DAG ids, task ids, dependencies, schedules, trigger targets and lineage the specs
ask for, and without importing the heavy libraries at parse time."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, SPECS
from support.mlspec_data import project_of

GENERATED = REPO / "generated"
SPEC_FILES = sorted(SPECS.glob("*.yaml"))
HEAVY = ("pandas", "great_expectations", "evidently", "boto3", "kfp", "dvc", "sklearn", "pyarrow", "openlineage")

# Runs in a fresh interpreter with its own AIRFLOW_HOME; prints what the DagBag saw as JSON.
LOAD_DAGS = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.standard.operators import empty, python, trigger_dagrun  # what DAG files import
import airflow.sdk, pendulum
heavy = sys.argv[1].split(",")
_converted = {}


def as_datasets(entities):
    # What Airflow's OpenLineage provider makes of the declared inlets/outlets when the task runs
    # (an asset that names no data store, declared for scheduling, is no OpenLineage dataset).
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    converted = [ExtractorManager.convert_to_ol_dataset(entity) for entity in entities]
    return [[d.namespace, d.name, type(d).__module__ + "." + type(d).__name__] for d in converted if d is not None]

def schedule_of(dag):
    # A cron or preset as written; for data-aware schedules the assets and the cron, if any.
    if dag.schedule is None or isinstance(dag.schedule, str):
        return dag.schedule
    def names(condition):
        return [n for o in condition.objects for n in names(o)] if hasattr(condition, "objects") else [condition.name]

    condition = getattr(dag.timetable, "asset_condition", None)
    return {"assets": sorted(names(condition)) if condition is not None else None,
            "cron": getattr(getattr(dag.timetable, "timetable", None), "expression", None)}


def updated_assets(task):
    # The Airflow Assets (named, not file lineage) a task updates when it succeeds.
    return [o.name for o in task.outlets if type(o).__name__ == "Asset" and "://" not in o.uri]


out = {}
for folder in sys.argv[2:]:
    before = set(sys.modules)
    bag = DagBag(dag_folder=folder)
    imported = sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(heavy))
    dags = {}
    for dag_id, dag in bag.dags.items():
        tasks = {}
        for task in dag.tasks:
            tasks[task.task_id] = {
                "operator": type(task).__name__,
                "downstream": sorted(task.downstream_task_ids),
                "trigger_dag_id": getattr(task, "trigger_dag_id", None),
                "inlets": as_datasets(task.inlets),
                "outlets": as_datasets(task.outlets),
                "assets": updated_assets(task),
            }
        dags[dag_id] = {"schedule": schedule_of(dag), "catchup": dag.catchup, "fileloc": dag.fileloc,
                        "tasks": tasks}
    out[folder] = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()},
                   "files": sorted(bag.dagbag_stats and [s.file for s in bag.dagbag_stats]),
                   "dags": dags, "heavy_imports": imported}
print("DAGBAG-JSON" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def bags() -> dict[str, dict]:
    """system name -> what Airflow's DagBag loaded from generated/<system>/airflow/dags."""
    folders = {p.parent.parent.name: p for p in sorted(GENERATED.glob("*/airflow/dags"))}
    with tempfile.TemporaryDirectory() as home:
        env = {"AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": "/usr/bin:/bin",
               "PYTHONDONTWRITEBYTECODE": "1"}  # leave generated/ untouched
        result = subprocess.run([sys.executable, "-c", LOAD_DAGS, ",".join(HEAVY), *map(str, folders.values())],
                                env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    loaded = json.loads(result.stdout.split("DAGBAG-JSON", 1)[1])
    return {system: loaded[str(folder)] for system, folder in folders.items()}


@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.stem)
def test_every_generated_dag_loads_without_import_errors(bags, spec):
    system = project_of(spec).base
    bag = bags[system.name]
    assert bag["import_errors"] == {}
    expected = {d.ingest_dag_id for d in system.datasets if d.source is not None}
    expected |= {m.train_dag_id for m in system.models}
    expected |= {m.drift_dag_id for m in system.models if m.drift_dag_id}
    expected |= {f"{system.py_name}__feast"} if system.feature_views else set()
    assert set(bag["dags"]) == expected
    for dag_id, dag in bag["dags"].items():
        assert Path(dag["fileloc"]).name == f"{dag_id}.py"
        assert dag["catchup"] is False
    # The helper module beside the DAGs is not parsed as a DAG file (.airflowignore).
    assert not any(f.endswith("mlspec_runtime.py") for f in bag["files"])


@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.stem)
def test_parsing_dags_imports_no_heavy_library(bags, spec):
    assert bags[project_of(spec).base.name]["heavy_imports"] == []


def test_ingestion_dag_tasks_dependencies_and_schedule(bags):
    dags = bags["customer-churn"]["dags"]
    dag = dags["customer_churn__ingest_customers"]
    assert dag["schedule"] == "@daily"
    tasks = dag["tasks"]
    assert {t: v["downstream"] for t, v in tasks.items()} == {
        "extract": ["validate"], "validate": ["version"], "version": ["upload"], "upload": []}
    assert dags["customer_churn__ingest_customer_activity"]["schedule"] == "0 2 * * *"
    # A dataset without DVC versioning has no version step.
    page_views = bags["web-events"]["dags"]["web_events__ingest_page_views"]["tasks"]
    assert {t: v["downstream"] for t, v in page_views.items()} == {
        "extract": ["validate"], "validate": ["upload"], "upload": []}


def test_training_dags_follow_the_model_schedule(bags):
    churn = bags["customer-churn"]["dags"]["customer_churn__train_churn"]
    # Weekly (the spec's schedule), not on every landing of its data as well: the default
    # `training.triggers` of a model with a schedule (and by the drift DAG).
    assert churn["schedule"] == "@weekly"
    assert list(churn["tasks"]) == ["submit_pipeline"]
    # No training schedule: when its datasets have landed (and when triggered).
    assert bags["payments-risk"]["dags"]["payments_risk__train_fraud_score"]["schedule"] == {
        "assets": ["payments-risk.card_stats", "payments-risk.merchant_stats", "payments-risk.transactions"],
        "cron": None}


def test_drift_dag_branches_to_the_models_training_dag(bags):
    dag = bags["customer-churn"]["dags"]["customer_churn__drift_churn"]
    assert dag["schedule"] == "@hourly"
    tasks = dag["tasks"]
    assert tasks["check_drift"]["downstream"] == ["decide"]
    assert tasks["decide"]["operator"] == "BranchPythonOperator"
    assert tasks["decide"]["downstream"] == ["no_action", "trigger_retraining"]
    assert tasks["trigger_retraining"]["operator"] == "TriggerDagRunOperator"
    assert tasks["trigger_retraining"]["trigger_dag_id"] == "customer_churn__train_churn"
    assert tasks["no_action"]["operator"] == "EmptyOperator"


def test_every_trigger_target_is_a_generated_dag(bags):
    triggers = 0
    for bag in bags.values():
        for dag in bag["dags"].values():
            for task in dag["tasks"].values():
                if task["trigger_dag_id"] is not None:
                    triggers += 1
                    assert task["trigger_dag_id"] in bag["dags"]
    assert triggers == 2  # customer-churn/churn and payments-risk/fraud-score


@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.stem)
def test_every_task_declares_the_openlineage_datasets_lineage_emit_names(bags, spec):
    from mlspec.ir import layout
    from mlspec.targets.lineage_names import dag_jobs

    project = project_of(spec)
    system = project.base
    jobs = {job.name: job for job in dag_jobs(system, layout.monitored_environment(project))}
    seen = set()
    for dag_id, dag in bags[system.name]["dags"].items():
        for task_id, task in dag["tasks"].items():
            job = jobs[f"{dag_id}.{task_id}"]
            seen.add(job.name)
            declared = task["inlets"] + task["outlets"]
            assert all(kind.startswith("openlineage.client.") and kind.endswith(".Dataset") for _, _, kind in declared)
            assert [tuple(d[:2]) for d in task["inlets"]] == [(d.namespace, d.name) for d in job.inputs]
            assert [tuple(d[:2]) for d in task["outlets"]] == [(d.namespace, d.name) for d in job.outputs]
    assert seen == set(jobs)


def test_tasks_declare_their_real_inputs(bags):
    ingest = bags["customer-churn"]["dags"]["customer_churn__ingest_customers"]["tasks"]
    assert ingest["extract"]["inlets"][0][:2] == ["postgres://warehouse.internal:5432", "analytics.public.customers"]
    assert ingest["upload"]["outlets"][0][:2] == ["s3://raw-data", "customers.parquet"]
    assert ingest["version"]["outlets"][0][:2] == ["s3://dvc-storage", "data/customers.parquet"]
    drift = bags["customer-churn"]["dags"]["customer_churn__drift_churn"]["tasks"]
    assert [d[:2] for d in drift["check_drift"]["inlets"]] == [
        ["s3://feast-offline", "customer_activity.parquet"],
        ["s3://mlspec-monitoring", "customer-churn/churn/models/customer-churn-churn/predictor/predictions/"]]


def test_the_feast_dag_runs_when_an_ingestion_dag_updates_a_feature_source(bags):
    """Each upload updates its dataset's Asset; the Feast DAG is scheduled on those of its
    feature views' sources (and daily on none other: every source here is ingested)."""
    for system, feast_dag, sources in (
            ("customer-churn", "customer_churn__feast", ["customer_activity"]),
            ("payments-risk", "payments_risk__feast", ["card_stats", "merchant_stats"])):
        dags = bags[system]["dags"]
        for dataset in sources:
            assert dags[f"{system.replace('-', '_')}__ingest_{dataset}"]["tasks"]["upload"]["assets"] == [
                f"{system}.{dataset}"]
        dag = dags[feast_dag]
        assert dag["schedule"] == {"assets": [f"{system}.{d}" for d in sources], "cron": None}
        assert {t: v["downstream"] for t, v in dag["tasks"].items()} == {"apply": ["materialize"], "materialize": []}
    # No task but the upload updates an asset.
    assert {t for bag in bags.values() for d in bag["dags"].values() for t, v in d["tasks"].items() if v["assets"]} \
        == {"upload"}
