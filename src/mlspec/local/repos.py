"""The two git repositories of a local run's promote stage, in the work folder:

  spec-repo/     the spec copy under specs/ and its compiled generated/, as a team keeps its
                 spec repository (the promotion commits its one-value diff here)
  deployments/   the GitOps deployments repository Argo CD would sync: the spec as it was is
                 published once when the repositories are made, so a promotion's publish is
                 the small diff a reviewer would read

Promotions and publishes run the real commands (`mlspec promote ... --commit --repo`,
`mlspec publish`) in a subprocess, as a user or the webhook would."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlspec.errors import UsageError
from mlspec.local import processes

SPEC_REPO = "spec-repo"
DEPLOYMENTS = "deployments"
# Commits made by the local run say so, whatever the machine's git identity.
IDENTITY = {"GIT_AUTHOR_NAME": "mlspec run --local", "GIT_AUTHOR_EMAIL": "mlspec-run-local@localhost",
            "GIT_COMMITTER_NAME": "mlspec run --local", "GIT_COMMITTER_EMAIL": "mlspec-run-local@localhost"}


@dataclass(frozen=True)
class CommandResult:
    command: list[str]
    returncode: int
    output: str

    @property
    def shown(self) -> str:
        return " ".join(self.command)


@dataclass(frozen=True)
class LocalRepos:
    root: Path  # the work folder
    spec_name: str  # the spec's file name

    @property
    def spec_repo(self) -> Path:
        return self.root / SPEC_REPO

    @property
    def deployments(self) -> Path:
        return self.root / DEPLOYMENTS

    @property
    def spec(self) -> Path:
        """The spec in the spec repository, relative to it (promote and publish run there)."""
        return Path("specs") / self.spec_name

    def mlspec(self, *args: str) -> CommandResult:
        """An mlspec command in the spec repository."""
        command = [sys.executable, "-m", "mlspec", *args]
        done = processes.run(command, cwd=self.spec_repo, env={**os.environ, **IDENTITY}, timeout=600)
        return CommandResult(["mlspec", *args], done.returncode, done.stdout + done.stderr)

    def git(self, repo: Path, *args: str) -> str:
        done = processes.run(["git", *args], cwd=repo, env={**os.environ, **IDENTITY}, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} in {repo}: {done.stderr.strip()}")
        return done.stdout

    def head(self, repo: Path) -> str:
        return self.git(repo, "log", "-1", "--format=%h %s").strip()

    def changed_files(self, repo: Path) -> list[str]:
        """The files the last commit of `repo` changed."""
        return self.git(repo, "show", "--name-only", "--format=", "HEAD").split()


MARKER = "mlspec-run-local"  # in the .git folder of each repository made here: the next run may replace it


def made_here(folder: Path) -> bool:
    """Whether `folder` is a repository an earlier local run made (a real folder, not a link)."""
    marker = folder / ".git" / MARKER
    return folder.is_dir() and not folder.is_symlink() and not (folder / ".git").is_symlink() \
        and marker.is_file() and not marker.is_symlink()


def make_repos(root: Path, spec_copy: Path) -> tuple[LocalRepos, CommandResult]:
    """Both repositories, made anew: the spec copy committed with its compiled output, and the
    deployments repository holding what that spec deploys (`mlspec publish`)."""
    repos = LocalRepos(root, spec_copy.name)
    for folder in (repos.spec_repo, repos.deployments):
        if folder.exists() or folder.is_symlink():
            if not made_here(folder):
                raise UsageError(f"{folder} exists and was not made by a local run (no .git/{MARKER}): the promote"
                                 f" stage does not delete it; move it away or use another --workdir")
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        repos.git(folder, "init", "-q", "-b", "main")
        (folder / ".git" / MARKER).write_text("made by mlspec run --local\n", encoding="utf-8")
    (repos.spec_repo / "specs").mkdir()
    shutil.copyfile(spec_copy, repos.spec_repo / repos.spec)
    compiled = repos.mlspec("compile", str(repos.spec))
    if compiled.returncode != 0:
        return repos, compiled
    repos.git(repos.spec_repo, "add", "-A")
    repos.git(repos.spec_repo, "commit", "-q", "-m", f"{spec_copy.name}: the spec as the local run found it")
    repos.git(repos.deployments, "commit", "-q", "--allow-empty", "-m", "deployments repository")
    return repos, repos.mlspec("publish", str(repos.spec), "--repo", str(repos.deployments))


def published_object(repos: LocalRepos, folder: str, kind: str, name: str) -> tuple[str, dict] | None:
    """(path in the deployments repository, object) of the `kind` named `name` under `folder`."""
    base = repos.deployments / folder
    if not base.is_dir():
        return None
    for path in sorted(base.glob("*.yaml")):
        if path.is_symlink():
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(document, dict) and document.get("kind") == kind \
                    and (document.get("metadata") or {}).get("name") == name:
                return str(path.relative_to(repos.deployments)), document
    return None
