"""`mlspec run SPEC --local` with the real tools: Airflow (`airflow dags test`), Great
Expectations, DVC, Feast, kfp's local runner, MLflow (SQLite), git (a local spec repository
and deployments repository), MLflow's scoring server and Evidently, on sample data in a work
folder. Every example spec runs end to end; a failure injected at a stage (a bad row, an
impossible gate, a broken model) stops the run there, exits 4 and names the generated file and
the spec line it came from."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from conftest import SPECS, invoke_mlspec
from support.run_lineage import check_run_lineage

pytestmark = pytest.mark.slow

STAGES = ["ingest", "validate", "version", "materialize", "train", "register", "promote", "serve", "drift",
          "retrain"]


def stages(report) -> dict[str, dict]:
    document = json.loads(report.read_text())
    assert [s["stage"] for s in document["stages"]] == STAGES
    return {s["stage"]: s for s in document["stages"]}


def _git(repo, *args) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def _check_churn_loop(work, by_stage):
    """What the later stages left behind: the promotion in both repositories, the served
    model's logged traffic, and the version retraining registered."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow' / 'mlflow.db'}")
    assert "ChurnModel version 1 has alias `champion`" in by_stage["register"]["detail"]
    # promote: the spec's one-value diff committed, the manifests published with version 1's folder
    assert "mlspec promote: churn version 1: canary started in prod" in _git(work / "spec-repo", "log", "-1")
    isvc = yaml.safe_load((work / "deployments" / "deployments" / "customer-churn" / "prod" /
                           "inferenceservice-churn.yaml").read_text())
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == client.get_model_version_download_uri("ChurnModel", "1")
    assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert _git(work / "deployments", "show", "--name-only", "--format=", "HEAD").split() == [
        "deployments/customer-churn/prod/analysisrun-churn.yaml",
        "deployments/customer-churn/prod/inferenceservice-churn.yaml"]
    # serve: the drifted traffic, in KServe's log form, where the drift DAG reads; the undrifted kept aside
    logged = work / "store" / "mlspec-monitoring" / "customer-churn" / "churn" / "models" / "customer-churn-churn" \
        / "predictor" / "predictions"
    requests = list(logged.glob("drifted-*-request.json"))
    assert requests and len(requests) == len(list(logged.glob("drifted-*-response.json")))
    undrifted = work / "logs" / "traffic" / "churn-undrifted"
    assert len(list(undrifted.glob("undrifted-*-request.json"))) == len(requests)
    assert "by MLflow's scoring server" in by_stage["serve"]["detail"]
    assert "rows of the drift reference (training data)" in by_stage["serve"]["detail"]
    assert "undrifted share" in by_stage["drift"]["detail"] and "trigger_retraining" in by_stage["drift"]["detail"]
    # retrain: the drift DAG's queued run, run: version 2 is registered; retrained on the same
    # labelled rows with the same seed it is no better than version 1 on the held-out rows, so
    # champion/challenger keeps the alias on version 1 and the stage says why
    assert client.get_model_version("ChurnModel", "2").tags["mlspec.challenge.takes_alias"] == "false"
    assert str(client.get_model_version_by_alias("ChurnModel", "champion").version) == "1"
    assert ("ChurnModel version 2 is registered without the alias `champion`, which stays on version 1: accuracy"
            in by_stage["retrain"]["detail"])
    assert '"reason": "drift"' in by_stage["retrain"]["detail"]
    # the SQL sources' rows came from the DuckDB file, read by the extract through the Airflow
    # connection, the database opened contained (mlspec_runtime.query_frame) ...
    import pandas as pd

    assert "external access off, configuration locked" in (
        work / "logs" / "customer_churn__ingest_customer_activity.log").read_text()
    assert (work / "databases" / "warehouse.duckdb").is_file() and not list((work / "sources").iterdir())
    # ... with the `day` column its query's WHERE needs, which only the table has
    stored = next((work / "store" / "feast-offline" / "customer_activity.parquet").glob("*/part-0.parquet"))
    assert "day" in pd.read_parquet(stored).columns


# The examples, and the realistic specs of the corpus (a ranking model's sample teaches it too).
RUNNABLE = [*sorted(p.name for p in SPECS.glob("*.yaml")), str(SPECS.parent / "tests/cases/spec/recommender.yaml")]


@pytest.mark.parametrize("spec", RUNNABLE, ids=lambda s: s.rsplit("/", 1)[-1])
def test_every_example_spec_runs_end_to_end(tmp_path, spec):
    report, work = tmp_path / "r.json", tmp_path / "work"
    result = invoke_mlspec("run", str(SPECS / spec), "--local", "--workdir", str(work), "--report", str(report))
    assert result.returncode == 0, result.stderr[-6000:]
    by_stage = stages(report)
    assert not [s for s in by_stage.values() if s["status"] == "failed"]
    for stage in by_stage.values():
        assert stage["seconds"] >= 0 and stage["detail"]
        assert f"{stage['stage']:<11} {stage['status']}" in result.stderr  # a stage line each
    system = yaml.safe_load((SPECS / spec).read_text())
    models = system.get("models") or {}
    expected = ["ingest", "validate"] + (["train", "register", "promote", "serve"] if models else [])
    if any((m.get("monitoring") or {}).get("drift", {}).get("onDrift") == "retrain" for m in models.values()):
        expected += ["drift", "retrain"]
    assert [s for s in expected if by_stage[s]["status"] != "passed"] == []
    if spec == "customer-churn.yaml":
        _check_churn_loop(work, by_stage)
    check_run_lineage(report, SPECS / spec, work)  # the run's OpenLineage events (support/run_lineage.py)
    if spec.endswith("recommender.yaml"):  # the ranker passed its ranking gates, shown as the spec names them
        assert "(ndcg@10=" in by_stage["register"]["detail"] and "mrr=" in by_stage["register"]["detail"]


def test_an_impossible_gate_stops_at_train_and_names_the_pipeline(tmp_path):
    spec = tmp_path / "customer-churn.yaml"
    text = (SPECS / "customer-churn.yaml").read_text()
    assert 'accuracy: ">= 0.85"' in text
    spec.write_text(text.replace('accuracy: ">= 0.85"', 'accuracy: ">= 1.01"'))
    gate_line = 1 + next(i for i, line in enumerate(spec.read_text().splitlines()) if '">= 1.01"' in line)
    report = tmp_path / "r.json"
    result = invoke_mlspec("run", str(spec), "--local", "--workdir", str(tmp_path / "work"), "--report", str(report))
    assert result.returncode == 4, result.stderr[-6000:]
    by_stage = stages(report)
    assert [by_stage[n]["status"] for n in STAGES] == ["passed"] * 4 + ["failed"] + ["skipped"] * 5
    train = by_stage["train"]
    assert train["file"] == "kfp/churn_training.py" and train["spec_line"] == f"{spec}:{gate_line}"
    assert "evaluate-model" in train["detail"] and "evaluation gate failed" in train["detail"]
    assert f"generated file: {tmp_path / 'work' / 'generated' / 'customer-churn' / 'kfp' / 'churn_training.py'}" \
           f"  (from {spec}:{gate_line})" in result.stderr
    assert by_stage["retrain"]["detail"] == "not run: train failed"


def test_a_row_breaking_an_expectation_stops_at_validate(tmp_path):
    """The sample passes its suite; one duplicated customer (customer_id is `unique`) does not."""
    import duckdb

    from mlspec.local.run import start_local_run
    from mlspec.local.stages import run_stages

    run = start_local_run(SPECS / "customer-churn.yaml", tmp_path / "work")
    with duckdb.connect(str(run.ws.databases / "warehouse.duckdb")) as db:  # customers' SQL source reads it
        db.execute("INSERT INTO customers SELECT * FROM customers LIMIT 1")
    results = {r.stage: r for r in run_stages(run)}
    assert [results[n].status for n in STAGES] == ["passed", "failed"] + ["skipped"] * 8
    validate = results["validate"]
    assert validate.file == "great_expectations/customers.json"
    lines = (SPECS / "customer-churn.yaml").read_text().splitlines()
    columns = lines.index("    columns:", lines.index("  customers:")) + 1  # customers' columns
    assert validate.spec_line == f"{SPECS / 'customer-churn.yaml'}:{columns}"
    assert "customer_churn__ingest_customers: task `validate` failed" in validate.detail
    assert "expect_column_values_to_be_unique" in validate.detail


def test_a_broken_model_stops_at_serve_and_names_the_inference_service(tmp_path, monkeypatch):
    """The promoted version's model file is corrupted after promotion: the scoring server cannot
    load it, so serve fails, naming the InferenceService and the spec's serving line."""
    from pathlib import Path

    from mlspec.cli.commands.run import local_deployer
    from mlspec.local import loop_stages
    from mlspec.local.run import start_local_run
    from mlspec.local.stages import run_stages

    from mlspec.local.serving import ScoringServer

    promote, start = loop_stages.promote, ScoringServer.start
    started = []

    def promote_then_break(run):
        step = promote(run)
        isvc = step.handover.models["churn"].manifest
        folder = Path(isvc["spec"]["predictor"]["model"]["storageUri"].removeprefix("file://"))
        for model_file in folder.glob("model.*"):
            model_file.write_bytes(b"not a model")
        return step

    def recorded_start(server):
        started.append(server)
        return start(server)

    monkeypatch.setattr(loop_stages, "promote", promote_then_break)
    monkeypatch.setattr(ScoringServer, "start", recorded_start)
    run = start_local_run(SPECS / "customer-churn.yaml", tmp_path / "work", deployer=local_deployer())
    results = {r.stage: r for r in run_stages(run)}
    assert [results[n].status for n in STAGES] == ["passed"] * 7 + ["failed", "skipped", "skipped"]
    serve = results["serve"]
    assert serve.file == "k8s/prod/inferenceservice-churn.yaml"
    serving_line = 1 + next(i for i, line in enumerate((SPECS / "customer-churn.yaml").read_text().splitlines())
                            if line.strip() == "serving:")
    assert serve.spec_line == f"{SPECS / 'customer-churn.yaml'}:{serving_line}"
    assert "churn version 1" in serve.detail and "mlflow models serve" in serve.detail
    assert started and all(server.process is None for server in started)  # stopped
