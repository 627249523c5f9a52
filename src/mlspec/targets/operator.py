"""mlspec in the cluster: the MLflow webhook and the canary decision jobs, per environment.

Written under `k8s/<env>/` beside the InferenceServices and the analysis objects (so they
are listed in the environment's kustomization, published with it and synced by the same Argo
CD Application into the environment's namespace), because that is where they act: the
decision job reads the AnalysisRuns / Iter8 Experiments of that namespace, and its Role is
bound to exactly that namespace; the webhook promotes in that environment. A separate
platform folder would need its own Application, and a cluster-wide Role to read analyses in
every model namespace. The price: the webhook's HMAC secret and the git credentials are
Secrets each environment's namespace must hold (referenced, never written here).

- `<system>-mlspec-webhook.yaml`: Deployment (`mlspec webhook serve` on a clone of the spec
  repository), Service, and a NetworkPolicy that lets only MLflow's namespace reach it.
- `<system>-mlspec-decide-rbac.yaml`: ServiceAccount, Role (get/list/watch on the analysis
  kinds the environment's canaries use, nothing else), RoleBinding.
- `<model>-decide.yaml` per model with a rollout: a CronJob, suspended unless the model is in
  canary (so a promotion or rollback flips one field rather than adding and removing objects),
  whose steps are init containers run in order, each a plain command (no shell): clone the
  spec repository, `mlspec rollout decide --commit --push-spec` (commit and push the decision,
  rebased and retried when the spec repository moved), then `mlspec publish` to the
  deployments repository. The spec commit is pushed before anything is
  published, so a failed step publishes nothing and the next run starts again from the spec
  repository.

The image is `deploy.operator.image` (built from the repository's Dockerfile), pinned by digest
(a tag alone is refused, E313), so `IfNotPresent` pulls exactly that content once per node.
"""

from __future__ import annotations

import hashlib

from mlspec.ir.model import IREnvironment, IRModel, IROperator, IRProject
from mlspec.targets import k8s
from mlspec.targets.base import Artifact, Target
from mlspec.targets.emit import dump_yaml_all
from mlspec.ir.layout import k8s_dir

WEBHOOK_PORT = 8765
WORK = "/work"  # an emptyDir: the clones and the compiled output
SPEC_CLONE = f"{WORK}/spec"
GIT_CREDENTIALS = "/etc/mlspec/git"
USER_ID = 10001  # the Dockerfile's user
CRONJOB_NAME_MAX = 52  # a CronJob's Jobs append 11 characters to its name
ANALYSIS_RULES = {
    "kserve-analysis": {"apiGroups": ["argoproj.io"], "resources": ["analysisruns"]},
    "iter8": {"apiGroups": ["iter8.tools"], "resources": ["experiments"]},
}


class OperatorTarget(Target):
    name = "mlspec_operator"
    description = "mlspec in the cluster: MLflow webhook Deployment and canary decision CronJobs, per environment"
    kinds = ("Deployment", "Service", "NetworkPolicy", "CronJob", "ServiceAccount", "Role", "RoleBinding")

    def generate(self, project: IRProject) -> list[Artifact]:
        artifacts = []
        for env in project.environments:
            system = env.system
            operator = system.deploy.operator if system.deploy else None
            if operator is None or system.platform.deployments is None:
                continue
            folder = k8s_dir(env)

            def add(file: str, documents: list[dict]) -> None:
                artifacts.append(self.artifact(f"{folder}/{file}", dump_yaml_all(documents), deployable=True,
                                               environment=env.name))

            add(f"{system.name}-mlspec-webhook.yaml", webhook_documents(env, operator))
            rollouts = [m for m in k8s.deployed_models(system) if m.rollout is not None]
            if rollouts:
                add(f"{system.name}-mlspec-decide-rbac.yaml", decide_rbac_documents(env, rollouts))
                for model in rollouts:
                    add(f"{model.k8s_name}-decide.yaml", [decide_cronjob(env, operator, model)])
        return artifacts


# --- what both share ---------------------------------------------------------------------------


def _metadata(env: IREnvironment, name: str, component: str) -> dict:
    meta = k8s.metadata(name, env.namespace, env.system, env)
    meta["labels"] = dict(sorted({**meta["labels"], "app.kubernetes.io/component": component,
                                  "app.kubernetes.io/name": name}.items()))
    return meta


def _selector(name: str) -> dict:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "mlspec"}


def _git_env() -> list[dict]:
    """git reads the credentials Secret's `.git-credentials` (a `store` helper file); nothing is
    written to a git config file (the root file system is read-only)."""
    return [{"name": "GIT_CONFIG_COUNT", "value": "1"},
            {"name": "GIT_CONFIG_KEY_0", "value": "credential.helper"},
            {"name": "GIT_CONFIG_VALUE_0", "value": f"store --file={GIT_CREDENTIALS}/.git-credentials"},
            {"name": "HOME", "value": WORK},
            {"name": "MLSPEC_CACHE_DIR", "value": f"{WORK}/cache"}]


def _container(name: str, operator: IROperator, args: list[str], workdir: str = SPEC_CLONE, command=None,
               extra_env: list[dict] | None = None) -> dict:
    container = {"name": name, "image": operator.image, "imagePullPolicy": "IfNotPresent"}
    if command:
        container["command"] = command
    container.update({
        "args": args,
        "workingDir": workdir,
        "env": _git_env() + (extra_env or []),
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "work", "mountPath": WORK}, {"name": "tmp", "mountPath": "/tmp"},
                         {"name": "git-credentials", "mountPath": GIT_CREDENTIALS, "readOnly": True}],
    })
    return container


def _clone(operator: IROperator) -> dict:
    return _container("clone-specs", operator, ["clone", "--quiet", "--branch", operator.spec_revision,
                                                "--single-branch", operator.spec_repo_url, SPEC_CLONE],
                      workdir=WORK, command=["git"])


def _pod_spec(operator: IROperator, init: list[dict], main: dict, **extra) -> dict:
    return {
        **extra,
        "securityContext": {"runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID, "fsGroup": USER_ID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": init,
        "containers": [main],
        "volumes": [{"name": "work", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}},
                    {"name": "git-credentials", "secret": {"secretName": operator.git_credentials_secret,
                                                           "defaultMode": 0o440}}],
    }


def _publish_args(env: IREnvironment) -> list[str]:
    deployments = env.system.platform.deployments
    return ["--repo", deployments.repo_url, "--branch", deployments.revision]


# --- the webhook ---------------------------------------------------------------------------------


def webhook_name(env: IREnvironment) -> str:
    return f"{env.system.name}-mlspec-webhook"


def webhook_documents(env: IREnvironment, operator: IROperator) -> list[dict]:
    name = webhook_name(env)
    serve = _container("webhook", operator, [
        "webhook", "serve", env.system.spec_path, "--env", env.name, *_publish_args(env),
        "--host", "0.0.0.0", "--port", str(WEBHOOK_PORT)],
        extra_env=[{"name": "MLSPEC_WEBHOOK_SECRET",
                    "valueFrom": {"secretKeyRef": {"name": operator.webhook_secret, "key": "secret"}}}])
    serve["ports"] = [{"name": "http", "containerPort": WEBHOOK_PORT, "protocol": "TCP"}]
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}
    serve["readinessProbe"] = probe
    serve["livenessProbe"] = {**probe, "initialDelaySeconds": 10}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _metadata(env, name, "webhook"),
        "spec": {
            "replicas": 1,  # one receiver: promotions of one environment are serialized in it
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": _selector(name)},
            "template": {
                "metadata": {"labels": _selector(name)},
                "spec": _pod_spec(operator, [_clone(operator)], serve, automountServiceAccountToken=False),
            },
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _metadata(env, name, "webhook"),
        "spec": {"selector": _selector(name),
                 "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]},
    }
    policy = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": _metadata(env, name, "webhook"),
        "spec": {
            "podSelector": {"matchLabels": _selector(name)},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": operator.mlflow_namespace}}}],
                "ports": [{"protocol": "TCP", "port": WEBHOOK_PORT}],
            }],
        },
    }
    return [deployment, service, policy]


# --- the decision jobs -----------------------------------------------------------------------------


def decide_account(env: IREnvironment) -> str:
    return f"{env.system.name}-mlspec-decide"


def decide_rbac_documents(env: IREnvironment, models: list[IRModel]) -> list[dict]:
    name = decide_account(env)
    backends = sorted({m.rollout.backend for m in models})
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(env, name, "decide")}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": _metadata(env, name, "decide"),
        # Read the analyses of this namespace, nothing else: decisions are spec commits, not cluster writes.
        "rules": [{**ANALYSIS_RULES[backend], "verbs": ["get", "list", "watch"]} for backend in backends],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": _metadata(env, name, "decide"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": env.namespace}],
    }
    return [account, role, binding]


def decide_cronjob_name(model: IRModel) -> str:
    name = f"{model.inference_service}-decide"
    if len(name) <= CRONJOB_NAME_MAX:
        return name
    digest = hashlib.sha256(model.inference_service.encode()).hexdigest()[:6]
    return f"{model.inference_service[:CRONJOB_NAME_MAX - 14].rstrip('-')}-{digest}-decide"


def decide_cronjob(env: IREnvironment, operator: IROperator, model: IRModel) -> dict:
    spec_path = env.system.spec_path
    steps = [
        _clone(operator),
        # The spec commit goes to the spec repository before anything is published; a push that
        # loses a race is rebased on what landed meanwhile and retried (never forced).
        _container("decide", operator, ["rollout", "decide", model.name, "--env", env.name, "--spec", spec_path,
                                        "--commit", "--push-spec"]),
    ]
    publish = _container("publish", operator, ["publish", spec_path, *_publish_args(env)])
    name = decide_cronjob_name(model)
    return {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": _metadata(env, name, "decide"),
        "spec": {
            "schedule": operator.decide_schedule,
            "suspend": model.rollout.phase != "canary",  # nothing to decide once promoted or rolled back
            "concurrencyPolicy": "Forbid",  # one decision at a time per canary
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {
                "backoffLimit": 0,  # the next scheduled run is the retry, from a fresh clone
                "activeDeadlineSeconds": 900,
                "template": {
                    "metadata": {"labels": _selector(name)},
                    "spec": _pod_spec(operator, steps, publish, serviceAccountName=decide_account(env),
                                      restartPolicy="Never"),
                },
            }},
        },
    }
