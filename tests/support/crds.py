"""Strict CRD schemas from vendor/crds (provenance in vendor/README.md), one Draft 2020-12
validator per (apiVersion, kind), built once per test session (the KServe one is large)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema

# The vendored schemas: `schema_errors(VENDORED_CRDS, document)`.
VENDORED_CRDS = Path(__file__).resolve().parents[2] / "vendor" / "crds"

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


# Kubernetes' own kinds are validated against Kubernetes' schemas (kubernetes-validate, offline,
# strict: unknown fields are errors), at the version kubectl here speaks.
BUILTIN_API_VERSIONS = ("v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1")
KUBERNETES_VERSION = "1.32.0"


def builtin_schema_errors(document: dict) -> list[str]:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'/'.join(map(str, exc.path)) or '<root>'}: {exc.message}"]
    return []


def schema_errors(crd_dir: Path, document: dict) -> list[str]:
    if document["apiVersion"] in BUILTIN_API_VERSIONS:
        return builtin_schema_errors(document)
    validator = validator_for(str(crd_dir), document["apiVersion"], document["kind"])
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]
