"""publish: commit the deployable part of a compile into the GitOps deployments repository.

Argo CD deploys only what is committed, so a deploy is a commit: each environment's
Kubernetes manifests (artifacts marked `deployable`, `k8s/<env>/...`) are written to
`<platform.deployments.path>/<system>/<env>/` (the folder the Argo CD Application points
at, `argocd.deployment_path`), files no longer produced are deleted, and one commit names
every changed file and the sha256 of the spec it came from.

What a compile puts where in that repository, and how its folders are checked and read
(also by `mlspec diff --repo`), is mlspec.compiler.deployments. Safety rules: a repository with uncommitted changes is refused; nothing is committed when
nothing changed; pushes are never forced. When the remote branch moved on, the commit is
rebased onto it (and the owned folders rewritten, so they hold exactly this compile) and
the push retried a bounded number of times; concurrent publishers therefore all land. A
push the server refuses for any other reason (a pre-receive hook, a protected branch) is
reported at once, with the server's message.

The deployments repository and the folder names in a spec are not trusted. Every folder
publish owns must be a plain relative path (`deployments.check_owned_path`: no `.git`, `..`, leading
`-` or `.`, no pathspec magic: git also gets every path as a literal pathspec); nothing is
written or deleted through a symbolic link (a linked folder is refused, a linked file
replaced, unread); and a commit that fails (a hook refuses it) leaves the owned folders
as HEAD has them, so the next publish does not find a dirty repository.
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mlspec.compiler.deployments import (
    MAX_FILE_BYTES,
    PublishError,
    SystemPlan,
    check_no_link_on_the_way,
    check_plans,
    owned_files,
)
from mlspec.errors import UsageError
from mlspec.git import (
    Git,
    GitError,
    check_branch_name,
    is_local_repo,
    output_of,
    push_rejected,
)
from mlspec.textsafe import printable

MAX_PUSH_ATTEMPTS = 8
DEFAULT_BRANCH = "main"


@dataclass
class PublishOutcome:
    commit: str | None  # None when nothing changed
    branch: str
    changes: list[tuple[str, str]]  # (status letter, path)
    retries: int = 0
    pushed: bool = False


# --- planning -------------------------------------------------------------------------------


# --- writing into a checkout ------------------------------------------------------------------

def apply_plans(git: Git, plans: list[SystemPlan]) -> None:
    """Make each system's folders hold exactly its planned files (in the work tree and index)."""
    from mlspec.fsutil import FileTooLarge, ForeignFile, read_regular

    check_plans(plans)
    root = git.cwd
    for plan in plans:
        for owned in plan.roots:
            check_no_link_on_the_way(root, owned)
        tracked = set(git.run("ls-files", "-z", "--", *plan.roots).stdout.split("\0")) - {""}
        on_disk = set()
        for owned in plan.roots:
            on_disk |= set(owned_files(root, owned))
        for stale in sorted((tracked | on_disk) - set(plan.files)):
            check_no_link_on_the_way(root, stale.rsplit("/", 1)[0])
            path = root / stale
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                continue
            shutil.rmtree(path) if stat.S_ISDIR(mode) else path.unlink()
        for path, content in sorted(plan.files.items()):
            check_no_link_on_the_way(root, path.rsplit("/", 1)[0])
            target = root / path
            data = content.encode("utf-8")
            try:
                if read_regular(target, MAX_FILE_BYTES) == data:
                    continue
            except (FileNotFoundError, ForeignFile, FileTooLarge):
                pass
            try:
                mode = os.lstat(target).st_mode
            except FileNotFoundError:
                mode = None
            if mode is not None and stat.S_ISDIR(mode):
                shutil.rmtree(target)
            elif mode is not None and not stat.S_ISREG(mode):
                target.unlink()  # a link or a FIFO: replaced, never followed
            target.parent.mkdir(parents=True, exist_ok=True)
            check_no_link_on_the_way(root, path.rsplit("/", 1)[0])
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_NONBLOCK", 0), 0o666)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        _remove_empty_dirs(root, plan.roots)
        pathspecs = [r for r in plan.roots if os.path.lexists(root / r) or any(t.startswith(r + "/") for t in tracked)]
        if pathspecs:
            git.run("add", "--all", "--", *pathspecs)


def _remove_empty_dirs(root: Path, owned: tuple[str, ...]) -> None:
    for folder in owned:
        base = root / folder
        if base.is_symlink() or not base.is_dir():
            continue
        for path, _, _ in sorted(os.walk(base), key=lambda entry: len(Path(entry[0]).parts), reverse=True):
            if not os.listdir(path):
                os.rmdir(path)


def restore_owned(git: Git, plans: list[SystemPlan]) -> None:
    """Put the owned folders back as HEAD has them, in the index and the work tree (what a
    failed commit leaves staged). Only owned folders are touched, and the repository was
    clean before publish wrote them, so nothing of the user's is lost."""
    try:
        check_plans(plans)
    except UsageError:
        return  # nothing was written for plans that fail the check: no git command gets their paths
    roots = sorted({r for plan in plans for r in plan.roots})
    if git.has_commits():
        git.run("reset", "--quiet", "HEAD", "--", *roots, check=False)
        in_head = [r for r in roots if git.run("ls-tree", "-r", "--name-only", "HEAD", "--", r).stdout.strip()]
        if in_head:
            git.run("checkout", "--quiet", "HEAD", "--", *in_head, check=False)
    else:
        git.run("rm", "-r", "--cached", "--quiet", "--ignore-unmatch", "--", *roots, check=False)
    git.run("clean", "-f", "-d", "-q", "--", *roots, check=False)
    for owned in roots:  # and the empty folders publish created on the way to them
        parts = owned.split("/")
        for depth in range(len(parts), 0, -1):
            folder = git.cwd.joinpath(*parts[:depth])
            if not os.path.lexists(folder):
                continue
            if folder.is_symlink() or not folder.is_dir() or any(folder.iterdir()):
                break
            folder.rmdir()


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
    check_plans(plans)
    if branch is not None:
        check_branch_name(branch)
    if is_local_repo(repo) and not Git(Path(repo)).is_bare():
        git = Git(Path(repo))
        if not git.ok("rev-parse", "--is-inside-work-tree"):
            raise PublishError(f"{printable(repo)} is not a git repository")
        git = Git(Path(git.out("rev-parse", "--show-toplevel")))
        remote = _upstream_remote(git, branch) if push else None
        if branch is None and not git.has_commits():
            branch = _start_branch(git, plans, remote)
        outcome = _publish_in(git, plans, branch, push, remote=remote, log=log, may_reset=False)
        if push and outcome.commit:
            _track(git, remote, outcome.branch)
        return outcome
    # A bare repository or a URL: work in a throwaway clone and push (the point of publishing there).
    source = str(Path(repo).resolve()) if is_local_repo(repo) else repo
    scratch = Path(tempfile.mkdtemp(prefix="mlspec-publish-"))
    try:
        git = Git(scratch)
        git.run("clone", "--quiet", "--no-tags", "--", source, str(scratch / "repo"))
        git = Git(scratch / "repo")
        heads = git.run("ls-remote", "--heads", "--", "origin").stdout
        remote_branches = {line.split("refs/heads/", 1)[1] for line in heads.splitlines() if "refs/heads/" in line}
        wanted = branch or _default_branch(git, plans, remote_branches, "origin")
        if wanted in remote_branches:
            if git.current_branch() != wanted:
                git.run("checkout", "--quiet", wanted, "--")
        elif git.has_commits():
            git.run("checkout", "--quiet", "-b", wanted, "--")
        else:
            git.run("symbolic-ref", "HEAD", f"refs/heads/{wanted}")
        return _publish_in(git, plans, wanted, True, remote="origin", log=log, may_reset=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def publish_specs(files: list[Path], out_root: Path, repo: str, branch: str | None = None, push: bool = False,
                  log=lambda _m: None) -> PublishOutcome:
    """`mlspec publish FILES --repo REPO` as a function (the local run calls it): each spec
    compiled (nothing written), then its deployable files committed into `repo`. A spec with
    errors is a SpecError carrying the compile results' diagnostics; nothing is published."""
    from mlspec.compiler.deployments import compile_plans
    from mlspec.errors import SpecError

    check_repo_argument(repo)
    plans, results = compile_plans(files, out_root)
    if plans is None:
        raise SpecError(f"{', '.join(map(str, files))} does not compile; nothing was published", results)
    return publish(plans, repo, branch, push, log=log)


def _start_branch(git: Git, plans: list[SystemPlan], remote: str | None) -> str:
    """In a work tree with no commits yet (`git init`, or a clone of an empty repository,
    whose unborn branch is git's `init.defaultBranch`, often `master`), put HEAD on the branch
    to publish to (see _default_branch): the remote's branch of that name when it has one,
    else a new branch of that name, so that the first commit lands where Argo CD looks."""
    remote_branches: set[str] = set()
    if remote is not None:
        heads = git.run("ls-remote", "--heads", "--", remote, check=False).stdout
        remote_branches = {line.split("refs/heads/", 1)[1] for line in heads.splitlines() if "refs/heads/" in line}
    wanted = _default_branch(git, plans, remote_branches, remote)
    if wanted in remote_branches:
        git.run("fetch", "--quiet", "--no-tags", "--", remote, f"refs/heads/{wanted}:refs/remotes/{remote}/{wanted}")
        git.run("checkout", "--quiet", "-b", wanted, "--track", f"{remote}/{wanted}", "--")
    else:
        git.run("symbolic-ref", "HEAD", f"refs/heads/{wanted}")
    return wanted


def _track(git: Git, remote: str | None, branch: str) -> None:
    """After the first push of a branch the work tree had no upstream for, make it track the
    remote's (as `git push -u` would), so the next publish and `git pull` find it."""
    if remote is None or git.ok("config", "--get", f"branch.{branch}.remote"):
        return
    if git.ok("rev-parse", "--verify", "--quiet", f"refs/remotes/{remote}/{branch}"):
        git.run("branch", "--quiet", f"--set-upstream-to={remote}/{branch}", "--", branch)


def _default_branch(git: Git, plans: list[SystemPlan], remote_branches: set[str], remote: str | None) -> str:
    """The branch to publish to when none is named: the one Argo CD tracks (every plan's
    `platform.deployments.revision`, when they agree and it names a branch, not a tag of the
    remote), else the remote's default branch, else `main`; never git's own default for a new
    repository (`init.defaultBranch`, often `master`)."""
    revisions = {plan.revision for plan in plans if plan.revision}
    if len(revisions) == 1:
        revision = revisions.pop()
        try:
            check_branch_name(revision)
        except UsageError:
            revision = None
        tags = git.run("ls-remote", "--tags", "--", remote, check=False).stdout if revision and remote else ""
        if revision and f"refs/tags/{revision}" not in tags.split():
            return revision
    if remote_branches:
        current = git.current_branch()  # the clone checked out the remote's HEAD
        if current in remote_branches:
            return current
    return DEFAULT_BRANCH


def _upstream_remote(git: Git, branch: str | None) -> str:
    name = branch or git.current_branch() or ""
    configured = git.run("config", "--get", f"branch.{name}.remote", check=False).stdout.strip()
    remotes = git.run("remote").stdout.split()
    if configured and configured != "." and not configured.startswith("-"):
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
        git.run("checkout", "--quiet", *(() if exists or remote_ref else ("-b",)), branch, "--")
    branch = git.current_branch() or branch or DEFAULT_BRANCH
    try:
        apply_plans(git, plans)
        changes = staged_changes(git)
        outcome = PublishOutcome(None, branch, changes)
        if changes:
            outcome.commit = git.commit(commit_message(plans, changes))
    except GitError as exc:
        restore_owned(git, plans)
        raise PublishError(f"{exc}\nnothing was committed; {git.cwd} is as it was") from None
    except BaseException:
        restore_owned(git, plans)
        raise
    if outcome.commit:
        log(f"committed {outcome.commit[:12]} on {branch}: {len(changes)} file{'s' if len(changes) != 1 else ''}")
    if push and outcome.commit:
        _push_with_retry(git, plans, remote, branch, outcome, log, may_reset)
    return outcome


def _push_with_retry(git: Git, plans, remote: str, branch: str, outcome: PublishOutcome, log, may_reset: bool):
    for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
        result = git.run("push", "--quiet", "--", remote, f"HEAD:refs/heads/{branch}", check=False)
        if result.returncode == 0:
            outcome.pushed = True
            outcome.commit = git.head()
            return
        detail = output_of(result)
        if not push_rejected(detail):
            raise PublishError(f"{remote} refused the push to {branch} (committed locally as {git.head()[:12]}, not"
                               f" pushed):\n{detail}")
        if attempt == MAX_PUSH_ATTEMPTS:
            break
        log(f"{remote}/{branch} moved on; rebasing and retrying (attempt {attempt + 1} of {MAX_PUSH_ATTEMPTS})")
        outcome.retries += 1
        time.sleep(random.uniform(0.05, 0.25) * attempt)
        ours = git.head()
        fingerprint = git.out("log", "-1", "--format=%an%x00%ae%x00%at%x00%s", ours)
        git.run("fetch", "--quiet", "--no-tags", "--", remote, f"refs/heads/{branch}")
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
        try:
            apply_plans(git, plans)
            changes = staged_changes(git)
            if changes:
                git.commit(commit_message(plans, changes))
                outcome.changes = changes
        except BaseException:
            restore_owned(git, plans)
            raise
        if not changes and git.head() == upstream:
            log(f"{remote}/{branch} already holds this content; nothing to push")
            outcome.commit = None
            outcome.changes = []
            return
    raise PublishError(f"could not push to {remote}/{branch} after {MAX_PUSH_ATTEMPTS} attempts: it keeps moving")


# --- checking the target ------------------------------------------------------------------------


def check_repo_argument(repo: str) -> None:
    """A UsageError unless `repo` is a local folder or looks like a git URL (and never
    anything git could take for an option)."""
    if repo.startswith("-"):
        raise UsageError(f"--repo {printable(repo)}: a repository cannot start with `-` (write ./{printable(repo)}"
                         " for a folder of that name)")
    if not is_local_repo(repo) and "://" not in repo and not _looks_like_scp_url(repo):
        raise UsageError(f"--repo {printable(repo)}: no such folder (give a local path or a git URL)")


def _looks_like_scp_url(repo: str) -> bool:
    head = repo.split("/", 1)[0]
    return ":" in head and "@" in head  # git@host:org/repo.git
