"""Each environment's `kustomization.yaml`: a pass over what the targets deploy there.

It runs after the targets, over their artifacts, so it lists exactly the deployable files
written under `k8s/<env>/`, by whichever target (a plugin's objects too), and no target has
to know another's file names. It belongs to the argocd target: written when that target is
selected, and attributed to it in manifest.json.
"""

from __future__ import annotations

from typing import Iterable

from mlspec.ir.model import IREnvironment, IRProject
from mlspec.targets.base import Artifact
from mlspec.targets.emit import dump_yaml
from mlspec.ir.layout import KUSTOMIZATION_FILE, k8s_dir

OWNER = "argocd"
RESOURCE_SUFFIXES = (".yaml", ".yml", ".json")  # what kustomize reads as resources


def kustomizations(project: IRProject, artifacts: Iterable[Artifact]) -> list[Artifact]:
    """One kustomization per environment with deployable files in its folder."""
    artifacts = list(artifacts)
    found = []
    for env in project.environments:
        folder = k8s_dir(env) + "/"
        resources = sorted(
            a.path[len(folder):] for a in artifacts
            if a.deployable and a.path.startswith(folder) and a.path.endswith(RESOURCE_SUFFIXES)
            and a.path != folder + KUSTOMIZATION_FILE)
        if resources:
            found.append(Artifact(folder + KUSTOMIZATION_FILE, dump_yaml(kustomization(env, resources)), OWNER,
                                  deployable=True, environment=env.name))
    return found


def kustomization(env: IREnvironment, resources: list[str]) -> dict:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": env.namespace,
        "resources": resources,
    }


def package_environments(project: IRProject, artifacts: list[Artifact], selected: Iterable[str],
                         environments: frozenset[str] | None = None) -> list[Artifact]:
    """The compile driver's pass after the selected targets have generated: the
    kustomizations, when the argocd target is selected (of the `environments` selected, if any).

    With a partial `--target` selection, the files of the targets left out stay on disk as
    they are, so the kustomization still lists them: the targets that write Kubernetes objects
    (those declaring `kinds`) are asked what they would write, and only that is kept."""
    selected = list(selected)
    if OWNER not in selected:
        return []
    found = kustomizations(project, [*artifacts, *_unselected_deployables(project, selected)])
    return [a for a in found if environments is None or a.environment in environments]


def _unselected_deployables(project: IRProject, selected: list[str]) -> list[Artifact]:
    from mlspec.targets.registry import available_targets, load_target

    found = []
    for name in available_targets():
        if name in selected:
            continue
        target = load_target(name)
        if target.kinds:
            found += [a for a in target().generate(project) if a.deployable]
    return found
