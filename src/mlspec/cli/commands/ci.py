"""`mlspec ci comment`: post the diff as one pull-request comment, updated on each push."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from mlspec.errors import UsageError


@click.group("ci")
def command() -> None:
    """Helpers for CI (the GitHub Action and the GitLab template use them)."""


def _env(name: str, what: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise UsageError(f"{name} is not set ({what})")
    return value


def _github_number() -> int:
    """The pull request's number from the event GitHub Actions saved (GITHUB_EVENT_PATH)."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        raise UsageError("no --number and no GITHUB_EVENT_PATH: which pull request?")
    try:
        event = json.loads(Path(path).read_text())
        return int(event["pull_request"]["number"])
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(f"{path}: not a pull_request event (give --number)") from None


def _gitlab_iid() -> int:
    value = _env("CI_MERGE_REQUEST_IID", "run in a merge request pipeline, or give --number")
    if not value.isdigit():
        raise UsageError(f"CI_MERGE_REQUEST_IID={value!r} is not a number")
    return int(value)


@command.command("comment")
@click.argument("body_file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--platform", type=click.Choice(["github", "gitlab"]), default=None,
              help="[default: gitlab under GitLab CI (GITLAB_CI), else github]")
@click.option("--number", type=click.IntRange(min=1), default=None,
              help="Pull request number (GitHub; default: from GITHUB_EVENT_PATH) or merge request IID (GitLab;"
                   " default: CI_MERGE_REQUEST_IID).")
@click.option("--marker", "key", default=None,
              help="Tell this comment from others mlspec posts on the same pull request (one per spec folder).")
@click.option("--author", default=None,
              help="GitHub: the login the token comments as [default: asked from the API, else github-actions[bot]].")
def comment(body_file, platform, number, key, author) -> None:
    """Post BODY_FILE (Markdown, `-` reads stdin, e.g. `mlspec diff --format markdown`) as the
    pull request's mlspec comment: the comment an earlier run posted (found by a hidden marker)
    is updated, else one is created.

    \b
    GitHub: GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL (default https://api.github.com).
    GitLab: MLSPEC_GITLAB_TOKEN (a token with the api scope), CI_PROJECT_ID, CI_API_V4_URL,
    CI_MERGE_REQUEST_IID.
    """
    from mlspec.review.pr_comment import post_github, post_gitlab

    try:
        text = sys.stdin.read() if body_file == "-" else Path(body_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{body_file}: {exc}") from None
    platform = platform or ("gitlab" if os.environ.get("GITLAB_CI") else "github")
    if platform == "github":
        posted = post_github(text, api_url=os.environ.get("GITHUB_API_URL") or "https://api.github.com",
                             repository=_env("GITHUB_REPOSITORY", "OWNER/NAME"),
                             number=number or _github_number(),
                             token=_env("GITHUB_TOKEN", "a token that may write pull-request comments"),
                             key=key, author=author)
    else:
        posted = post_gitlab(text, api_url=_env("CI_API_V4_URL", "the GitLab API, e.g. https://gitlab.com/api/v4"),
                             project=_env("CI_PROJECT_ID", "the project's id"),
                             iid=number or _gitlab_iid(),
                             token=_env("MLSPEC_GITLAB_TOKEN", "a project access token with the api scope"),
                             key=key)
    click.echo(f"{posted.action} comment {posted.id}" + (f": {posted.url}" if posted.url else ""))
