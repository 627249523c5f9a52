"""The spec change of a promote, rollback or rollout decision as one commit in the spec's
own repository: the spec file and the system's recompiled output (generated/ is committed
beside the spec, and CI checks it is fresh), nothing else that happens to be staged.

A spec or output folder with uncommitted changes is refused before anything is edited, so
the commit holds exactly the decision; the message names the model, the environment, the
version and what decided it (the analysis and its result, or --force).

A commit that loses the push race is never merged as text (two edits on different lines
merge cleanly whatever they mean: a decision on version 7 promoted the version 8 pushed
meanwhile). The edit is planned again on the spec the remote holds (`replan`), and only
while the model there is still what it was planned on: same version, storage folder and
rollout phase in the same environment; otherwise it is abandoned and nothing is pushed.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mlspec.errors import ExternalError
from mlspec.git import Git, output_of, push_rejected
from mlspec.gitops.publish import MAX_PUSH_ATTEMPTS


def _repository(spec_file: Path) -> tuple[Git, Path]:
    git = Git(spec_file.resolve().parent)
    result = git.run("rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        raise ExternalError(f"--commit: {spec_file} is not in a git repository")
    return Git(Path(result.stdout.strip())), Path(result.stdout.strip())


def _paths(spec_file: Path, out_root: Path, system: str, top: Path) -> list[str]:
    paths = [spec_file.resolve()]
    output = (out_root / system).resolve()
    if output.is_relative_to(top):
        paths.append(output)
    return [str(p.relative_to(top)) for p in paths]


def check_clean(spec_file: Path, out_root: Path, system: str) -> None:
    """Refuse to edit a spec (or output) that has uncommitted changes: the commit would mix them in."""
    git, top = _repository(spec_file)
    dirty = git.run("status", "--porcelain", "--untracked-files=all", "--",
                    *_paths(spec_file, out_root, system, top)).stdout.strip()
    if dirty:
        raise ExternalError(f"--commit: uncommitted changes in the spec or its output, which the commit would mix"
                            f" in; commit or stash them first:\n{dirty}")


def commit_spec(spec_file: Path, out_root: Path, system: str, subject: str, body: list[str]) -> str | None:
    """Commit the spec file and the system's output folder; the new commit, or None when
    nothing changed."""
    git, top = _repository(spec_file)
    paths = _paths(spec_file, out_root, system, top)
    git.run("add", "--all", "--", *paths)
    if not git.run("status", "--porcelain", "--", *paths).stdout.strip():
        return None
    try:
        return git.commit("\n".join([subject, "", *body]) + "\n", tuple(paths))
    except BaseException:
        git.run("reset", "--quiet", "--", *paths, check=False)  # a refused commit leaves nothing staged
        raise


def commit_hook(kind: str, promotion, out_root: Path, system: str, push: bool,
                log: Callable[[str], None]) -> Callable[[object], None]:
    """The `before_publish` step of promote.carry_out that records `promotion` in the spec's
    repository: the spec commit and, when `push`, its push to the branch's upstream (rebased
    and retried when the remote moved on; the publish then uses the output recompiled on the
    new base)."""

    def recompile():
        from mlspec.compiler.run import compile_and_apply

        return compile_and_apply([promotion.spec_file], [str(promotion.spec_file)], out_root, use_cache=False)

    def hook(outcome) -> None:
        subject, body = message(kind, promotion)
        commit = commit_spec(promotion.spec_file, out_root, system, subject, body)
        log(f"committed {commit[:12]} to the spec's repository: {subject}" if commit
            else "the spec's repository is up to date: nothing to commit")
        if push and commit:
            pushed = push_spec(promotion.spec_file, out_root, system, recompile, log,
                               replan=lambda text, where: replan(promotion, text, where))
            if pushed.run is not None:
                outcome.run = pushed.run
            log(f"pushed the spec commit {pushed.commit[:12]} to {pushed.remote}/{pushed.branch}")

    return hook


def message(kind: str, promotion) -> tuple[str, list[str]]:
    """(subject, body lines) of the spec commit of a promotion (gitops.promote.Promotion)."""
    changes = [f"models.{promotion.model}.{'.'.join(path)}: {value}" for path, value in promotion.changes.items()]
    subject = f"mlspec {kind}: {promotion.summary}"
    body = [f"model: {promotion.model}", f"environment: {promotion.env}",
            f"version: {promotion.version or '?'}"]
    if promotion.evidence:
        body.append(f"decided by: {promotion.evidence}")
    body += [f"spec: {promotion.spec_file}", *changes]
    return subject, body


# --- pushing the spec commit -----------------------------------------------------------------


class SpecPushError(ExternalError):
    """The spec commit could not reach the spec's remote (refused, or it conflicts with what
    was pushed meanwhile); it was undone locally, so nothing of it is left half-done."""


@dataclass
class SpecPush:
    commit: str  # the spec remote's branch now holds this commit
    remote: str
    branch: str
    retries: int = 0
    run: object = None  # compiler.run.CompileRun of the output, when it was recompiled on a new base


def upstream(spec_file: Path) -> tuple[str, str] | None:
    """(remote, branch) the checkout's current branch tracks, or None (detached HEAD, no
    upstream configured, or not a git repository)."""
    try:
        git, _ = _repository(spec_file)
    except ExternalError:
        return None
    local = git.current_branch()
    if not local:
        return None
    remote = git.run("config", "--get", f"branch.{local}.remote", check=False).stdout.strip()
    merge = git.run("config", "--get", f"branch.{local}.merge", check=False).stdout.strip()
    if not remote or remote == "." or remote.startswith("-") or not merge.startswith("refs/heads/"):
        return None
    return remote, merge.removeprefix("refs/heads/")


def _tracked(spec_file: Path) -> tuple[Git, str, str]:
    git, _ = _repository(spec_file)
    found = upstream(spec_file)
    if found is None:
        raise ExternalError(f"the spec's repository ({git.cwd}) has no upstream branch to push to: check out a branch"
                            " that tracks one (`git branch --set-upstream-to origin/main`)")
    return git, *found


def sync_spec(spec_file: Path) -> str:
    """Bring the spec checkout up to its upstream branch (fetch, fast-forward only), so an edit
    starts from what the spec remote holds; the commit it is at. A checkout with commits of
    its own that the remote lacks is an ExternalError: it needs a person."""
    git, remote, branch = _tracked(spec_file)
    git.run("fetch", "--quiet", "--no-tags", "--", remote, f"refs/heads/{branch}")
    if git.run("merge", "--ff-only", "--quiet", "FETCH_HEAD", check=False).returncode != 0:
        raise ExternalError(f"{git.cwd} has commits that {remote}/{branch} does not, or changes a fast-forward would"
                            f" overwrite; push or reset them by hand")
    return git.head()


def push_spec(spec_file: Path, out_root: Path, system: str, recompile: Callable[[], object],
              log: Callable[[str], None] = lambda _m: None,
              replan: Callable[[str, str], str | None] | None = None) -> SpecPush:
    """Push HEAD (the spec commit just made) to the branch's upstream. When the remote branch
    moved on, the commit is made again on top of it, a bounded number of times, never
    forced: `replan(text, where)` plans the edit again on the spec file as the remote holds it
    (`text`) and gives the new spec text, None when the remote already holds the change, or
    raises when what the edit was decided on changed there (a decision is bound to what it
    judged); the output, which is derived, is recompiled by `recompile()`. The spec file is
    never merged as text: two edits on different lines merge cleanly whatever they mean.
    Without `replan` a moved remote is refused. When the push cannot succeed (refused by the
    server, an edit that no longer applies, a remote that keeps moving, a spec that does not
    compile) the spec commit is undone, the checkout is put at the commit it started from, and
    a SpecPushError (or the compile's SpecError) is raised."""
    from mlspec.errors import SpecError

    git, remote, branch = _tracked(spec_file)
    top = git.cwd
    relative = str(spec_file.resolve().relative_to(top))
    start = git.out("rev-parse", "HEAD~1")  # what the checkout held before the spec commit
    outcome = SpecPush("", remote, branch)
    try:
        for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
            result = git.run("push", "--quiet", "--", remote, f"HEAD:refs/heads/{branch}", check=False)
            if result.returncode == 0:
                outcome.commit = git.head()
                return outcome
            detail = output_of(result)
            if not push_rejected(detail):
                raise SpecPushError(f"{remote} refused the push of the spec commit to {branch}:\n{detail}")
            if attempt == MAX_PUSH_ATTEMPTS:
                raise SpecPushError(f"could not push the spec commit to {remote}/{branch} after {MAX_PUSH_ATTEMPTS}"
                                    " attempts: it keeps moving")
            if replan is None:
                raise SpecPushError(f"{remote}/{branch} moved on since the spec was read; the spec commit was undone:"
                                    " run the command again")
            log(f"{remote}/{branch} (the spec repository) moved on; planning the change again on what it holds and"
                f" retrying (attempt {attempt + 1} of {MAX_PUSH_ATTEMPTS})")
            outcome.retries += 1
            time.sleep(random.uniform(0.05, 0.25) * attempt)
            ours = git.head()
            git.run("fetch", "--quiet", "--no-tags", "--", remote, f"refs/heads/{branch}")
            theirs = git.out("rev-parse", "FETCH_HEAD")
            if not git.ok("merge-base", "--is-ancestor", f"{ours}~1", theirs):
                raise SpecPushError(f"{top} has commits that {remote}/{branch} does not besides the spec commit;"
                                    " rebase them by hand")
            shown = git.run("show", f"{theirs}:{relative}", check=False)
            if shown.returncode != 0:
                raise SpecPushError(f"{remote}/{branch} no longer holds {relative}; the spec commit was undone")
            text = git.out("log", "-1", "--format=%B", ours) + "\n"
            replanned = replan(shown.stdout, f"{remote}/{branch}")
            git.run("reset", "--quiet", "--keep", theirs)
            if replanned is not None:
                from mlspec.fsutil import write_text_atomic

                write_text_atomic(top / relative, replanned)
            outcome.run = recompile()
            if not outcome.run.ok:
                raise SpecError(f"{spec_file} as {remote}/{branch} holds it, with the change planned again, does not"
                                " compile; the spec commit was undone", outcome.run.results)
            paths = _paths(spec_file, out_root, system, top)
            git.run("add", "--all", "--", *paths)
            if not git.run("status", "--porcelain", "--", *paths).stdout.strip():
                log(f"{remote}/{branch} already holds this change of {spec_file}")
                outcome.commit = theirs
                return outcome
            git.commit(text, tuple(paths))
    except BaseException:
        _undo_commit(git, spec_file, out_root, system, start, recompile, log)
        raise
    raise AssertionError("unreachable")


# The values of a model in an environment that a promotion or decision is bound to: it was
# planned (an analysis judged) for this storage folder and version, at this rollout phase.
def _bound_state(unit, model_name: str, env_name: str) -> tuple | None:
    from mlspec.gitops.promote import _environment, _model

    env = _environment(unit.project, env_name, unit.path)
    model = _model(env, model_name, unit.path)
    if model.serving is None:
        return None
    return (model.serving.storage_uri, model.serving.model_version,
            model.rollout.phase if model.rollout is not None else None)


def _describe_state(state: tuple | None) -> str:
    from mlspec.textsafe import printable

    if state is None:
        return "no serving section"
    uri, version, phase = state
    return f"version {printable(version or 'latest')} ({printable(uri)}){f' in {phase}' if phase else ''}"


def replan(promotion, text: str, where: str) -> str | None:
    """The spec text `text` (the spec as `where` holds it now) with `promotion`'s edit planned
    again on it: the same values set for the same model in the same environment, given that
    the model there is still exactly what the promotion was planned on (storage folder,
    version, rollout phase). None when `text` already gives the promoted values. Raises
    SpecPushError (the decision is abandoned) when the model changed there meanwhile, and
    SpecError when `text` has errors."""
    from mlspec.compiler.session import load_text
    from mlspec.errors import MlspecError, SpecError
    from mlspec.gitops.promote import _edit

    spec_file = Path(promotion.spec_file)
    planned_on = _bound_state(load_text(spec_file, promotion.old_text), promotion.model, promotion.env)
    wanted = _bound_state(load_text(spec_file, promotion.new_text), promotion.model, promotion.env)
    unit = load_text(spec_file, text)
    if not unit.ok:
        raise SpecError(f"{spec_file} as {where} holds it has errors; the change was not pushed", [unit])
    what = f"{promotion.model} in {promotion.env}"
    try:
        now = _bound_state(unit, promotion.model, promotion.env)
    except MlspecError as exc:
        raise SpecPushError(f"{where} changed {spec_file} meanwhile ({exc}); the change of {what} was abandoned,"
                            " not pushed") from None
    if now == wanted:
        return None
    if now != planned_on:
        raise SpecPushError(
            f"{where} changed {what} meanwhile: it is now {_describe_state(now)}, but this change was planned on"
            f" {_describe_state(planned_on)}{f' ({promotion.evidence})' if promotion.evidence else ''}; it was"
            f" abandoned, not pushed: decide again on the spec as it is now")
    replanned = _edit(unit, promotion.model, promotion.env, promotion.changes, promotion.summary)
    if _bound_state(load_text(spec_file, replanned.new_text), promotion.model, promotion.env) != wanted:
        raise SpecPushError(f"the change of {what}, planned again on {where}, does not give the values it was"
                            " planned to; it was abandoned, not pushed")
    return replanned.new_text


def _undo_commit(git: Git, spec_file: Path, out_root: Path, system: str, start: str,
                 recompile: Callable[[], object], log: Callable[[str], None]) -> None:
    """Put the branch back at `start` (the spec and its output as they were before the spec
    commit), keeping anything else in the work tree; then recompile the output folder."""
    top = git.cwd
    paths = _paths(spec_file, out_root, system, top)
    git.run("reset", "--quiet", "--", *paths, check=False)
    git.run("checkout", "--quiet", "HEAD", "--", *paths, check=False)
    if git.run("reset", "--quiet", "--keep", start, check=False).returncode != 0:
        log(f"could not put {top} back at {start[:12]}; reset it by hand (`git reset --keep {start[:12]}`)")
        return
    try:
        recompile()
    except Exception as exc:  # noqa: BLE001 - reported, the undo of git state is what matters
        log(f"could not recompile {spec_file} after undoing the spec commit: {exc}")
    log(f"the spec commit was not pushed and was undone ({top} is at {start[:12]} again)")
