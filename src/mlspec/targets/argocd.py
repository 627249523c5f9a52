"""Argo CD: an `Application` per environment, pointing at that environment's folder in the
deployments repository. The folder's `kustomization.yaml` is written by the pass in
`kustomize`, attributed to this target, once every target has written its objects.

Argo CD facts built in: `prune`/`selfHeal` live under `syncPolicy.automated`, sync options
are exact strings, the destination has exactly one of `server` or `name`, and without the
resources finalizer deleting an Application would leave its InferenceServices running.
"""

from __future__ import annotations

from mlspec.ir.model import IREnvironment, IRModel, IRProject
from mlspec.targets import k8s
from mlspec.targets.base import Artifact, Target
from mlspec.targets.emit import dump_yaml
from mlspec.ir.layout import (KARGO_AUTHORIZED_STAGE, deployment_path, kargo_authorized_stage,
                                   kargo_stage_branch, uses_kargo)

FINALIZER = "resources-finalizer.argocd.argoproj.io"
# Fields of a live InferenceService that KServe's controller and webhooks fill in and that
# mlspec never writes; without ignoring them Argo CD would show it OutOfSync forever.
KSERVE_MUTATED_FIELDS = (
    '.metadata.annotations["serving.kserve.io/outputStorageUri"]',
    ".spec.predictor.model.storage",
)
# KServe's controller writes the ServingRuntime it chose into the spec, but only when the
# spec names none: a runtime the spec sets is mlspec's, and must be applied when it changes
# (with RespectIgnoreDifferences an ignored field keeps its live value on every sync).
KSERVE_CHOSEN_RUNTIME = ".spec.predictor.model.runtime"
# Iter8's controller moves the traffic split while its Experiment runs (the Experiment's
# weightObjRef); with selfHeal, Argo CD would put the committed share back after each step.
ITER8_TRAFFIC_SPLIT = ".spec.predictor.canaryTrafficPercent"


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
    metadata = {
        "name": f"{system.name}-{env.name}",
        "namespace": argocd.namespace,
        "labels": k8s.labels(system, env),
        "finalizers": [FINALIZER],
    }
    revision = deployments.revision
    if uses_kargo(project):
        # The environment's Kargo Stage puts what it promoted on a branch of its own and syncs this
        # Application (argocd-update), which it may do only with this annotation.
        metadata["annotations"] = {KARGO_AUTHORIZED_STAGE: kargo_authorized_stage(project, env)}
        revision = kargo_stage_branch(project, env)
    application = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": {
            "project": argocd.project,
            "source": {"repoURL": deployments.repo_url, "targetRevision": revision,
                       "path": deployment_path(project, env)},
            "destination": env.destination,
            "syncPolicy": sync_policy,
            "ignoreDifferences": ignore_differences(env),
        },
    }
    if info:
        application["spec"]["info"] = info
    return application


def controller_owned_fields(model: IRModel) -> list[str]:
    """The fields of the model's live InferenceService that an in-cluster controller or
    KServe's defaulting writes, for its serving settings and rollout backend; never one the
    generated InferenceService sets (tests/test_argocd_ignore.py checks both ways)."""
    fields = list(KSERVE_MUTATED_FIELDS)
    if not model.serving.runtime:
        fields.append(KSERVE_CHOSEN_RUNTIME)
    # Only while the Experiment runs: in the other phases mlspec sets the split (0 after a
    # rollback, none once promoted) and Argo CD must apply it. The generated InferenceService
    # still carries the canary's starting share, for the object's creation; on an existing
    # object RespectIgnoreDifferences keeps the live value (argo-cd controller/sync.go,
    # normalizeTargetResources), which is what Iter8 wrote.
    if model.rollout is not None and model.rollout.backend == "iter8" and model.rollout.phase == "canary":
        fields.append(ITER8_TRAFFIC_SPLIT)
    return fields


def ignore_differences(env: IREnvironment) -> list[dict]:
    """One entry per InferenceService, named, with exactly the fields controllers own for it."""
    return [{"group": "serving.kserve.io", "kind": "InferenceService", "name": model.inference_service,
             "namespace": env.namespace, "jqPathExpressions": controller_owned_fields(model)}
            for model in k8s.deployed_models(env.system)]
