"""Argo CD: an `Application` per environment, pointing at that environment's folder in the
deployments repository. The folder's `kustomization.yaml` is written by the pass in
`kustomize`, attributed to this target, once every target has written its objects.

Argo CD facts built in: `prune`/`selfHeal` live under `syncPolicy.automated`, sync options
are exact strings, the destination has exactly one of `server` or `name`, and without the
resources finalizer deleting an Application would leave its InferenceServices running.
"""

from __future__ import annotations

from mlspec.ir.model import IREnvironment, IRProject
from mlspec.targets import k8s
from mlspec.targets.base import Artifact, Target
from mlspec.targets.emit import dump_yaml
from mlspec.targets.naming import deployment_path

FINALIZER = "resources-finalizer.argocd.argoproj.io"
# Fields KServe's controller and webhooks fill in on the live InferenceService; without
# these, Argo CD would show every InferenceService as OutOfSync forever.
KSERVE_MUTATED_FIELDS = [
    ".spec.predictor.model.runtime",
    '.metadata.annotations["serving.kserve.io/outputStorageUri"]',
    ".spec.predictor.model.storage",
]


class ArgoCdTarget(Target):
    name = "argocd"
    description = "Argo CD Application and kustomization per environment"
    kinds = ("Application", "Kustomization")

    def generate(self, project: IRProject) -> list[Artifact]:
        artifacts = []
        for env in project.environments:
            if not k8s.deployed_models(env.system):
                continue  # nothing deployed: no folder to sync
            argocd = env.system.deploy.argocd if env.system.deploy else None
            if argocd is None or env.system.platform.deployments is None:
                continue
            artifacts.append(self.artifact(
                f"argocd/{env.name}/application.yaml", dump_yaml(application(project, env)), environment=env.name))
        return artifacts


def application(project: IRProject, env: IREnvironment) -> dict:
    system = env.system
    argocd = system.deploy.argocd
    deployments = system.platform.deployments
    sync_policy: dict = {}
    if argocd.automated is not None:
        sync_policy["automated"] = {"prune": argocd.automated.prune, "selfHeal": argocd.automated.self_heal}
    sync_policy["syncOptions"] = ["CreateNamespace=true", "RespectIgnoreDifferences=true"]
    # Argo CD shows `info` on the Application's page: what the system is and who owns it.
    info = [{"name": name, "value": value} for name, value in (
        ("Description", system.metadata.description), ("Owner", system.metadata.owner)) if value]
    application = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": f"{system.name}-{env.name}",
            "namespace": argocd.namespace,
            "labels": k8s.labels(system, env),
            "finalizers": [FINALIZER],
        },
        "spec": {
            "project": argocd.project,
            "source": {"repoURL": deployments.repo_url, "targetRevision": deployments.revision,
                       "path": deployment_path(project, env)},
            "destination": env.destination,
            "syncPolicy": sync_policy,
            "ignoreDifferences": [{
                "group": "serving.kserve.io",
                "kind": "InferenceService",
                "jqPathExpressions": KSERVE_MUTATED_FIELDS,
            }],
        },
    }
    if info:
        application["spec"]["info"] = info
    return application
