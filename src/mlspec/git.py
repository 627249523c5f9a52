"""A thin wrapper around the `git` command line, used by publish and diff.

Plain `git` in a subprocess (no GitPython): it is what users have, it honours their
configuration (credentials, SSH, hooks) and its behaviour is the documented one.
Never prompts (GIT_TERMINAL_PROMPT=0), never forces, and speaks C locale so messages can
be recognised.

Values that come from users or specs (paths, branch names, repository URLs) never reach
git as options or pathspec magic: every pathspec is literal (GIT_LITERAL_PATHSPECS=1, so
`:!x` or `*` is a file name), each such value follows a `--`, and branch names are
checked with `git check-ref-format --branch` first (`check_branch_name`).
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
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANG": "C", "GIT_LITERAL_PATHSPECS": "1"}
        env.pop("GIT_GLOB_PATHSPECS", None)
        env.pop("GIT_ICASE_PATHSPECS", None)
        env.pop("GIT_NOGLOB_PATHSPECS", None)
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
            raise GitError(f"`git {' '.join(args)}` failed: {output_of(result)}")
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
        try:
            result = subprocess.run(["git", "commit", "--quiet", "--file", "-", *only], cwd=self.cwd, env=env,
                                    capture_output=True, text=True, input=message, timeout=GIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise GitError(f"`git commit` did not finish within {GIT_TIMEOUT}s") from None
        if result.returncode != 0:
            raise GitError(f"`git commit` failed (exit {result.returncode}): {output_of(result)}")
        return self.head()


def output_of(result: subprocess.CompletedProcess) -> str:
    """What git said (stderr and stdout), or a note that it said nothing (a hook that exits
    1 silently)."""
    said = "\n".join(part.strip() for part in (result.stderr, result.stdout) if part and part.strip())
    return said or "git printed nothing (a hook that refused without a message?)"


def is_local_repo(target: str) -> bool:
    return "://" not in target and Path(target).is_dir()


def check_branch_name(name: str) -> str:
    """`name` if git takes it for a branch name as it is (`git check-ref-format --branch`:
    no leading `-`, no `..`, `@{`, control characters...), else a UsageError."""
    from mlspec.errors import UsageError
    from mlspec.textsafe import printable

    problem = not name or name.startswith("-") or name != name.strip() or "@{" in name or name == "HEAD"
    if not problem:
        try:
            result = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True, text=True,
                                    timeout=GIT_TIMEOUT, env={**os.environ, "LC_ALL": "C", "LANG": "C"},
                                    cwd=os.path.sep)
        except FileNotFoundError:
            raise GitError("`git` is not installed (or not on PATH)") from None
        problem = result.returncode != 0 or result.stdout.strip() != name
    if problem:
        raise UsageError(f"`{printable(name)}` is not a valid branch name (see `git check-ref-format --branch`)")
    return name


# How git words a push that lost a race: the branch moved on (non-fast-forward, fetch
# first), or a concurrent push held or changed the ref while this one updated it. Fetching
# and rebasing fixes these; any other refusal (a pre-receive hook, a protected branch,
# permissions) would be refused again and is reported at once.
_RACE_MARKERS = ("non-fast-forward", "fetch first", "cannot lock ref", "failed to update ref", "incorrect old value",
                 "stale info")


def push_rejected(stderr: str) -> bool:
    """A push refused because the remote branch moved (non-fast-forward, or a concurrent
    push took the ref lock first): fetching and rebasing can fix these, nothing else. A
    refusal by the server's policy (`remote rejected ... (pre-receive hook declined)`) is
    not a race."""
    text = stderr.lower()
    for line in text.splitlines():
        if "hook declined" in line or "protected branch" in line or "permission" in line:
            return False
    return any(marker in text for marker in _RACE_MARKERS)
