"""What a compile puts in the GitOps deployments repository, and how its folders are read.

Each environment's Kubernetes manifests (artifacts marked `deployable`, `k8s/<env>/...`) go to
`<platform.deployments.path>/<system>/<env>/` (ir.layout.deployment_path), and a system owns
the folders `<platform.deployments.path>/<system>`. `mlspec publish` (gitops/publish.py) writes
these plans and `mlspec diff --repo` (review/diff.py) compares them with what the repository
holds, so both read them from here, below the two: the siblings never import each other
(ARCHITECTURE.md's stage order).

The deployments repository and the folder names in a spec are not trusted: every folder
owned must be a plain relative path (`check_owned_path`), and nothing is read or written
through a symbolic link (`check_no_link_on_the_way`).
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.errors import ExternalError, UsageError
from mlspec.textsafe import printable


class PublishError(ExternalError):
    """The deployments repository is not in a state to publish to (uncommitted changes, no
    remote, a conflict): the user must fix it."""


@dataclass
class SystemPlan:
    """What one system contributes to the deployments repository."""

    system: str
    spec_path: str  # as recorded in generated files
    spec_sha256: str
    files: dict[str, str] = field(default_factory=dict)  # repository path -> content
    targets: dict[str, str] = field(default_factory=dict)  # repository path -> producing target
    environments: dict[str, str] = field(default_factory=dict)  # repository path -> environment
    roots: tuple[str, ...] = ()  # folders this system owns: `<deployments.path>/<system>`
    revision: str | None = None  # the branch Argo CD tracks (platform.deployments.revision)


# --- planning -------------------------------------------------------------------------------


def plan_system(result) -> SystemPlan:
    """Map a successful CompileResult's deployable artifacts to deployment-repo paths."""
    from mlspec.ir.layout import deployment_path, deployment_root, k8s_dir

    project = result.project
    manifest = json.loads(result.files["manifest.json"])
    by_env = {env.name: env for env in project.environments}
    plan = SystemPlan(result.system, manifest["spec"]["path"], manifest["spec"]["sha256"])
    deployments = project.base.platform.deployments
    plan.revision = deployments.revision if deployments is not None else None
    roots = set()
    for env in project.environments:
        roots.add(deployment_root(project, env))
    for artifact in result.artifacts:
        if not artifact.deployable or artifact.environment not in by_env:
            continue
        env = by_env[artifact.environment]
        prefix = k8s_dir(env) + "/"
        relative = artifact.path[len(prefix):] if artifact.path.startswith(prefix) else artifact.path
        dest = f"{deployment_path(project, env)}/{relative}"
        plan.files[dest] = result.files[artifact.path]
        plan.targets[dest] = artifact.target
        plan.environments[dest] = env.name
    if not roots:
        roots.add(deployment_root(project))
    plan.roots = tuple(sorted(roots))
    return plan


def plans_from_results(results) -> list[SystemPlan]:
    return [plan_system(r) for r in results]


def compile_plans(files: list[Path], out_root: Path):
    """Compile each spec (without the result cache: publishing needs the IR); returns
    (plans, results), plans None unless every spec compiled."""
    from mlspec.compiler.run import compile_files

    results = compile_files(files, out_root, use_cache=False).results
    if not all(r.ok for r in results):
        return None, results
    return plans_from_results(results), results


# --- checking and reading the owned folders --------------------------------------------------

# One segment of a folder or file publish writes: what Kubernetes names, env names and file
# names are made of. No leading `.` (so never `.git`, `.`, `..`) or `-` (never an option).
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
MAX_FILE_BYTES = 64 * 1024 * 1024  # a file of the deployments repo larger than this is not ours: not read


def check_owned_path(path: str, what: str = "folder") -> str:
    """`path` if it is a plain relative path inside the repository (segments of letters,
    digits, `.`, `_` and `-`, none starting with `.` or `-`), else a UsageError. The spec
    validates `platform.deployments.path` too; publish defends itself all the same."""
    segments = path.split("/")
    if not path or not all(_PLAIN_SEGMENT.fullmatch(segment) for segment in segments):
        raise UsageError(f"cannot publish to the {what} `{printable(path)}`: it is not a plain relative path inside"
                         " the deployments repository (letters, digits, `.`, `_` and `-` in each segment; no `.git`,"
                         " `..`, empty segment, or segment starting with `.` or `-`)")
    return path


def check_plans(plans: list[SystemPlan]) -> None:
    """Every folder a plan owns and every file it writes is a plain path, and each file lies
    inside one of its plan's folders."""
    for plan in plans:
        if not plan.roots:
            raise UsageError(f"system `{printable(plan.system)}` owns no folder of the deployments repository")
        for root in plan.roots:
            check_owned_path(root)
        for path in plan.files:
            check_owned_path(path, "file")
            if not any(path.startswith(root + "/") for root in plan.roots):
                raise UsageError(f"`{printable(path)}` lies outside the folders system `{printable(plan.system)}`"
                                 " owns")


def check_no_link_on_the_way(root: Path, relative: str) -> None:
    """No folder on the way from the repository's root to `relative` (itself included, when
    it is a folder) is a symbolic link or something other than a folder: publish writes
    and deletes only inside the repository."""
    current = root
    for segment in relative.split("/"):
        current = current / segment
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISLNK(mode):
            raise PublishError(f"{printable(current.relative_to(root).as_posix())} is a symbolic link in the deployments"
                               " repository; publish does not write through links (replace it by a folder, or"
                               " remove it, and commit)")
        if not stat.S_ISDIR(mode):
            raise PublishError(f"{printable(current.relative_to(root).as_posix())} is a file in the deployments"
                               " repository where publish needs a folder; remove it and commit")


def owned_files(root: Path, owned: str) -> list[str]:
    """Every entry under the owned folder that is not a folder (regular files, links, others),
    as repository paths; nothing is followed."""
    found = []
    base = root / owned
    if not base.is_dir() or base.is_symlink():
        return found
    for folder, dirs, names in os.walk(base):  # never descends into a linked folder
        for name in dirs + names:
            path = Path(folder) / name
            if name in dirs and not path.is_symlink():
                continue
            found.append(path.relative_to(root).as_posix())
    return found


def read_owned(root: Path, owned: str) -> dict[str, str]:
    """The files under an owned folder, path -> text (for `diff --repo`): a link, a FIFO or
    an oversized file is shown as a Foreign entry, unread; a linked owned folder is one."""
    from mlspec.compiler.writer import Foreign, read_tree

    try:
        check_no_link_on_the_way(root, owned)
    except PublishError:
        return {owned: Foreign("symbolic link (or file) on the way to this folder")}
    tree = read_tree(root / owned)
    return {(owned if relative == "." else f"{owned}/{relative}"): text for relative, text in tree.items()}
