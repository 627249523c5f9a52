"""The two git repositories of a local run's promote stage, in the work folder:

  spec-repo/     the spec copy under specs/ and its compiled generated/, as a team keeps its
                 spec repository (the promotion commits its one-value diff here)
  deployments/   the GitOps deployments repository Argo CD would sync: the spec as it was is
                 published once when the repositories are made, so a promotion's publish is
                 the small diff a reviewer would read

Promotions and publishes are mlspec's own: the functions `mlspec promote ... --commit --repo`
and `mlspec publish` call (gitops/), handed in as a `Deployer` by the caller, since local/ and
gitops/ are siblings that do not import each other (the CLI wires them: cli/commands/run.py).
git goes through `mlspec.git.Git`, the one hardened wrapper (no prompts, literal pathspecs, C
locale); each repository made here has its own identity in its config, so its commits say
they come from the local run whatever the machine's git identity."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from mlspec.compiler.run import compile_and_apply
from mlspec.errors import ExternalError, SpecError, UsageError
from mlspec.git import Git

SPEC_REPO = "spec-repo"
DEPLOYMENTS = "deployments"
GENERATED = "generated"
# Commits made by the local run say so, whatever the machine's git identity.
IDENTITY = {"user.name": "mlspec run --local", "user.email": "mlspec-run-local@localhost"}

Log = Callable[[str], None]


@dataclass(frozen=True)
class Deployer:
    """mlspec's publish and promote, as the promote stage calls them. Each raises an
    MlspecError (SpecError with the diagnostics, UsageError, ExternalError) when it fails.

    publish(spec files, output folder, deployments repository, log): what `mlspec publish
    SPEC --repo REPO` does (gitops.publish.publish_specs).
    promote(spec file, model, environment, version, storage URI, output folder, deployments
    repository, log): what `mlspec promote MODEL --env ENV --version V --storage-uri URI --spec
    SPEC --commit --repo REPO` does (gitops.promote.promote_version)."""

    publish: Callable[[list[Path], Path, str, Log], object]
    promote: Callable[[Path, str, str, str, str, Path, str, Log], object]


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
        """The spec in the spec repository."""
        return self.spec_repo / "specs" / self.spec_name

    @property
    def generated(self) -> Path:
        """The spec repository's output folder (compiled and committed beside the spec)."""
        return self.spec_repo / GENERATED

    def git(self, repo: Path, *args: str) -> str:
        return Git(repo).run(*args).stdout

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


def make_repos(root: Path, spec_copy: Path, deployer: Deployer, log: Log = lambda _m: None) -> LocalRepos:
    """Both repositories, made anew: the spec copy committed with its compiled output, and the
    deployments repository holding what that spec deploys (`mlspec publish`). Raises the
    MlspecError of a compile or publish that failed."""
    repos = LocalRepos(root, spec_copy.name)
    for folder in (repos.spec_repo, repos.deployments):
        if folder.exists() or folder.is_symlink():
            if not made_here(folder):
                raise UsageError(f"{folder} exists and was not made by a local run (no .git/{MARKER}): the promote"
                                 f" stage does not delete it; move it away or use another --workdir")
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        repos.git(folder, "init", "-q", "-b", "main")
        for key, value in IDENTITY.items():
            repos.git(folder, "config", key, value)
        (folder / ".git" / MARKER).write_text("made by mlspec run --local\n", encoding="utf-8")
    repos.spec.parent.mkdir()
    shutil.copyfile(spec_copy, repos.spec)
    compiled = compile_and_apply([repos.spec], [str(repos.spec)], repos.generated)
    if compiled.write_errors:
        raise ExternalError("; ".join(d.message for d in compiled.write_errors))
    if not compiled.ok:
        raise SpecError(f"the spec repository's copy {repos.spec} does not compile", compiled.results)
    repos.git(repos.spec_repo, "add", "-A")
    repos.git(repos.spec_repo, "commit", "-q", "-m", f"{spec_copy.name}: the spec as the local run found it")
    repos.git(repos.deployments, "commit", "-q", "--allow-empty", "-m", "deployments repository")
    deployer.publish([repos.spec], repos.generated, str(repos.deployments), log)
    return repos


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
