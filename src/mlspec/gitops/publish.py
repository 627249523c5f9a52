"""publish: commit the deployable part of a compile into the GitOps deployments repository.

Argo CD deploys only what is committed, so a deploy is a commit: each environment's
Kubernetes manifests (artifacts marked `deployable`, `k8s/<env>/...`) are written to
`<platform.deployments.path>/<system>/<env>/` (the folder the Argo CD Application points
at, `argocd.deployment_path`), files no longer produced are deleted, and one commit names
every changed file and the sha256 of the spec it came from.

Safety rules: a repository with uncommitted changes is refused; nothing is committed when
nothing changed; pushes are never forced. When the remote branch moved on, the commit is
rebased onto it (and the owned folders rewritten, so they hold exactly this compile) and
the push retried a bounded number of times; concurrent publishers therefore all land.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.errors import ExternalError, UsageError
from mlspec.gitops.git import Git, GitError, is_local_repo, push_rejected

MAX_PUSH_ATTEMPTS = 8
DEFAULT_BRANCH = "main"


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


@dataclass
class PublishOutcome:
    commit: str | None  # None when nothing changed
    branch: str
    changes: list[tuple[str, str]]  # (status letter, path)
    retries: int = 0
    pushed: bool = False


# --- planning -------------------------------------------------------------------------------


def plan_system(result) -> SystemPlan:
    """Map a successful CompileResult's deployable artifacts to deployment-repo paths."""
    from mlspec.targets.naming import deployment_path, k8s_dir

    project = result.project
    manifest = json.loads(result.files["manifest.json"])
    by_env = {env.name: env for env in project.environments}
    plan = SystemPlan(result.system, manifest["spec"]["path"], manifest["spec"]["sha256"])
    roots = set()
    for env in project.environments:
        roots.add(deployment_path(project, env).rsplit("/", 1)[0])
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
        roots.add(_default_root(project))
    plan.roots = tuple(sorted(roots))
    return plan


def _default_root(project) -> str:
    deployments = project.base.platform.deployments
    root = deployments.path if deployments else "deployments"
    return "/".join(p for p in (root, project.base.name) if p)


def plans_from_results(results) -> list[SystemPlan]:
    return [plan_system(r) for r in results]


def compile_plans(files: list[Path], out_root: Path):
    """Compile each spec (without the result cache: publishing needs the IR); returns
    (plans, results), plans None unless every spec compiled."""
    from mlspec.build.run import compile_files

    results = compile_files(files, out_root, use_cache=False).results
    if not all(r.ok for r in results):
        return None, results
    return plans_from_results(results), results


# --- writing into a checkout ------------------------------------------------------------------


def apply_plans(git: Git, plans: list[SystemPlan]) -> None:
    """Make each system's folders hold exactly its planned files (in the work tree and index)."""
    root = git.cwd
    for plan in plans:
        tracked = set(git.run("ls-files", "-z", "--", *plan.roots).stdout.split("\0")) - {""}
        on_disk = set()
        for owned in plan.roots:
            folder = root / owned
            if folder.is_dir():
                on_disk |= {p.relative_to(root).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()}
        for stale in sorted((tracked | on_disk) - set(plan.files)):
            (root / stale).unlink(missing_ok=True)
        for path, content in sorted(plan.files.items()):
            target = root / path
            if target.is_file() and not target.is_symlink() and target.read_text(encoding="utf-8", errors="replace") == content:
                continue
            if target.is_symlink() or target.is_dir():
                target.unlink() if target.is_symlink() else shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(content)
        _remove_empty_dirs(root, plan.roots)
        pathspecs = [r for r in plan.roots if (root / r).exists() or any(t.startswith(r + "/") for t in tracked)]
        if pathspecs:
            git.run("add", "--all", "--", *pathspecs)


def _remove_empty_dirs(root: Path, owned: tuple[str, ...]) -> None:
    for folder in owned:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            if not any(path.iterdir()):
                path.rmdir()
        if not any(base.iterdir()):
            base.rmdir()


def staged_changes(git: Git) -> list[tuple[str, str]]:
    lines = git.run("diff", "--cached", "--name-status", "--no-renames").stdout.splitlines()
    return [(line.split("\t", 1)[0], line.split("\t", 1)[1]) for line in lines if "\t" in line]


_STATUS = {"A": "added", "M": "changed", "D": "removed", "T": "changed"}


def commit_message(plans: list[SystemPlan], changes: list[tuple[str, str]]) -> str:
    touched = [p for p in plans if any(path.startswith(tuple(r + "/" for r in p.roots)) for _, path in changes)]
    systems = ", ".join(p.system for p in touched) or ", ".join(p.system for p in plans)
    counts = {word: sum(1 for s, _ in changes if _STATUS.get(s[:1], "changed") == word)
              for word in ("added", "changed", "removed")}
    lines = [f"mlspec publish: {systems} ({counts['added']} added, {counts['changed']} changed,"
             f" {counts['removed']} removed)", ""]
    for plan in touched:
        lines.append(f"{plan.system}: from {plan.spec_path} (sha256 {plan.spec_sha256})")
        prefixes = tuple(r + "/" for r in plan.roots)
        for status, path in changes:
            if path.startswith(prefixes):
                lines.append(f"  {_STATUS.get(status[:1], 'changed'):8} {path}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# --- the repository ---------------------------------------------------------------------------


def publish(plans: list[SystemPlan], repo: str, branch: str | None, push: bool, log=lambda _m: None) -> PublishOutcome:
    """Commit `plans` into `repo` (a local work tree, a bare repository or a URL)."""
    if is_local_repo(repo) and not Git(Path(repo)).is_bare():
        git = Git(Path(repo))
        if not git.ok("rev-parse", "--is-inside-work-tree"):
            raise PublishError(f"{repo} is not a git repository")
        git = Git(Path(git.out("rev-parse", "--show-toplevel")))
        return _publish_in(git, plans, branch, push, remote=_upstream_remote(git, branch) if push else None,
                           log=log, may_reset=False)
    # A bare repository or a URL: work in a throwaway clone and push (the point of publishing there).
    source = str(Path(repo).resolve()) if is_local_repo(repo) else repo
    scratch = Path(tempfile.mkdtemp(prefix="mlspec-publish-"))
    try:
        git = Git(scratch)
        git.run("clone", "--quiet", "--no-tags", source, str(scratch / "repo"))
        git = Git(scratch / "repo")
        heads = git.run("ls-remote", "--heads", "origin").stdout
        remote_branches = {line.split("refs/heads/", 1)[1] for line in heads.splitlines() if "refs/heads/" in line}
        wanted = branch or git.current_branch() or DEFAULT_BRANCH
        if wanted in remote_branches:
            if git.current_branch() != wanted:
                git.run("checkout", "--quiet", wanted)
        elif git.has_commits():
            git.run("checkout", "--quiet", "-b", wanted)
        else:
            git.run("symbolic-ref", "HEAD", f"refs/heads/{wanted}")
        return _publish_in(git, plans, wanted, True, remote="origin", log=log, may_reset=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _upstream_remote(git: Git, branch: str | None) -> str:
    name = branch or git.current_branch() or ""
    configured = git.run("config", "--get", f"branch.{name}.remote", check=False).stdout.strip()
    remotes = git.run("remote").stdout.split()
    if configured and configured != ".":
        return configured
    if "origin" in remotes:
        return "origin"
    if remotes:
        return remotes[0]
    raise PublishError(f"{git.cwd} has no remote to push to (add one, or publish without --push)")


def _publish_in(git: Git, plans: list[SystemPlan], branch: str | None, push: bool, remote: str | None, log,
                may_reset: bool) -> PublishOutcome:
    dirty = git.dirty()
    if dirty:
        shown = "\n".join("  " + line for line in dirty[:10]) + ("\n  ..." if len(dirty) > 10 else "")
        raise PublishError(f"{git.cwd} has uncommitted changes; commit or stash them first:\n{shown}")
    if branch and git.current_branch() != branch:
        exists = git.ok("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
        remote_ref = remote and git.ok("rev-parse", "--verify", "--quiet", f"refs/remotes/{remote}/{branch}")
        git.run("checkout", "--quiet", *(() if exists or remote_ref else ("-b",)), branch)
    branch = git.current_branch() or branch or DEFAULT_BRANCH
    apply_plans(git, plans)
    changes = staged_changes(git)
    outcome = PublishOutcome(None, branch, changes)
    if changes:
        outcome.commit = git.commit(commit_message(plans, changes))
        log(f"committed {outcome.commit[:12]} on {branch}: {len(changes)} file{'s' if len(changes) != 1 else ''}")
    if push and outcome.commit:
        _push_with_retry(git, plans, remote, branch, outcome, log, may_reset)
    return outcome


def _push_with_retry(git: Git, plans, remote: str, branch: str, outcome: PublishOutcome, log, may_reset: bool):
    for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
        result = git.run("push", "--quiet", remote, f"HEAD:refs/heads/{branch}", check=False)
        if result.returncode == 0:
            outcome.pushed = True
            outcome.commit = git.head()
            return
        detail = (result.stderr or result.stdout).strip()
        if not push_rejected(detail):
            raise GitError(f"`git push` to {remote} failed: {detail}")
        if attempt == MAX_PUSH_ATTEMPTS:
            break
        log(f"{remote}/{branch} moved on; rebasing and retrying (attempt {attempt + 1} of {MAX_PUSH_ATTEMPTS})")
        outcome.retries += 1
        time.sleep(random.uniform(0.05, 0.25) * attempt)
        ours = git.head()
        fingerprint = git.out("log", "-1", "--format=%an%x00%ae%x00%at%x00%s", ours)
        git.run("fetch", "--quiet", "--no-tags", remote, branch)
        upstream = git.out("rev-parse", "FETCH_HEAD")
        if git.run("rebase", "--quiet", upstream, check=False).returncode != 0:
            git.run("rebase", "--abort", check=False)
            if not (may_reset or git.ok("merge-base", "--is-ancestor", f"{ours}~1", upstream)):
                raise PublishError(f"the commit conflicts with {remote}/{branch} and the local branch has other"
                                   " unpushed commits; rebase it by hand, then publish again")
            # Our commit only writes folders we own: start again from the remote's branch.
            git.run("reset", "--quiet", "--hard", upstream)
        # Redo our commit on the new base, so the owned folders hold exactly this compile and the
        # message lists what it changes relative to what the remote now has.
        if git.head() != upstream and git.out("log", "-1", "--format=%an%x00%ae%x00%at%x00%s") == fingerprint:
            git.run("reset", "--quiet", "--soft", "HEAD~1")
        apply_plans(git, plans)
        changes = staged_changes(git)
        if changes:
            git.commit(commit_message(plans, changes))
            outcome.changes = changes
        elif git.head() == upstream:
            log(f"{remote}/{branch} already holds this content; nothing to push")
            outcome.commit = None
            outcome.changes = []
            return
    raise PublishError(f"could not push to {remote}/{branch} after {MAX_PUSH_ATTEMPTS} attempts: it keeps moving")


# --- checking the target ------------------------------------------------------------------------


def check_repo_argument(repo: str) -> None:
    """A UsageError unless `repo` is a local folder or looks like a git URL."""
    if not is_local_repo(repo) and "://" not in repo and not _looks_like_scp_url(repo):
        raise UsageError(f"--repo {repo}: no such folder (give a local path or a git URL)")


def _looks_like_scp_url(repo: str) -> bool:
    head = repo.split("/", 1)[0]
    return ":" in head and "@" in head  # git@host:org/repo.git
