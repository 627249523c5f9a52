"""A thin wrapper around the `git` command line, used by publish and diff.

Plain `git` in a subprocess (no GitPython): it is what users have, it honours their
configuration (credentials, SSH, hooks) and its behaviour is the documented one.
Never prompts (GIT_TERMINAL_PROMPT=0), never forces, and speaks C locale so messages can
be recognised.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlspec.errors import ExternalError

FALLBACK_NAME = "mlspec"
FALLBACK_EMAIL = "mlspec@localhost"
GIT_TIMEOUT = 300


class GitError(ExternalError):
    """A git command failed; the message is fit to show to the user."""


@dataclass
class Git:
    cwd: Path

    def env(self) -> dict[str, str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANG": "C"}
        return env

    def run(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        try:
            result = subprocess.run(["git", *args], cwd=self.cwd, env=self.env(), capture_output=True, text=True,
                                    input=input, timeout=GIT_TIMEOUT)
        except FileNotFoundError:
            raise GitError("`git` is not installed (or not on PATH)") from None
        except subprocess.TimeoutExpired:
            raise GitError(f"`git {' '.join(args)}` did not finish within {GIT_TIMEOUT}s") from None
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise GitError(f"`git {' '.join(args)}` failed: {detail}")
        return result

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    def ok(self, *args: str) -> bool:
        return self.run(*args, check=False).returncode == 0

    # --- queries ------------------------------------------------------------------------

    def is_bare(self) -> bool:
        return self.run("rev-parse", "--is-bare-repository", check=False).stdout.strip() == "true"

    def has_commits(self) -> bool:
        return self.ok("rev-parse", "--verify", "--quiet", "HEAD^{commit}")

    def current_branch(self) -> str | None:
        result = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return result.stdout.strip() or None

    def dirty(self) -> list[str]:
        """Uncommitted changes (staged, unstaged or untracked), as porcelain lines."""
        return [line for line in self.run("status", "--porcelain", "--untracked-files=all").stdout.splitlines()
                if line.strip()]

    def head(self) -> str:
        return self.out("rev-parse", "HEAD")

    def identity_env(self) -> dict[str, str]:
        """The author/committer to use: the user's configured identity, else mlspec's."""
        extra = {}
        for role in ("AUTHOR", "COMMITTER"):
            if not self.ok("-c", "user.useConfigOnly=true", "var", f"GIT_{role}_IDENT"):
                extra[f"GIT_{role}_NAME"] = FALLBACK_NAME
                extra[f"GIT_{role}_EMAIL"] = FALLBACK_EMAIL
        return extra

    def commit(self, message: str, paths: tuple[str, ...] = ()) -> str:
        """Commit what is staged, or only `paths` (other staged changes stay staged)."""
        identity = self.identity_env()
        env = {**self.env(), **identity}
        only = ["--only", "--", *paths] if paths else []
        result = subprocess.run(["git", "commit", "--quiet", "--file", "-", *only], cwd=self.cwd, env=env,
                                capture_output=True, text=True, input=message, timeout=GIT_TIMEOUT)
        if result.returncode != 0:
            raise GitError(f"`git commit` failed: {(result.stderr or result.stdout).strip()}")
        return self.head()


def is_local_repo(target: str) -> bool:
    return "://" not in target and Path(target).is_dir()


def push_rejected(stderr: str) -> bool:
    """A push refused because the remote branch moved (non-fast-forward, or a concurrent
    push took the ref lock first): fetching and rebasing can fix these, nothing else."""
    text = stderr.lower()
    return any(marker in text for marker in (
        "non-fast-forward", "[rejected]", "fetch first", "failed to update ref", "cannot lock ref",
        "remote rejected", "stale info", "incorrect old value"))
