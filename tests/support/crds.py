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
    ("kargo.akuity.io/v1alpha1", "Project"): "kargo.akuity.io_project_v1alpha1.json",
    ("kargo.akuity.io/v1alpha1", "Warehouse"): "kargo.akuity.io_warehouse_v1alpha1.json",
    ("kargo.akuity.io/v1alpha1", "Stage"): "kargo.akuity.io_stage_v1alpha1.json",
    ("kargo.akuity.io/v1alpha1", "Freight"): "kargo.akuity.io_freight_v1alpha1.json",
    ("kargo.akuity.io/v1alpha1", "Promotion"): "kargo.akuity.io_promotion_v1alpha1.json",
    ("kargo.akuity.io/v1alpha1", "PromotionTask"): "kargo.akuity.io_promotiontask_v1alpha1.json",
}

# The CRD leaves a Warehouse's subscriptions open (x-kubernetes-preserve-unknown-fields): Kargo
# validates each against the schema of its type, vendored here (akuity/kargo v1.11.2,
# pkg/subscription/schemas/git.json, Apache-2.0).
KARGO_SUBSCRIPTION_SCHEMAS = {"git": Path(__file__).with_name("kargo_git_subscription.schema.json")}


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


def kargo_subscription_errors(warehouse: dict) -> list[str]:
    """Each subscription of a Warehouse against its type's schema (exactly one type per entry)."""
    errors = []
    for index, subscription in enumerate(warehouse["spec"]["subscriptions"]):
        if len(subscription) != 1 or next(iter(subscription)) not in KARGO_SUBSCRIPTION_SCHEMAS:
            errors.append(f"subscriptions/{index}: not exactly one of {sorted(KARGO_SUBSCRIPTION_SCHEMAS)}")
            continue
        (kind, config), = subscription.items()
        validator = jsonschema.Draft202012Validator(json.loads(KARGO_SUBSCRIPTION_SCHEMAS[kind].read_text()))
        errors += [f"subscriptions/{index}/{kind}/{'/'.join(map(str, e.absolute_path))}: {e.message}"
                   for e in validator.iter_errors(config)]
    return errors
