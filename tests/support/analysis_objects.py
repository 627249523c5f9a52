"""The analysis objects `mlspec rollout decide` reads, as the controllers leave them: the
generated AnalysisRun with the `status` Argo Rollouts writes (phase, message, runSummary,
metricResults with measurements) and the generated Iter8 v2alpha2 Experiment with the
`status` its controller writes (stage, conditions Completed/Failed/TargetAcquired,
versionRecommendedForPromotion, analysis.versionAssessments and winnerAssessment). `write`
validates each against the strict CRD schema in vendor/crds before use, so the shapes are
the controllers' own."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from support.crds import schema_errors

STAMP = "2026-12-01T10:00:00Z"


def live(project: Path, relative: str, kind: str) -> dict:
    """The generated object as the API server returns it (server-set metadata added)."""
    documents = [d for d in yaml.safe_load_all((project / relative).read_text()) if d and d["kind"] == kind]
    obj = copy.deepcopy(documents[0])
    obj["metadata"].update({"uid": "3f0c8a4e-1b2d-4c5e-8f90-123456789abc", "resourceVersion": "48213",
                            "generation": 1, "creationTimestamp": STAMP})
    return obj


def analysis_run(project: Path, env: str, phase: str | None, terminate: bool = False,
                 system: str = "customer-churn", model: str = "churn") -> dict:
    obj = live(project, f"generated/{system}/k8s/{env}/analysisrun-{model}.yaml", "AnalysisRun")
    if terminate:
        obj["spec"]["terminate"] = True
    if phase is None:
        return obj  # just created: the controller has not written a status yet
    metric_phase = {"Error": "Error", "Failed": "Failed"}.get(phase, "Successful")
    results = []
    for metric in obj["spec"]["metrics"]:
        failing = metric["name"] == "error-rate" and metric_phase != "Successful"
        result = {"name": metric["name"], "phase": metric_phase if failing else "Successful", "count": 1,
                  "successful": 0 if failing else 1,
                  "measurements": [{"phase": metric_phase if failing else "Successful", "startedAt": STAMP,
                                    "finishedAt": STAMP, "value": "[0.0004,0.1]" if failing else "[0.0004,0]"}]}
        if failing:
            result["failed" if metric_phase == "Failed" else "error"] = 1
        if phase not in ("Running", "Pending") or not failing:
            results.append(result)
    status = {"phase": phase, "startedAt": STAMP, "metricResults": results,
              "runSummary": {"count": len(obj["spec"]["metrics"]), "successful": 3 if metric_phase == "Successful"
                             else 2}}
    if phase == "Failed":
        status["message"] = 'Metric "error-rate" assessed Failed due to failed (1) > failureLimit (0)'
    if phase == "Error":
        status["message"] = 'Metric "error-rate" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4)'
    if phase in ("Successful", "Failed", "Error"):
        status["completedAt"] = STAMP
    obj["status"] = status
    return obj


def iter8_experiment(project: Path, env: str, stage: str, recommended: str | None = None,
                     failed: bool = False) -> dict:
    obj = live(project, f"generated/payments-risk/k8s/{env}/iter8-experiment-chargeback-loss.yaml", "Experiment")
    candidate = obj["spec"]["versionInfo"]["candidates"][0]["name"]
    objectives = len(obj["spec"]["criteria"]["objectives"])
    completed = stage == "Completed"

    def condition(kind: str, value: bool, reason: str, message: str) -> dict:
        return {"type": kind, "status": "True" if value else "False", "reason": reason, "message": message,
                "lastTransitionTime": STAMP}

    status = {
        "stage": stage, "initTime": STAMP, "startTime": STAMP, "lastUpdateTime": STAMP,
        "completedIterations": 5 if completed else 2,
        "conditions": [condition("Completed", completed, "ExperimentCompleted" if completed else "StageAdvanced",
                                 "Experiment Completed" if completed else "Running"),
                       condition("Failed", failed, "MetricsServiceError" if failed else "StageAdvanced",
                                 "Failed to query metrics service" if failed else ""),
                       condition("TargetAcquired", True, "TargetAcquired", "")],
        "message": "ExperimentCompleted: Experiment Completed" if completed else "IterationUpdate: Iteration 2",
        "currentWeightDistribution": [{"name": "stable", "value": 80}, {"name": candidate, "value": 20}],
    }
    if recommended is not None:
        winner = recommended == candidate
        provenance = "http://iter8-analytics.iter8-system:8080/v2/analytics_results"
        status["versionRecommendedForPromotion"] = recommended
        # One boolean per objective of spec.criteria.objectives, in their order (etc3's
        # controllers/iterate.go reads them so); the candidate meets all of them when it wins.
        status["analysis"] = {
            "versionAssessments": {"provenance": provenance, "timestamp": STAMP,
                                   "data": {"stable": [True] * objectives,
                                            candidate: [True] * objectives if winner
                                            else [True] * (objectives - 1) + [False]}},
            "winnerAssessment": {"provenance": provenance, "timestamp": STAMP,
                                 "data": {"winnerFound": winner, **({"winner": candidate} if winner else {})}}}
    obj["status"] = status
    return obj


def write(folder: Path, obj: dict, vendor_dir: Path, name: str = "analysis.json", check: bool = True) -> Path:
    """`obj` as `kubectl get -o json` prints it, in `folder/name`; checked against the strict
    CRD schema unless `check` is False (a malformed object, as an attacker may write it)."""
    if check:
        errors = schema_errors(vendor_dir / "crds", obj)
        assert not errors, errors  # the shape the controller writes, status included
    path = folder / name
    path.write_text(json.dumps(obj, indent=2))
    return path
