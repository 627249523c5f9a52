"""Real git repositories for the GitOps tests: a bare "remote" and clones, in a temp dir.

Every command runs with a hermetic git configuration (no user or system config), so a
developer's settings (signing, hooks, default branch) cannot change what the tests see.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IDENTITY = {"GIT_AUTHOR_NAME": "Test Publisher", "GIT_AUTHOR_EMAIL": "publisher@example.com",
            "GIT_COMMITTER_NAME": "Test Publisher", "GIT_COMMITTER_EMAIL": "publisher@example.com"}


def git_env(home: Path, identity: bool = True) -> dict[str, str]:
    """Environment for git and for `mlspec` subprocesses that run git."""
    config = home / "gitconfig"
    if not config.exists():
        home.mkdir(parents=True, exist_ok=True)
        config.write_text("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"})
    if identity:
        env.update(IDENTITY)
    return env


def git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}:\n{result.stderr}")
    return result.stdout


def make_remote(root: Path, env: dict[str, str]) -> Path:
    """A bare repository with one commit on main (a README), like a fresh deployments repo."""
    remote = root / "deployments.git"
    git(root, "init", "--quiet", "--bare", "-b", "main", str(remote), env=env)
    seed = root / "seed"
    git(root, "clone", "--quiet", str(remote), str(seed), env=env)
    (seed / "README.md").write_text("Deployments, synced by Argo CD.\n")
    git(seed, "add", "README.md", env=env)
    git(seed, "commit", "--quiet", "-m", "initial", env=env)
    git(seed, "push", "--quiet", "origin", "HEAD:refs/heads/main", env=env)
    return remote


def clone(remote: Path, dest: Path, env: dict[str, str]) -> Path:
    git(dest.parent, "clone", "--quiet", str(remote), str(dest), env=env)
    return dest


def files_at(repo: Path, rev: str, env: dict[str, str]) -> dict[str, str]:
    """Every file of a commit (works on bare repositories), path -> text."""
    names = git(repo, "ls-tree", "-r", "--name-only", rev, env=env).splitlines()
    return {name: git(repo, "show", f"{rev}:{name}", env=env) for name in names}


def log(repo: Path, env: dict[str, str], rev: str = "main") -> list[str]:
    """Commit subjects, newest first."""
    return git(repo, "log", "--format=%s", rev, env=env).splitlines()


def published_churn_project(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A project holding customer-churn's spec, already published once to a fresh bare
    deployments repository: (project, remote, git environment). The start of every webhook
    test: an alias event then promotes against what is deployed."""
    import shutil

    from conftest import SPECS, run_mlspec

    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    shutil.copy(SPECS / "customer-churn.yaml", project / "specs")
    env = git_env(tmp_path / "home")
    remote = make_remote(tmp_path, env)
    assert run_mlspec("publish", "specs", "--repo", str(remote), cwd=project, env=env).returncode == 0
    return project, remote, env
