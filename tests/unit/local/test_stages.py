"""How `mlspec run --local` reads an ingestion DAG run's task states as its stages (ingest =
extract + upload, validate, version), and what run_stages reports after a failure: the
Airflow home is a fake that returns recorded states."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

from mlspec.diagnostics import Span
from mlspec.local.airflow_home import TaskRun
from mlspec.local.stages import STAGES, LocalRun, run_stages
from mlspec.local.workspace import Workspace
from mlspec.source.positions import PositionTree

OK = {"extract": "success", "validate": "success", "version": "success", "upload": "success"}


class FakeHome:
    def __init__(self, states: dict[str, dict[str, str]], output: str = ""):
        self.states, self.output, self.ran = states, output, []

    def dags_test(self, dag_id, date, env, log: Path, timeout=0, progress=None):
        self.ran.append(dag_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(self.output)
        failed = any(s != "success" for s in self.states[dag_id].values())
        return subprocess.CompletedProcess([], 1 if failed else 0, "", "")

    def task_runs(self, dag_id):
        return {t: TaskRun(t, s, 1.0) for t, s in self.states[dag_id].items()}


def local_run(tmp_path, home) -> LocalRun:
    datasets = tuple(SimpleNamespace(name=n, source=object(), ingest_dag_id=f"sys__ingest_{n}")
                     for n in ("a", "b"))
    system = SimpleNamespace(name="sys", py_name="sys", datasets=datasets, models=(), feature_views=(),
                             platform=SimpleNamespace(lineage=None))
    positions = PositionTree(keys={("datasets", "b"): Span(10, 3, 10, 4),
                                   ("datasets", "b", "columns"): Span(12, 5, 12, 12)})
    ws = Workspace(tmp_path, Path("spec.yaml"), tmp_path / "spec.yaml", tmp_path / "generated" / "sys", system, {},
                   positions)
    return LocalRun(ws, home, logical_date="2026-01-02")


def test_a_failed_upload_fails_ingest_after_validate_and_version_passed(tmp_path):
    home = FakeHome({"sys__ingest_a": OK, "sys__ingest_b": dict(OK, upload="failed")},
                    "ValueError: no space left")
    results = local_run(tmp_path, home).ingestion()
    assert results["ingest"].status == "failed" and results["ingest"].file == "airflow/dags/sys__ingest_b.py"
    assert "sys__ingest_b: task `upload` failed: ValueError: no space left" in results["ingest"].detail
    assert results["validate"].status == results["version"].status == "passed"
    assert results["version"].detail == "dvc add + push: a, b"


def test_a_failed_validation_of_the_second_dataset_skips_its_version(tmp_path):
    home = FakeHome({"sys__ingest_a": OK,
                     "sys__ingest_b": dict(OK, validate="failed", version="upstream_failed", upload="upstream_failed")},
                    "ValueError: Great Expectations suite 'b' failed 1 of 3 expectations on 9 rows:\n"
                    "  - expect_column_values_to_be_unique(column='id'): 1 unexpected value(s), e.g. [4]\n")
    run = local_run(tmp_path, home)
    results = {r.stage: r for r in run_stages(run)}
    assert results["ingest"].status == "passed"
    assert results["ingest"].detail == "extract + upload: a, b (b: extract only)"
    assert results["validate"].status == "failed"
    assert results["validate"].file == "great_expectations/b.json" and results["validate"].spec_line == "spec.yaml:12"
    assert "expect_column_values_to_be_unique(column='id')" in results["validate"].detail
    assert results["version"].status == "skipped"
    assert results["version"].detail == "not run: validate failed (done for a before)"
    later = STAGES[STAGES.index("materialize"):]
    assert [results[s].status for s in later] == ["skipped"] * len(later)
    assert all(results[s].detail == "not run: validate failed" for s in later)
    assert home.ran == ["sys__ingest_a", "sys__ingest_b"]  # nothing after the failure


def test_materialize_says_which_views_reached_the_online_store_and_which_are_offline_only():
    from mlspec.local.stages import materialized_summary

    views = [SimpleNamespace(name="card_activity", online=True), SimpleNamespace(name="history", online=False),
             SimpleNamespace(name="merchant_risk", online=True)]
    assert materialized_summary("x__feast", views) == (
        "x__feast: feast apply (when the repository changed), then card_activity, merchant_risk materialized into"
        " the online store; history offline only (`online: false`): registered, read from the offline store, not"
        " materialized")
    only_offline = materialized_summary("x__feast", [SimpleNamespace(name="history", online=False)])
    assert "online store;" not in only_offline and "materialized into" not in only_offline
    assert only_offline.startswith("x__feast: feast apply (when the repository changed), then history offline only")


def test_each_step_starts_from_what_the_one_before_handed_over_and_servers_stop_after_a_failure(
        tmp_path, monkeypatch):
    """promote -> serve -> drift -> retrain hand over frozen results (nothing is left on the run);
    a drift failure skips retrain, and the servers serve started are stopped all the same."""
    import dataclasses

    import pytest

    from mlspec.local import loop_stages
    from mlspec.local.result import StageResult, StageStatus, Step

    class Server:
        stopped = False

        def stop(self):
            self.stopped = True

    server = Server()
    promoted = loop_stages.Promoted("prod", {"m": loop_stages.PromotedModel("3", "d/isvc.yaml", {})})
    served = loop_stages.Served("prod", {"m": loop_stages.ServedModel(promoted.models["m"], server, None, True)})
    received = {}

    def step(stage, handover=None, status=StageStatus.PASSED):
        return Step({stage: StageResult(stage, status, 0.0, stage)}, handover)

    monkeypatch.setattr(loop_stages, "promote", lambda run: step("promote", promoted))
    monkeypatch.setattr(loop_stages, "serve", lambda run, got: received.setdefault("serve", got) and
                        step("serve", served))
    monkeypatch.setattr(loop_stages, "drift", lambda run, got: received.setdefault("drift", got) and
                        step("drift", None, StageStatus.FAILED))
    run = local_run(tmp_path, FakeHome({"sys__ingest_a": OK, "sys__ingest_b": OK}))
    results = {r.stage: r for r in run_stages(run)}
    assert received == {"serve": promoted, "drift": served}
    assert results["retrain"].status is StageStatus.SKIPPED and results["retrain"].detail == "not run: drift failed"
    assert server.stopped
    with pytest.raises(dataclasses.FrozenInstanceError):
        promoted.models = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        StageResult("x", "passed", 0.0, "a bare word is not a status")
