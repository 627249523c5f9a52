"""The kargo target: one Stage per environment in the spec's order, each fed by the one before
and verified by that environment's SLO analysis; Argo CD Applications authorize their Stage and
watch its branch; every object validates against Kargo v1.11's schemas."""

from __future__ import annotations

from pathlib import Path

import yaml

from conftest import SPECS
from support.crds import kargo_subscription_errors, schema_errors
from support.kargo_steps import with_staging

TARGETS = ["kserve", "rollout", "argocd", "kargo"]


def _compile(spec_text: str, tmp_path: Path) -> dict[str, dict]:
    from mlspec.compiler.compile import compile_spec

    tmp_path.mkdir(parents=True, exist_ok=True)
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text)
    result = compile_spec(spec, tmp_path / "generated", targets=TARGETS)
    assert result.ok, [d.message for d in result.diagnostics]
    return {path: yaml.safe_load(text) for path, text in result.files.items() if path.endswith(".yaml")}


def _churn(tmp_path: Path, edit=lambda text: text) -> dict[str, dict]:
    """customer-churn with dev, staging and prod."""
    return _compile(edit(with_staging((SPECS / "customer-churn.yaml").read_text())), tmp_path)


def test_stages_follow_the_environments_order_each_fed_by_the_one_before(tmp_path):
    files = _churn(tmp_path)
    stages = [files[f"kargo/stage-{env}.yaml"] for env in ("dev", "staging", "prod")]
    sources = [s["spec"]["requestedFreight"][0]["sources"] for s in stages]
    assert sources == [{"direct": True}, {"stages": ["dev"]}, {"stages": ["staging"]}]
    assert {s["spec"]["requestedFreight"][0]["origin"]["name"] for s in stages} == {"customer-churn"}
    assert files["kargo/warehouse.yaml"]["spec"]["subscriptions"] == [{"git": {
        "repoURL": "https://github.com/myorg/ml-deployments", "branch": "main",
        "commitSelectionStrategy": "NewestFromBranch", "includePaths": ["deployments/customer-churn"]}}]
    assert [step["uses"] for step in stages[0]["spec"]["promotionTemplate"]["spec"]["steps"]] == [
        "git-clone", "git-clear", "copy", "git-commit", "git-push", "argocd-update"]


def test_each_stage_is_verified_by_its_environments_slo_analysis(tmp_path):
    files = _churn(tmp_path)
    for env in ("dev", "staging", "prod"):
        stage = files[f"kargo/stage-{env}.yaml"]
        [reference] = stage["spec"]["verification"]["analysisTemplates"]
        template = files[f"kargo/analysistemplate-{env}-churn.yaml"]
        assert template["metadata"]["name"] == reference["name"]
        # In the Project's namespace (where Kargo looks for it), measuring the environment's namespace.
        assert template["metadata"]["namespace"] == stage["metadata"]["namespace"] == "customer-churn"
        assert template["spec"] == files[f"k8s/{env}/analysistemplate-churn.yaml"]["spec"]
        namespace = files[f"k8s/{env}/inferenceservice-churn.yaml"]["metadata"]["namespace"]
        assert all(f'namespace_name="{namespace}"' in m["provider"]["prometheus"]["query"]
                   for m in template["spec"]["metrics"])


def test_applications_authorize_their_stage_and_watch_its_branch(tmp_path):
    files = _churn(tmp_path)
    for env in ("dev", "staging", "prod"):
        app = files[f"argocd/{env}/application.yaml"]
        stage = files[f"kargo/stage-{env}.yaml"]
        variables = {v["name"]: v["value"] for v in stage["spec"]["vars"]}
        assert app["metadata"]["annotations"] == {"kargo.akuity.io/authorized-stage": f"customer-churn:{env}"}
        assert app["spec"]["source"]["targetRevision"] == variables["branch"] == f"stage/customer-churn/{env}"
        assert app["spec"]["source"]["path"] == variables["folder"]
        [update] = stage["spec"]["promotionTemplate"]["spec"]["steps"][-1]["config"]["apps"]
        assert (update["namespace"], update["name"]) == (app["metadata"]["namespace"], app["metadata"]["name"])


def test_every_kargo_object_validates_against_the_v1_11_schemas(tmp_path, vendor_dir):
    files = _churn(tmp_path)
    kargo = {path: doc for path, doc in files.items() if path.startswith("kargo/")}
    assert {doc["kind"] for doc in kargo.values()} == {"Project", "Warehouse", "Stage", "AnalysisTemplate"}
    for path, document in kargo.items():
        assert not schema_errors(vendor_dir / "crds", document), (path, schema_errors(vendor_dir / "crds", document))
    assert not kargo_subscription_errors(kargo["kargo/warehouse.yaml"])


def test_the_subscription_schema_catches_what_kargo_refuses(tmp_path):
    warehouse = _churn(tmp_path)["kargo/warehouse.yaml"]
    warehouse["spec"]["subscriptions"][0]["git"]["repoURL"] = "file:///srv/deployments"
    warehouse["spec"]["subscriptions"].append({"git": {"repoURL": "https://x.example/r"}, "image": {}})
    assert len(kargo_subscription_errors(warehouse)) == 2


def test_promotion_set_under_every_environment_is_the_same_as_set_once(tmp_path):
    once = _churn(tmp_path / "once")

    def per_environment(text: str) -> str:
        text = text.replace("  promotion: kargo\n", "")
        assert text.count("    overrides:\n") == 1  # dev's
        text = text.replace("    overrides:\n", "    overrides:\n      deploy.promotion: kargo\n")
        for env in ("staging", "prod"):
            text = text.replace(f"  {env}:\n    namespace:", f"  {env}:\n    overrides: {{deploy.promotion: kargo}}\n"
                                                           f"    namespace:")
        return text

    assert _churn(tmp_path / "each", per_environment) == once


def test_direct_promotion_writes_no_kargo_objects_and_plain_applications(tmp_path):
    files = _churn(tmp_path, lambda text: text.replace("  promotion: kargo\n", ""))
    assert not [path for path in files if path.startswith("kargo/")]
    app = files["argocd/prod/application.yaml"]
    assert "annotations" not in app["metadata"] and app["spec"]["source"]["targetRevision"] == "main"


def test_an_environment_serving_nothing_yet_is_said(tmp_path):
    from mlspec.compiler.compile import compile_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text(with_staging((SPECS / "customer-churn.yaml").read_text()).replace(
        "      storageUri: s3://mlflow-artifacts/1/abc123/artifacts/model\n", ""))
    result = compile_spec(spec, tmp_path / "generated", targets=TARGETS)
    assert result.ok
    warnings = [d.message for d in result.diagnostics if d.code == "W701" and d.message.startswith("kargo:")]
    assert [w.split("`")[1] for w in warnings] == ["dev", "staging", "prod"]
    assert "kargo/stage-prod.yaml" in result.files and "argocd/prod/application.yaml" not in result.files
