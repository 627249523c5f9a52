"""The spec change of a promote, rollback or rollout decision as one commit in the spec's
own repository: the spec file and the system's recompiled output (generated/ is committed
beside the spec, and CI checks it is fresh), nothing else that happens to be staged.

A spec or output folder with uncommitted changes is refused before anything is edited, so
the commit holds exactly the decision; the message names the model, the environment, the
version and what decided it (the analysis and its result, or --force).
"""

from __future__ import annotations

from pathlib import Path

from mlspec.errors import ExternalError
from mlspec.gitops.git import Git


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
    return git.commit("\n".join([subject, "", *body]) + "\n", tuple(paths))


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
