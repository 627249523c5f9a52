"""`mlspec promote`, `rollback` and `rollout decide` in KServe's Standard mode (payments-risk's
staging: fraud-score version 11 in canary beside the stable version 10).

The canary is a named `spec.canary` predictor (KServe 0.20); completing it moves its model into
the predictor under its name and removes it; a new version after that makes the promoted one
`rollout.stable`; a rollback removes the canary and serves the stable version. Every
InferenceService written validates against the KServe 0.20 CRD and KServe's admission rules."""

from __future__ import annotations

import copy
import difflib
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import SPECS, invoke_mlspec
from support.analysis_objects import analysis_run, write
from support.crds import schema_errors

from mlspec.targets.kserve import admission_errors

V11 = "s3://mlflow-artifacts/3/f00d/artifacts/model"
V10 = "s3://mlflow-artifacts/3/beef/artifacts/model"
V12 = "s3://mlflow-artifacts/3/cafe/artifacts/model"
STAMP = "2026-12-01T10:00:00Z"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(SPECS, root / "specs")
    invoke_mlspec("compile", "specs", cwd=root, check=True)
    return root


def _changed_lines(old: str, new: str) -> list[str]:
    return [line for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def _k8s(project: Path) -> Path:
    return project / "generated/payments-risk/k8s/staging"


def _service(project: Path, vendor_dir: Path) -> dict:
    service = yaml.safe_load((_k8s(project) / "inferenceservice-fraud-score.yaml").read_text())
    assert schema_errors(vendor_dir / "crds", service) == []
    assert admission_errors(service) == []
    assert service["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert "canaryTrafficPercent" not in service["spec"]["predictor"]
    return service


def _served(service: dict) -> tuple[tuple[str, str], list[tuple[str, str, int]]]:
    """(stable predictor name, storage), [(canary name, storage, traffic percent)]."""
    predictor = service["spec"]["predictor"]
    return ((predictor["name"], predictor["model"]["storageUri"]),
            [(c["predictor"]["name"], c["predictor"]["model"]["storageUri"], c["trafficPercent"])
             for c in service["spec"].get("canary", [])])


def _analysis_file(project: Path, tmp_path: Path, vendor_dir: Path, phase: str) -> Path:
    """The generated AnalysisRun as Argo Rollouts leaves it once it has finished (a result with a
    measurement per compiled metric: what `rollout decide` requires)."""
    run = analysis_run(project, "staging", phase, system="payments-risk", model="fraud-score")
    return write(tmp_path, run, vendor_dir, name=f"analysisrun-{phase}.json")


def test_the_canary_runs_beside_the_stable_predictor_and_is_analysed_per_deployment(project, vendor_dir):
    service = _service(project, vendor_dir)
    assert _served(service) == (("v10", V10), [("v11", V11, 50)])
    run = yaml.safe_load((_k8s(project) / "analysisrun-fraud-score.yaml").read_text())
    for metric in run["spec"]["metrics"]:
        query = metric["provider"]["prometheus"]["query"]
        assert "by (destination_workload" in query and "revision_app_request" not in query
        assert ('destination_workload=~"payments-risk-fraud-score-v10-predictor|payments-risk-fraud-score-v11-predictor"'
                in query)


def test_a_successful_analysis_moves_the_canary_into_the_predictor_and_removes_it(project, tmp_path, vendor_dir):
    spec = project / "specs/payments-risk.yaml"
    before = spec.read_text()
    analysis = _analysis_file(project, tmp_path, vendor_dir, "Successful")

    result = invoke_mlspec("rollout", "decide", "fraud-score", "--env", "staging", "--analysis", str(analysis),
                           cwd=project)

    assert result.returncode == 0, result.stderr
    assert _changed_lines(before, spec.read_text()) == ["+      models.fraud-score.rollout.phase: promoted"]
    service = _service(project, vendor_dir)
    # the canary's model and name (KServe keeps its Deployment), no canary left
    assert _served(service) == (("v11", V11), [])
    assert service["metadata"]["annotations"]["mlspec.dev/previous-model-version"] == "10"
    assert not (_k8s(project) / "analysisrun-fraud-score.yaml").exists()

    # the next version: the promoted one becomes the stable predictor, the new one the canary
    before = spec.read_text()
    result = invoke_mlspec("promote", "fraud-score", "--version", "12", "--storage-uri", V12, "--env", "staging",
                           cwd=project)

    assert result.returncode == 0, result.stderr
    assert "beside the stable version 11" in result.stderr, result.stderr
    # the values are edited inside staging's existing `rollout.stable` override, nothing else moves
    assert sorted(_changed_lines(before, spec.read_text())) == sorted([
        "-      models.fraud-score.rollout.phase: promoted",
        "-      models.fraud-score.rollout.stable: {storageUri: s3://mlflow-artifacts/3/beef/artifacts/model,"
        ' modelVersion: "10"}',
        "+      models.fraud-score.rollout.phase: canary",
        f'+      models.fraud-score.rollout.stable: {{storageUri: {V11}, modelVersion: "11"}}',
        f"+      models.fraud-score.serving.storageUri: {V12}",
        '+      models.fraud-score.serving.modelVersion: "12"',
    ])
    assert _served(_service(project, vendor_dir)) == (("v11", V11), [("v12", V12, 50)])
    run = yaml.safe_load((_k8s(project) / "analysisrun-fraud-score.yaml").read_text())
    assert run["metadata"]["annotations"]["mlspec.dev/model-version"] == "12"
    assert "payments-risk-fraud-score-v11-predictor|payments-risk-fraud-score-v12-predictor" in \
        run["spec"]["metrics"][0]["provider"]["prometheus"]["query"]
    # other environments still serve version 11 in Knative mode
    dev = yaml.safe_load((project / "generated/payments-risk/k8s/dev/inferenceservice-fraud-score.yaml").read_text())
    assert dev["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    assert dev["spec"]["predictor"]["model"]["storageUri"] == V11 and "canary" not in dev["spec"]


def test_a_failed_analysis_removes_the_canary_and_the_stable_version_serves(project, tmp_path, vendor_dir):
    spec = project / "specs/payments-risk.yaml"
    before = spec.read_text()
    analysis = _analysis_file(project, tmp_path, vendor_dir, "Failed")

    result = invoke_mlspec("rollout", "decide", "fraud-score", "--env", "staging", "--analysis", str(analysis),
                           cwd=project)

    assert result.returncode == 0, result.stderr
    assert "all traffic on the stable version 10 (the canary is removed)" in result.stderr, result.stderr
    assert _changed_lines(before, spec.read_text()) == ["+      models.fraud-score.rollout.phase: rolledBack"]
    assert _served(_service(project, vendor_dir)) == (("v10", V10), [])
    assert not (_k8s(project) / "analysisrun-fraud-score.yaml").exists()

    # promoting a new version after the rollback: version 10 stays the stable one
    result = invoke_mlspec("promote", "fraud-score", "--version", "12", "--storage-uri", V12, "--env", "staging",
                           cwd=project)
    assert result.returncode == 0, result.stderr
    assert _served(_service(project, vendor_dir)) == (("v10", V10), [("v12", V12, 50)])


def test_a_rollback_without_a_stable_version_is_refused(project, vendor_dir):
    spec = project / "specs/payments-risk.yaml"
    text = spec.read_text().replace(
        '      models.fraud-score.rollout.stable: {storageUri: s3://mlflow-artifacts/3/beef/artifacts/model,'
        ' modelVersion: "10"}\n', "")
    spec.write_text(text)
    assert invoke_mlspec("compile", "specs", cwd=project).returncode == 0
    # the first version in Standard mode serves alone: no canary without a stable version
    assert _served(_service(project, vendor_dir)) == (("v11", V11), [])

    result = invoke_mlspec("rollback", "fraud-score", "--env", "staging", cwd=project)

    assert result.returncode == 2
    assert "no previous version to send the traffic back to" in result.stderr, result.stderr
    assert spec.read_text() == text


def test_a_zero_percent_canary_is_a_dark_launch(project, vendor_dir):
    spec = project / "specs/payments-risk.yaml"
    spec.write_text(spec.read_text().replace("models.fraud-score.rollout.canaryTrafficPercent: 50",
                                             "models.fraud-score.rollout.canaryTrafficPercent: 0"))
    assert invoke_mlspec("compile", "specs", cwd=project).returncode == 0
    service = _service(project, vendor_dir)
    assert _served(service) == (("v10", V10), [("v11", V11, 0)])
    # nothing reaches the canary, so nothing is judged: no AnalysisRun (decide waits), the template stays
    assert not (_k8s(project) / "analysisrun-fraud-score.yaml").exists()
    assert (_k8s(project) / "analysistemplate-fraud-score.yaml").exists()
    broken = copy.deepcopy(service)
    broken["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = "RawDeployment"
    assert admission_errors(broken)  # KServe wants exactly `Standard`, not the deprecated alias
