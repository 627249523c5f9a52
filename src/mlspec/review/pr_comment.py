"""One pull-request comment (GitHub) or merge-request note (GitLab) that CI keeps up to date.

CI posts `mlspec diff --format markdown` on every push; a reviewer wants one comment that says
what the pull request does now, not one per push. The comment starts with a hidden marker
(`<!-- mlspec-diff -->`, or `<!-- mlspec-diff:KEY -->` when a repository posts several); on each
run the comments of the pull request are listed, the first one carrying the marker and written
by the same account is edited (PATCH on GitHub, PUT on GitLab), and only when there is none is a
new one created. Python's standard library only (urllib), so it runs wherever mlspec does.

The API base URL comes from the platform's own variable (`GITHUB_API_URL`, `CI_API_V4_URL`),
as on GitHub Enterprise or a self-managed GitLab; the token only from the environment, never
from the command line (it would show in the process list and in CI logs).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from mlspec.errors import ExternalError, UsageError

TIMEOUT_SECONDS = 30
PER_PAGE = 100
MAX_PAGES = 50  # 5,000 comments: a bound, not a limit anyone meets
GITHUB_LIMIT = 65_536  # characters GitHub accepts in a comment body
GITHUB_ACTIONS_BOT = "github-actions[bot]"  # whom GITHUB_TOKEN comments as (it may not read /user)
MARKER_KEY = re.compile(r"[A-Za-z0-9._-]{1,64}")


def marker(key: str | None = None) -> str:
    if key is not None and not MARKER_KEY.fullmatch(key):
        raise UsageError(f"--marker {key!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return f"<!-- mlspec-diff{':' + key if key else ''} -->"


def comment_body(text: str, tag: str, limit: int) -> str:
    """The marker on the first line, then `text`, cut to `limit` characters with a note."""
    body = f"{tag}\n{text}"
    if len(body) <= limit:
        return body
    note = "\n\n*Cut to fit a comment: run `mlspec diff` locally for the rest.*\n"
    return body[:limit - len(note)] + note


@dataclass(frozen=True)
class Posted:
    action: str  # "created" or "updated"
    id: int
    url: str


class Api:
    """A JSON REST API under `base`, authenticated by `headers`."""

    def __init__(self, base: str, headers: dict[str, str]):
        if not base.startswith(("https://", "http://")):
            raise UsageError(f"API URL {base!r} is not http:// or https://")
        self.base = base.rstrip("/")
        self.headers = {"Accept": "application/json", "User-Agent": "mlspec-ci-comment", **headers}

    def call(self, method: str, path: str, payload: dict | None = None, query: dict | None = None):
        url = f"{self.base}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - http(s) only
                text = response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace")
            raise HttpError(exc.code, f"{method} {url}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ExternalError(f"{method} {url}: {getattr(exc, 'reason', exc)}") from None
        try:
            return json.loads(text) if text else None
        except ValueError:
            raise ExternalError(f"{method} {url}: the answer is not JSON") from None

    def pages(self, path: str):
        for page in range(1, MAX_PAGES + 1):
            items = self.call("GET", path, query={"per_page": PER_PAGE, "page": page})
            if not isinstance(items, list):
                raise ExternalError(f"GET {self.base}{path}: expected a list")
            yield from items
            if len(items) < PER_PAGE:
                return


class HttpError(ExternalError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _mine(item: dict, tag: str) -> bool:
    body = item.get("body")
    return isinstance(body, str) and body.split("\n", 1)[0].strip() == tag


def post_github(text: str, *, api_url: str, repository: str, number: int, token: str,
                key: str | None = None, author: str | None = None) -> Posted:
    """Create or update the pull request's mlspec comment; `author` is the login the token
    comments as (default: asked from the API, else GITHUB_TOKEN's github-actions[bot])."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        raise UsageError(f"repository {repository!r} is not OWNER/NAME")
    api = Api(api_url, {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                        "X-GitHub-Api-Version": "2022-11-28"})
    tag = marker(key)
    if author is None:
        try:
            author = str((api.call("GET", "/user") or {}).get("login") or GITHUB_ACTIONS_BOT)
        except HttpError as exc:
            if exc.status not in (401, 403, 404):  # an installation token may not read /user
                raise
            author = GITHUB_ACTIONS_BOT
    body = comment_body(text, tag, GITHUB_LIMIT)
    comments = f"/repos/{repository}/issues/{number}/comments"
    for item in api.pages(comments):
        if _mine(item, tag) and (item.get("user") or {}).get("login") == author:
            updated = api.call("PATCH", f"/repos/{repository}/issues/comments/{int(item['id'])}", {"body": body})
            return Posted("updated", int(item["id"]), str((updated or {}).get("html_url", "")))
    created = api.call("POST", comments, {"body": body})
    return Posted("created", int(created["id"]), str(created.get("html_url", "")))


def post_gitlab(text: str, *, api_url: str, project: str, iid: int, token: str, key: str | None = None) -> Posted:
    """Create or update the merge request's mlspec note (written by the token's user)."""
    api = Api(api_url, {"PRIVATE-TOKEN": token})
    tag = marker(key)
    me = (api.call("GET", "/user") or {}).get("id")
    notes = f"/projects/{urllib.parse.quote(project, safe='')}/merge_requests/{iid}/notes"
    body = comment_body(text, tag, 1_000_000)
    for item in api.pages(notes):
        if _mine(item, tag) and not item.get("system") and (item.get("author") or {}).get("id") == me:
            api.call("PUT", f"{notes}/{int(item['id'])}", {"body": body})
            return Posted("updated", int(item["id"]), "")
    created = api.call("POST", notes, {"body": body})
    return Posted("created", int(created["id"]), "")
