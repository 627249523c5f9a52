"""Kargo (v1.11): env-to-env promotion of what `mlspec publish` writes, gated on each
environment's SLO analysis.

What moves between environments (the Freight) is a commit of the deployments repository:
the Warehouse subscribes to the branch `mlspec publish` pushes to, limited to the system's
folder (`includePaths`). Kargo v1.11.2 has only three subscription types that produce
Freight (git, image, chart: pkg/subscription/{git,image,chart}.go); its generic
`subscriptions` entries are parsed (api/v1alpha1/warehouse_types.go, UnmarshalJSON) but no
subscriber is registered for any (pkg/subscription/registry.go, DefaultSubscriberRegistry is
empty), so a model's storage URI cannot be Freight of its own. The commit carries it: each
environment's folder in it holds the InferenceService with the model version and storage URI
that `mlspec promote` set.

One Stage per environment, in the spec's order. The first requests Freight from the
Warehouse, each other from the Stage before it, so a commit reaches an environment only
after it passed verification in the one before (Kargo's docs, how-to-guides/60-verification).
A Stage promotes with Kargo's own steps (docs/50-user-guide/60-reference-docs/30-promotion-
steps): `git-clone` checks out the Freight's commit (`commitFrom(vars.repoURL).ID`) to ./src
and the Stage's branch (created empty the first time) to ./out, `git-clear` empties ./out,
`copy` puts the environment's folder of the commit there, `git-commit` and `git-push` publish
it on the Stage's branch, and `argocd-update` syncs the environment's Application (whose
`kargo.akuity.io/authorized-stage` annotation authorizes the Stage) to that commit. The Stage
is verified with the SLO AnalysisTemplates of the environment's models, which the rollout
target also writes into the Project's namespace (kargo/analysistemplate-<env>-<model>.yaml),
where Kargo looks for them ("AnalysisTemplates reside in the same project namespace as the
Stage from which they are referenced").
"""

from __future__ import annotations

from mlspec.ir.model import IREnvironment, IRModel, IRProject
from mlspec.targets import k8s
from mlspec.targets.base import Artifact, Target
from mlspec.targets.emit import dump_yaml
from mlspec.ir.layout import (deployment_path, deployment_root, kargo_project, kargo_stage_branch,
                                   kargo_verification_template, uses_kargo)

API_VERSION = "kargo.akuity.io/v1alpha1"
# Kargo's workspace paths of the two checkouts (relative to the promotion's work folder).
SOURCE, OUT = "./src", "./out"


class KargoTarget(Target):
    name = "kargo"
    description = "Kargo Project, Warehouse and one Stage per environment (env-to-env promotion)"
    kinds = ("Project", "Warehouse", "Stage")

    def generate(self, project: IRProject) -> list[Artifact]:
        if not uses_kargo(project):
            return []
        branches: dict[str, set[str]] = {}
        for env in project.environments:
            deployments = env.system.platform.deployments
            branches.setdefault(deployments.repo_url, set()).add(deployments.revision)
        for repo_url, found in branches.items():
            if len(found) > 1:  # `commitFrom(repoURL)` could not tell the commits apart
                self.unsupported(f"environments publish to {len(found)} branches of `{repo_url}`"
                                 f" ({', '.join(sorted(found))}): a Kargo Warehouse follows one branch per repository",
                                 project.base.spec_path, ("platform", "deployments", "revision"))
                return []
        artifacts = [self.artifact("kargo/project.yaml", dump_yaml(project_object(project))),
                     self.artifact("kargo/warehouse.yaml", dump_yaml(warehouse(project)))]
        previous = None
        for env in project.environments:
            if not k8s.deployed_models(env.system):
                self.warn(f"environment `{env.name}` serves no model yet (no `serving.storageUri`): it has no folder"
                          " in the deployments repository and no Argo CD Application, so its Stage's promotions fail"
                          " until a version is published", project.base.spec_path, ("environments", env.name))
            artifacts.append(self.artifact(f"kargo/stage-{env.name}.yaml", dump_yaml(stage(project, env, previous))))
            previous = env
        return artifacts


def verified_models(env: IREnvironment) -> list[IRModel]:
    """The models whose SLO analysis verifies the environment's Stage (E504 refuses a served
    model without one)."""
    return [m for m in k8s.deployed_models(env.system)
            if m.rollout is not None and m.rollout.backend == "kserve-analysis"]


def _labels(project: IRProject) -> dict[str, str]:
    system = project.base
    found = dict(sorted(system.metadata.labels.items()))
    found.update({"app.kubernetes.io/part-of": system.name, **k8s.MANAGED_BY})
    return dict(sorted(found.items()))


def project_object(project: IRProject) -> dict:
    # A v1.11 Project has no spec: its promotion policies live in a ProjectConfig.
    return {"apiVersion": API_VERSION, "kind": "Project",
            "metadata": {"name": kargo_project(project), "labels": _labels(project)}}


def _repositories(project: IRProject) -> dict[str, str]:
    """repoURL -> the branch `mlspec publish` pushes to, in environment order."""
    found: dict[str, str] = {}
    for env in project.environments:
        deployments = env.system.platform.deployments
        found.setdefault(deployments.repo_url, deployments.revision)
    return found


def warehouse(project: IRProject) -> dict:
    subscriptions = []
    for repo_url, branch in _repositories(project).items():
        roots = sorted({deployment_root(project, env) for env in project.environments
                        if env.system.platform.deployments.repo_url == repo_url})
        subscriptions.append({"git": {
            "repoURL": repo_url,
            "branch": branch,
            "commitSelectionStrategy": "NewestFromBranch",
            # Only commits that change this system's folders make Freight (the repository is shared).
            "includePaths": roots,
        }})
    return {
        "apiVersion": API_VERSION,
        "kind": "Warehouse",
        "metadata": {"name": kargo_project(project), "namespace": kargo_project(project),
                     "labels": _labels(project)},
        "spec": {"interval": "5m0s", "freightCreationPolicy": "Automatic", "subscriptions": subscriptions},
    }


def promotion_steps(project: IRProject, env: IREnvironment) -> list[dict]:
    """Kargo's steps that make the Freight's commit of the environment's folder live on the
    Stage's branch, then sync the environment's Argo CD Application to it."""
    argocd = env.system.deploy.argocd
    return [
        {"uses": "git-clone", "config": {
            "repoURL": "${{ vars.repoURL }}",
            "checkout": [
                {"commit": "${{ commitFrom(vars.repoURL).ID }}", "path": SOURCE},
                {"branch": "${{ vars.branch }}", "create": True, "path": OUT},
            ]}},
        # The Stage's branch holds only this folder: empty it, so files the commit no longer has go too.
        {"uses": "git-clear", "config": {"path": OUT}},
        {"uses": "copy", "config": {"inPath": f"{SOURCE}/${{{{ vars.folder }}}}",
                                    "outPath": f"{OUT}/${{{{ vars.folder }}}}"}},
        {"uses": "git-commit", "as": "commit", "config": {
            "path": OUT,
            "message": "Promote ${{ vars.folder }} to ${{ ctx.stage }} from ${{ commitFrom(vars.repoURL).ID }}"}},
        {"uses": "git-push", "as": "push", "config": {"path": OUT}},
        {"uses": "argocd-update", "config": {"apps": [{
            "name": f"{project.base.name}-{env.name}",
            "namespace": argocd.namespace,
            "sources": [{"repoURL": "${{ vars.repoURL }}", "desiredRevision": "${{ outputs.push.commit }}"}],
        }]}},
    ]


def stage(project: IRProject, env: IREnvironment, previous: IREnvironment | None) -> dict:
    deployments = env.system.platform.deployments
    sources = {"direct": True} if previous is None else {"stages": [previous.name]}
    spec: dict = {
        "requestedFreight": [{"origin": {"kind": "Warehouse", "name": kargo_project(project)}, "sources": sources}],
        "vars": [
            {"name": "repoURL", "value": deployments.repo_url},
            {"name": "folder", "value": deployment_path(project, env)},
            {"name": "branch", "value": kargo_stage_branch(project, env)},
        ],
        "promotionTemplate": {"spec": {"steps": promotion_steps(project, env)}},
    }
    templates = [{"name": kargo_verification_template(env, model)} for model in verified_models(env)]
    if templates:
        spec["verification"] = {"analysisTemplates": templates}
    return {
        "apiVersion": API_VERSION,
        "kind": "Stage",
        "metadata": {"name": env.name, "namespace": kargo_project(project),
                     "labels": dict(sorted({**_labels(project), "mlspec.dev/environment": env.name}.items()))},
        "spec": spec,
    }
