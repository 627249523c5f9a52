"""The events `mlspec run --local` writes itself besides Airflow's provider (the promotion, the
served traffic), the settings that switch the provider on, and a run whose events file cannot be
written. A whole run's events: tests/integration/local/test_run_local.py."""

from __future__ import annotations

import json
from types import SimpleNamespace

from conftest import SPECS
from support.openlineage_schema import event_errors

from mlspec.local import lineage_events
from mlspec.local.result import StageResult, StageStatus


def _run(tmp_path):
    from mlspec.compiler.session import load_unit

    project = load_unit(SPECS / "customer-churn.yaml").project
    system = project.base
    [model] = system.models
    ws = SimpleNamespace(root=tmp_path, system=system, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    return SimpleNamespace(ws=ws, system=system, models=[model], environment=project.environments[-1])


def _handovers(run):
    """What the promote and serve stages hand over (mlspec.local.loop_stages)."""
    from mlspec.local.loop_stages import Promoted, PromotedModel, Served, ServedModel

    [model] = run.models
    promoted = PromotedModel("3", "prod/churn.yaml", {})
    return (Promoted(run.environment, {model.name: promoted}),
            Served(run.environment, {model.name: ServedModel(promoted, None, None, True)}))


def test_the_provider_writes_into_the_work_folder_in_the_systems_namespace(tmp_path):
    env = lineage_events.airflow_env(_run(tmp_path).ws)
    assert env["AIRFLOW__OPENLINEAGE__DISABLED"] == "False"
    assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "customer-churn"  # platform.lineage.namespace
    assert json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"]) == {
        "type": "file", "log_file_path": str(tmp_path / "lineage" / "events.jsonl"), "append": True}


def test_the_registry_is_named_by_its_tracking_server():
    assert lineage_events.mlflow_namespace("http://user:pw@127.0.0.1:5000") == "mlflow://127.0.0.1:5000"
    assert lineage_events.mlflow_namespace("sqlite:////work/mlflow/mlflow.db") == "mlflow://localhost"


def test_the_promotion_and_the_served_traffic_continue_the_graph_from_the_version(tmp_path):
    run = _run(tmp_path)
    described = lineage_events.start(run)
    promoted, served = _handovers(run)
    results = {"promote": StageResult("promote", StageStatus.PASSED, 1.0, "ok")}
    lineage_events.after(run, ("promote",), results, promoted, described)
    lineage_events.after(run, ("serve",), {"serve": StageResult("serve", StageStatus.PASSED, 1.0, "ok")}, served,
                         described)
    assert results["promote"].status == StageStatus.PASSED
    deployed, served = lineage_events.read_events(tmp_path / "lineage" / "events.jsonl")
    assert event_errors(deployed) == [] and event_errors(served) == []
    assert deployed["job"] == {"namespace": "customer-churn", "name": "deployment.prod.churn",
                               "facets": deployed["job"]["facets"]}
    assert [(d["namespace"], d["name"]) for d in deployed["inputs"]] == [("mlflow://localhost", "models/ChurnModel/3")]
    assert [(d["namespace"], d["name"]) for d in deployed["outputs"]] == [("customer-churn", "kserve.prod.churn")]
    # the InferenceService's logger writes where the drift DAG's inlet reads
    assert served["inputs"][0]["name"] == "kserve.prod.churn"
    assert [(d["namespace"], d["name"]) for d in served["outputs"]] == [
        ("s3://mlspec-monitoring", "customer-churn/churn/models/customer-churn-churn/predictor/predictions/")]


def test_events_that_cannot_be_written_fail_the_stage_naming_the_file(tmp_path):
    run = _run(tmp_path)
    (tmp_path / "lineage").write_text("a file where the events' folder should be")
    described = lineage_events.start(run)
    results = {"ingest": StageResult("ingest", StageStatus.PASSED, 1.0, "ok"),
               "version": StageResult("version", StageStatus.SKIPPED, 0.0, "not versioned")}
    lineage_events.after(run, ("ingest", "version"), results, None, described)
    assert results["ingest"].status == StageStatus.FAILED and results["version"].status == StageStatus.SKIPPED
    assert f"cannot be written to {tmp_path / 'lineage' / 'events.jsonl'}" in results["ingest"].detail
