"""Every Kubernetes object mlspec generates is valid for the cluster that will receive it:
strict CRD schemas, kustomize builds, and the rules the schemas cannot express."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from support.crds import schema_errors

from mlspec.targets.kserve import admission_errors

GENERATED = REPO / "generated"
GOLDEN = REPO / "tests" / "cases" / "golden"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _k8s_documents() -> list[tuple[str, dict]]:
    found = []
    # The example specs' output, and the serving goldens (promoted, rolled back, no environments...).
    paths = [p for pattern in ("*/k8s/*/*.yaml", "*/argocd/*/*.yaml", "*/kargo/*.yaml")
             for p in sorted(GENERATED.glob(pattern))]
    paths += [p for pattern in ("*/expected/k8s/*/*.yaml", "*/expected/argocd/*/*.yaml")
              for p in sorted(GOLDEN.glob(pattern))]
    for path in paths:
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((str(path.relative_to(REPO)), document))
    return found


DOCUMENTS = _k8s_documents()
ENV_DIRS = sorted({p.parent for p in GENERATED.glob("*/k8s/*/kustomization.yaml")}
                  | {p.parent for p in GOLDEN.glob("*/expected/k8s/*/kustomization.yaml")})


def test_the_example_specs_produce_every_kind_of_object():
    kinds = {(d["apiVersion"], d["kind"]) for _, d in DOCUMENTS}
    assert {("serving.kserve.io/v1beta1", "InferenceService"), ("argoproj.io/v1alpha1", "Application"),
            ("argoproj.io/v1alpha1", "AnalysisTemplate"), ("argoproj.io/v1alpha1", "AnalysisRun"),
            ("iter8.tools/v2alpha2", "Experiment"), ("iter8.tools/v2alpha2", "Metric"),
            ("kargo.akuity.io/v1alpha1", "Project"), ("kargo.akuity.io/v1alpha1", "Warehouse"),
            ("kargo.akuity.io/v1alpha1", "Stage")} <= kinds


@pytest.mark.parametrize("path,document", DOCUMENTS, ids=[f"{p}:{d['kind']}:{d['metadata']['name']}"
                                                         for p, d in DOCUMENTS])
def test_object_validates_against_the_strict_crd_schema(vendor_dir, path, document):
    errors = schema_errors(vendor_dir / "crds", document)
    assert not errors, f"{path} ({document['kind']}):\n" + "\n".join(errors)


@pytest.mark.parametrize("path,document", DOCUMENTS, ids=[f"{p}:{d['kind']}:{d['metadata']['name']}"
                                                         for p, d in DOCUMENTS])
def test_names_and_labels_fit_kubernetes_limits(path, document):
    metadata = document["metadata"]
    assert DNS_LABEL.match(metadata["name"]) and len(metadata["name"]) <= 63, metadata["name"]
    if "namespace" in metadata:
        assert DNS_LABEL.match(metadata["namespace"]), metadata["namespace"]
    for key, value in metadata.get("labels", {}).items():
        assert len(value) <= 63 and LABEL_VALUE.match(value), f"label {key}={value!r}"
    if document["kind"] == "InferenceService":
        # Knative appends `-predictor-00001` to name revisions, which are DNS labels too.
        assert len(metadata["name"] + "-predictor-00001") <= 63


def test_every_inference_service_names_its_mode_and_has_the_canary_of_that_mode():
    """The current mode names (KServe 0.16+), `canaryTrafficPercent` in Knative mode only, and
    `spec.canary` only where KServe 0.20 admits it (annotation exactly `Standard`)."""
    services = [d for _, d in DOCUMENTS if d["kind"] == "InferenceService"]
    assert services
    shapes = set()
    for service in services:
        mode = service["metadata"]["annotations"]["serving.kserve.io/deploymentMode"]
        assert mode in ("Knative", "Standard")
        assert admission_errors(service) == []
        percent = service["spec"]["predictor"].get("canaryTrafficPercent")
        if percent is not None:
            assert 0 <= percent <= 100 and mode == "Knative"
            shapes.add("knative-canary")
        for canary in service["spec"].get("canary", []):
            assert mode == "Standard" and 0 <= canary["trafficPercent"] <= 100
            assert canary["predictor"]["name"] != service["spec"]["predictor"].get("name")
            shapes.add("standard-canary")
        # A named predictor's Deployment and Service are `{isvc}-{name}-predictor`: DNS labels too.
        for predictor in [service["spec"]["predictor"]] + [c["predictor"] for c in service["spec"].get("canary", [])]:
            if "name" in predictor:
                assert len(f"{service['metadata']['name']}-{predictor['name']}-predictor") <= 63
    assert shapes == {"knative-canary", "standard-canary"}


@pytest.mark.parametrize("change,refusal", [
    (lambda s: s["metadata"]["annotations"].update({"serving.kserve.io/deploymentMode": "RawDeployment"}),
     "only admitted with the annotation"),
    (lambda s: s["spec"]["canary"][0]["predictor"].update(name=s["spec"]["predictor"]["name"]),
     "conflicts with the stable"),
    (lambda s: s["spec"]["canary"][0]["predictor"].update(maxReplicas=3), "must not set maxReplicas"),
    (lambda s: s["spec"]["predictor"].update(canaryTrafficPercent=10), "Knative mode only"),
    (lambda s: s["spec"]["canary"].append({"predictor": {"name": "x", "model": {}}, "trafficPercent": 100}),
     "over 100"),
])
def test_the_admission_rules_refuse_what_kserve_refuses(change, refusal):
    import copy

    standard = next(d for _, d in DOCUMENTS if d["kind"] == "InferenceService" and d["spec"].get("canary"))
    service = copy.deepcopy(standard)
    change(service)
    assert any(refusal in message for message in admission_errors(service)), admission_errors(service)


def test_mlflow_models_use_protocol_v2_and_a_storage_folder():
    for _, service in DOCUMENTS:
        if service["kind"] != "InferenceService":
            continue
        model = service["spec"]["predictor"]["model"]
        assert not model["storageUri"].startswith(("models:/", "runs:/"))
        if model["modelFormat"]["name"] == "mlflow":
            assert model["protocolVersion"] == "v2"
        for section in ("requests", "limits"):
            for quantity in model["resources"][section].values():
                assert isinstance(quantity, str), "quantities must be strings"


def test_applications_have_one_destination_finalizer_and_sync_options():
    applications = [d for _, d in DOCUMENTS if d["kind"] == "Application"]
    assert applications
    for app in applications:
        destination = app["spec"]["destination"]
        assert ("server" in destination) != ("name" in destination)
        assert "resources-finalizer.argocd.argoproj.io" in app["metadata"]["finalizers"]
        assert "CreateNamespace=true" in app["spec"]["syncPolicy"]["syncOptions"]
        automated = app["spec"]["syncPolicy"].get("automated")
        if automated is not None:
            assert set(automated) <= {"prune", "selfHeal", "allowEmpty", "enabled"}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")
@pytest.mark.parametrize("env_dir", ENV_DIRS, ids=[str(p.relative_to(REPO)) for p in ENV_DIRS])
def test_environment_folder_builds_with_kustomize(env_dir: Path):
    result = subprocess.run(["kubectl", "kustomize", str(env_dir)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    built = [d for d in yaml.safe_load_all(result.stdout) if d]
    listed = yaml.safe_load((env_dir / "kustomization.yaml").read_text())["resources"]
    files = sorted(p.name for p in env_dir.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == files, "the kustomization lists exactly the objects in the folder"
    namespace = yaml.safe_load((env_dir / "kustomization.yaml").read_text())["namespace"]
    assert built and all(d["metadata"]["namespace"] == namespace for d in built)


def test_drift_monitored_models_log_predictions_to_the_object_store_or_the_named_sink(vendor_dir, tmp_path):
    """Every served, drift-monitored model logs requests and responses with KServe's logger: to the
    monitoring bucket by default (tests/unit/runtime/test_prediction_log.py checks the drift DAG
    reads that folder), or to the HTTP sink a spec names in `monitoring.drift.loggerUrl`."""
    from mlspec.compiler.compile import compile_spec

    services = [d for _, d in DOCUMENTS if d["kind"] == "InferenceService"]
    logged = {d["metadata"]["name"]: d["spec"]["predictor"]["logger"] for d in services
              if "logger" in d["spec"]["predictor"]}
    assert set(logged) == {"customer-churn-churn", "payments-risk-fraud-score"}
    assert all(v["storage"]["path"] == "predictions" and v["url"].startswith("s3://mlspec-monitoring/")
               for v in logged.values())
    result = compile_spec(REPO / "tests/cases/spec/every-field.yaml", tmp_path, targets=["kserve"])
    assert result.ok, [d.message for d in result.diagnostics]
    sinks = [yaml.safe_load(text) for path, text in result.files.items() if path.endswith("/inferenceservice-churn.yaml")]
    assert sinks and all(s["spec"]["predictor"]["logger"] == {
        "mode": "all", "url": "http://prediction-sink.monitoring.svc.cluster.local"} for s in sinks)
    for service in sinks:
        assert not schema_errors(vendor_dir / "crds", service)
