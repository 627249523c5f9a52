"""The committed pipeline IR is exactly what kfp's own compiler makes of the committed
pipeline source, names no machine, and carries the spec's task settings."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from support.headers import strip_hash_header

GENERATED = REPO / "generated"
SOURCES = sorted(GENERATED.glob("*/kfp/*_training.py"))


def _strip_header(text: str) -> str:
    return strip_hash_header(text)


def _compile_with_kfp(source: Path, tmp_path: Path) -> str:
    from kfp import compiler

    name = f"ir_test_{source.stem}"
    spec = importlib.util.spec_from_file_location(name, source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        package = tmp_path / "pipeline.yaml"
        compiler.Compiler().compile(getattr(module, f"{source.stem}_pipeline"), package_path=str(package))
        return package.read_text()
    finally:
        del sys.modules[name]


def test_every_model_with_features_has_a_pipeline():
    assert [p.relative_to(GENERATED).as_posix() for p in SOURCES] == [
        "customer-churn/kfp/churn_training.py",
        "payments-risk/kfp/chargeback_loss_training.py",
        "payments-risk/kfp/fraud_score_training.py",
    ]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_ir_is_what_kfp_compiles_from_the_committed_source(source, tmp_path):
    committed = _strip_header(source.with_suffix(".yaml").read_text())
    first, _, ir = committed.partition("\n")
    source_text = _strip_header(source.read_text())
    assert first == "# pipeline source sha256: " + hashlib.sha256(source_text.encode()).hexdigest()
    assert ir == _compile_with_kfp(source, tmp_path)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_ir_names_no_machine(source):
    text = source.with_suffix(".yaml").read_text()
    for marker in ("/tmp", "/work", "/home", "/Users", "mlspec-kfp-", "_mlspec_pipeline_"):
        assert marker not in text


def test_churn_ir_carries_spec_settings():
    pipeline, platforms = yaml.safe_load_all((GENERATED / "customer-churn/kfp/churn_training.yaml").read_text())
    assert pipeline["pipelineInfo"]["name"] == "customer-churn-churn-training"
    inputs = pipeline["root"]["inputDefinitions"]["parameters"]
    assert inputs["gates"]["defaultValue"] == ["accuracy >= 0.85", "roc_auc >= 0.8"]
    assert inputs["max_disparity"]["defaultValue"] == 0.1
    assert inputs["mlflow_tracking_uri"]["defaultValue"] == "http://mlflow.mlflow.svc.cluster.local:5000"
    assert inputs["registered_model_name"]["defaultValue"] == "ChurnModel"
    assert inputs["model_alias"]["defaultValue"] == "champion"
    executors = pipeline["deploymentSpec"]["executors"]
    train = executors["exec-train-model"]["container"]
    assert train["image"] == "ghcr.io/myorg/churn-train:1.4.0"
    assert train["resources"]["cpuRequest"] == 2 and train["resources"]["memoryLimit"] == 4.294967296
    assert all(e["container"]["image"] == "ghcr.io/myorg/churn-train:1.4.0" for e in executors.values())
    tasks = pipeline["root"]["dag"]["tasks"]
    assert tasks["train-model"]["retryPolicy"]["maxRetryCount"] == 2
    # A failed gate fails again: gate steps are not retried.
    assert "retryPolicy" not in tasks["evaluate-model"] and "retryPolicy" not in tasks["check-fairness"]
    # Registration waits for both gates; the alias waits for the model card.
    assert set(tasks["register-model"]["dependentTasks"]) >= {"evaluate-model", "check-fairness"}
    assert set(tasks["set-alias"]["dependentTasks"]) >= {"write-model-card", "register-model"}
    secrets = platforms["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-register-model"]["secretAsEnv"]
    by_secret = {s["secretName"]: s["keyToEnv"] for s in secrets}
    assert by_secret["mlflow-credentials"] == [{"secretKey": "token", "envVar": "MLFLOW_TRACKING_TOKEN"}]
    assert "minio-credentials" in by_secret


def test_regression_pipeline_gates_point_the_way_the_spec_says():
    pipeline, _ = yaml.safe_load_all((GENERATED / "payments-risk/kfp/chargeback_loss_training.yaml").read_text())
    inputs = pipeline["root"]["inputDefinitions"]["parameters"]
    assert inputs["gates"]["defaultValue"] == ["r2 >= 0.5", "mae <= 40"]
    assert "max_disparity" not in inputs
    assert "check-fairness" not in pipeline["root"]["dag"]["tasks"]


def test_compiling_twice_reuses_the_ir_without_kfp(monkeypatch):
    """The IR is memoized on the source hash, and a committed IR can be recognised as current."""
    from mlspec.targets import kfp as kfp_target

    source = _strip_header((GENERATED / "customer-churn/kfp/churn_training.py").read_text())
    committed = _strip_header((GENERATED / "customer-churn/kfp/churn_training.yaml").read_text())
    assert kfp_target.ir_is_current(committed, source)
    assert not kfp_target.ir_is_current(committed, source + "\n# changed\n")
    first = kfp_target.compile_pipeline_source(source, "churn_training_pipeline")
    monkeypatch.setattr(kfp_target, "_compile", lambda *a: pytest.fail("recompiled an unchanged source"))
    assert kfp_target.compile_pipeline_source(source, "churn_training_pipeline") == first


def test_an_unchanged_pipeline_is_not_recompiled_and_kfp_is_not_imported(tmp_path):
    """The IR already in the output folder is reused when its source hash matches, so a
    compile that changes no pipeline never imports kfp (issue 7's start-up target)."""
    import shutil
    import subprocess
    import sys

    from conftest import REPO, invoke_mlspec

    shutil.copytree(REPO / "specs", tmp_path / "specs")
    invoke_mlspec("compile", "specs/customer-churn.yaml", cwd=tmp_path, check=True)
    probe = ("import sys\nfrom mlspec.cli import cli\n"
             "try:\n    cli.main(args=['compile', 'specs/customer-churn.yaml'], prog_name='mlspec')\n"
             "except SystemExit as e:\n    assert e.code == 0, e.code\n"
             "print(sorted(m for m in sys.modules if m == 'kfp' or m.startswith('kfp.')))")
    unchanged = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert unchanged.stdout.strip() == "[]"
    # A spec edit outside training (serving replicas) leaves the pipeline source as it was.
    spec = tmp_path / "specs/customer-churn.yaml"
    spec.write_text(spec.read_text().replace("replicas: {min: 1, max: 5}", "replicas: {min: 1, max: 6}"))
    serving_only = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                                  check=True, env={**__import__("os").environ, "MLSPEC_NO_CACHE": "1"})
    assert serving_only.stdout.strip() == "[]"
    # Change the pipeline (a gate) and kfp compiles it again.
    spec.write_text(spec.read_text().replace('accuracy: ">= 0.85"', 'accuracy: ">= 0.86"'))
    changed = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "'kfp'" in changed.stdout
    ir = (tmp_path / "generated/customer-churn/kfp/churn_training.yaml").read_text()
    assert "0.86" in ir


def test_the_pipeline_writes_the_drift_reference_the_drift_dag_reads():
    """fraud-score's features come from two datasets, so its drift check compares with a
    training snapshot: the pipeline's default `reference_uri` is where the drift DAG looks."""
    from conftest import REPO

    ir = yaml.safe_load_all((REPO / "generated/payments-risk/kfp/fraud_score_training.yaml").read_text())
    pipeline = next(iter(ir))
    default = pipeline["root"]["inputDefinitions"]["parameters"]["reference_uri"]["defaultValue"]
    dag = (REPO / "generated/payments-risk/airflow/dags/payments_risk__drift_fraud_score.py").read_text()
    assert default == "s3://mlspec-monitoring/payments-risk/fraud-score/reference.parquet"
    assert repr(default) in dag
    churn = next(iter(yaml.safe_load_all((REPO / "generated/customer-churn/kfp/churn_training.yaml").read_text())))
    # churn's features come from one dataset, which is its drift reference: no snapshot
    assert churn["root"]["inputDefinitions"]["parameters"]["reference_uri"]["defaultValue"] == ""


def test_the_kfp_version_in_compile_keys_is_the_installed_one():
    """Read from kfp/version.py without importing kfp; it must agree with the package metadata."""
    from importlib.metadata import version

    from mlspec.targets.kfp_version import installed_kfp_version

    assert installed_kfp_version() == version("kfp")
