"""Argo CD and the in-cluster controllers agree: each environment's Application ignores,
per InferenceService (by name), exactly the fields a controller or KServe's defaulting
writes for that model's serving settings and rollout backend, and never a field the
generated InferenceService sets (with RespectIgnoreDifferences an ignored field keeps its
live value on every sync, so a runtime the spec changes would never be applied).

The one field both sides write is Iter8's traffic split while its Experiment runs: the
generated object carries the canary's starting share for its creation, and Iter8 moves it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO, invoke_mlspec

GENERATED = REPO / "generated"
GOLDEN = REPO / "tests/cases/golden"
RUNTIME = ".spec.predictor.model.runtime"
SPLIT = ".spec.predictor.canaryTrafficPercent"
ALWAYS = ['.metadata.annotations["serving.kserve.io/outputStorageUri"]', ".spec.predictor.model.storage"]

SPEC = """\
apiVersion: mlspec/v1alpha1
kind: MLSystem
metadata: {name: lab}
platform:
  objectStore: {endpoint: http://minio:9000, credentialsSecret: minio-credentials}
  mlflow: {trackingUri: http://mlflow:5000}
  prometheus: {url: http://prometheus:9090}
  deployments: {repoURL: https://git.example.com/deployments, revision: main, path: deployments}
datasets:
  customers:
    source: {sql: "SELECT * FROM customers", connection: warehouse}
    storage: s3://raw-data/customers.parquet
    columns:
      customer_id: {type: int64, nullable: false, unique: true}
      total_purchases: {type: float32, min: 0}
      churn: {type: int8, in: [0, 1]}
      event_timestamp: {type: timestamp}
entities:
  customer: {joinKeys: [customer_id]}
featureViews:
  customer_features:
    entities: [customer]
    source: customers
    timestampField: event_timestamp
    ttl: 1d
    features: {total_purchases: float32}
models:
  plain: &model
    task: binary_classification
    features: [customer_features.total_purchases]
    label: customers.churn
    training: {estimator: sklearn.ensemble.RandomForestClassifier}
    registry: {name: Plain}
    serving: {format: mlflow, storageUri: s3://models/plain/2, modelVersion: "2"}
  runtime:
    <<: *model
    registry: {name: Runtime}
    serving: {format: custom, runtime: my-runtime, storageUri: s3://models/runtime/2, modelVersion: "2"}
    rollout: {backend: kserve-analysis, canaryTrafficPercent: 10, slo: api}
  analysis:
    <<: *model
    registry: {name: Analysis}
    rollout: {backend: kserve-analysis, canaryTrafficPercent: 10, slo: api}
  legacy:
    <<: *model
    registry: {name: Legacy}
    serving: {format: sklearn, runtime: kserve-sklearnserver, storageUri: s3://models/legacy/2, modelVersion: "2"}
    rollout: {backend: iter8, canaryTrafficPercent: 10, slo: api}
  legacy-default-runtime:
    <<: *model
    registry: {name: LegacyDefault}
    rollout: {backend: iter8, canaryTrafficPercent: 10, slo: api}
slos:
  api: {errorRate: {max: 0.01}}
environments:
  canary: {namespace: canary}
  promoted:
    namespace: promoted
    overrides:
      models.runtime.rollout.phase: promoted
      models.analysis.rollout.phase: promoted
      models.legacy.rollout.phase: promoted
      models.legacy-default-runtime.rollout.phase: promoted
  rolled-back:
    namespace: rolled-back
    overrides:
      models.runtime.rollout.phase: rolledBack
      models.analysis.rollout.phase: rolledBack
      models.legacy.rollout.phase: rolledBack
      models.legacy-default-runtime.rollout.phase: rolledBack
deploy:
  argocd: {automated: {prune: true, selfHeal: true}}
"""

# model -> environment -> the fields its InferenceService's entry must ignore, beyond ALWAYS
EXPECTED = {
    "plain": {"canary": [RUNTIME], "promoted": [RUNTIME], "rolled-back": [RUNTIME]},
    "runtime": {"canary": [], "promoted": [], "rolled-back": []},
    "analysis": {"canary": [RUNTIME], "promoted": [RUNTIME], "rolled-back": [RUNTIME]},
    "legacy": {"canary": [SPLIT], "promoted": [], "rolled-back": []},
    "legacy-default-runtime": {"canary": [RUNTIME, SPLIT], "promoted": [RUNTIME], "rolled-back": [RUNTIME]},
}


def _lookup(document: dict, path: str):
    """The value at one of the jq paths mlspec writes (`.a.b`, `.a["key"]`), or None."""
    value = document
    for name, key in re.findall(r'\.([A-Za-z0-9_]+)|\["([^"]+)"\]', path):
        if not isinstance(value, dict):
            return None
        value = value.get(name or key)
    return value


def _applications(root: Path) -> list[tuple[Path, dict]]:
    return [(path, yaml.safe_load(path.read_text())) for path in sorted(root.glob("argocd/*/application.yaml"))]


def _check_agreement(root: Path, path: Path, application: dict) -> dict[str, list[str]]:
    """Each entry names one generated InferenceService of that environment and ignores nothing it
    sets (but Iter8's split while its Experiment runs); returns name -> ignored fields."""
    env = path.parent.name
    services = {}
    for file in (root / "k8s" / env).glob("inferenceservice-*.yaml"):
        service = yaml.safe_load(file.read_text())
        services[service["metadata"]["name"]] = service
    experiments = {yaml.safe_load(f.read_text())["spec"]["target"].split("/")[1]
                   for f in (root / "k8s" / env).glob("iter8-experiment-*.yaml")}
    found = {}
    for entry in application["spec"]["ignoreDifferences"]:
        assert (entry["group"], entry["kind"]) == ("serving.kserve.io", "InferenceService")
        assert entry["name"] in services, f"{path}: {entry['name']} is not generated in {env}"
        assert entry["namespace"] == application["spec"]["destination"]["namespace"]
        assert "jsonPointers" not in entry and "managedFieldsManagers" not in entry
        for field in entry["jqPathExpressions"]:
            if field == SPLIT:
                assert entry["name"] in experiments, f"{path}: the split of {entry['name']} is ignored without Iter8"
                continue
            assert _lookup(services[entry["name"]], field) is None, f"{path}: {field} of {entry['name']} is ignored"
        found[entry["name"]] = entry["jqPathExpressions"]
    assert sorted(found) == sorted(services), f"{path}: one entry per InferenceService"
    return found


def test_each_backend_and_runtime_case_ignores_exactly_what_controllers_write(tmp_path):
    spec = tmp_path / "lab.yaml"
    spec.write_text(SPEC)
    invoke_mlspec("compile", str(spec), "--out", str(tmp_path / "out"), cwd=tmp_path, check=True)
    root = tmp_path / "out/lab"
    applications = _applications(root)
    assert [p.parent.name for p, _ in applications] == ["canary", "promoted", "rolled-back"]
    for path, application in applications:
        found = _check_agreement(root, path, application)
        env = path.parent.name
        assert found == {f"lab-{model}": ALWAYS + extra[env] for model, extra in EXPECTED.items()}, env
        assert "RespectIgnoreDifferences=true" in application["spec"]["syncPolicy"]["syncOptions"]


@pytest.mark.parametrize("root", sorted({p.parents[2] for p in [*GENERATED.glob("*/argocd/*/application.yaml"),
                                                                 *GOLDEN.glob("*/expected/argocd/*/application.yaml")]}),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_committed_applications_agree_with_their_inference_services(root):
    applications = _applications(root)
    assert applications
    for path, application in applications:
        _check_agreement(root, path, application)
