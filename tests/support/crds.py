"""Strict CRD schemas from ../shared/crds, one Draft 2020-12 validator per (apiVersion, kind),
built once per test session (the KServe one is large)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema

CRD_FILES = {
    ("serving.kserve.io/v1beta1", "InferenceService"): "serving.kserve.io_inferenceservice_v1beta1.json",
    ("argoproj.io/v1alpha1", "Application"): "argoproj.io_application_v1alpha1.json",
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): "argoproj.io_analysistemplate_v1alpha1.json",
    ("argoproj.io/v1alpha1", "AnalysisRun"): "argoproj.io_analysisrun_v1alpha1.json",
    ("argoproj.io/v1alpha1", "Rollout"): "argoproj.io_rollout_v1alpha1.json",
    ("iter8.tools/v2alpha2", "Experiment"): "iter8.tools_experiment_v2alpha2.json",
    ("iter8.tools/v2alpha2", "Metric"): "iter8.tools_metric_v2alpha2.json",
    ("flagger.app/v1beta1", "Canary"): "flagger.app_canary_v1beta1.json",
}


@lru_cache(maxsize=None)
def validator_for(crd_dir: str, api_version: str, kind: str) -> jsonschema.Draft202012Validator:
    file = CRD_FILES.get((api_version, kind))
    if file is None:
        raise KeyError(f"no strict schema for {api_version} {kind}")
    schema = json.loads((Path(crd_dir) / file).read_text())
    return jsonschema.Draft202012Validator(schema)


def schema_errors(crd_dir: Path, document: dict) -> list[str]:
    validator = validator_for(str(crd_dir), document["apiVersion"], document["kind"])
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]
