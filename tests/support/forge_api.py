"""A loopback server speaking the part of GitHub's and GitLab's REST APIs that `mlspec ci comment`
uses, recording every call: the comments (notes) of one pull (merge) request, listed page by
page, created, edited. What it answers follows the APIs' documented shapes:

- GitHub: GET /user (403 for an Actions token, as GitHub answers it), GET/POST
  /repos/{owner}/{repo}/issues/{number}/comments, PATCH /repos/{owner}/{repo}/issues/comments/{id};
  a comment is {id, body, user: {login, type}, html_url}.
- GitLab (under /api/v4): GET /user, GET/POST /projects/{id}/merge_requests/{iid}/notes,
  PUT .../notes/{note_id}; a note is {id, body, author: {id, username}, system}.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Call:
    method: str
    path: str
    query: dict
    headers: dict
    body: dict | None


@dataclass
class Forge:
    """State and record of the fake API; `url` is the API base (GITHUB_API_URL or CI_API_V4_URL)."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    comments: list[dict] = field(default_factory=list)
    github_user: dict | None = None  # None: /user answers 403, as for GITHUB_TOKEN
    gitlab_user: dict = field(default_factory=lambda: {"id": 42, "username": "project_1_bot"})
    token: str = "test-token"
    next_id: int = 1000

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method in ("POST", "PATCH", "PUT")]


GH_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
GH_EDIT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
GL_LIST = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes$")
GL_EDIT = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes/(\d+)$")


def _handler(forge: Forge):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, status: int, payload) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            forge.calls.append(Call(self.command, parts.path, query, {k.lower(): v for k, v in self.headers.items()}, body))
            path = parts.path
            github = self.headers.get("Authorization") == f"Bearer {forge.token}"
            gitlab = self.headers.get("PRIVATE-TOKEN") == forge.token
            if not (github or gitlab):
                return self._answer(401, {"message": "Bad credentials"})
            if path in ("/user", "/api/v4/user"):
                if gitlab:
                    return self._answer(200, forge.gitlab_user)
                if forge.github_user is None:
                    return self._answer(403, {"message": "Resource not accessible by integration"})
                return self._answer(200, forge.github_user)
            if (GH_LIST.match(path) or GL_LIST.match(path)) and self.command == "GET":
                page, per_page = int(query.get("page", 1)), int(query.get("per_page", 30))
                return self._answer(200, forge.comments[(page - 1) * per_page:page * per_page])
            if (GH_LIST.match(path) or GL_LIST.match(path)) and self.command == "POST":
                forge.next_id += 1
                item = {"id": forge.next_id, "body": body["body"]}
                if github:
                    item.update(user={"login": "github-actions[bot]", "type": "Bot"},
                                html_url=f"https://github.example/pull/1#issuecomment-{forge.next_id}")
                else:
                    item.update(author=dict(forge.gitlab_user), system=False)
                forge.comments.append(item)
                return self._answer(201, item)
            match = GH_EDIT.match(path) if github else GL_EDIT.match(path)
            if match and self.command == ("PATCH" if github else "PUT"):
                wanted = int(match.groups()[-1])
                for item in forge.comments:
                    if item["id"] == wanted:
                        item["body"] = body["body"]
                        return self._answer(200, item)
                return self._answer(404, {"message": "Not Found"})
            return self._answer(404, {"message": "Not Found"})

        do_GET = do_POST = do_PATCH = do_PUT = _serve

    return Handler


class ForgeServer:
    """Context manager: a Forge served on 127.0.0.1 in a thread, stopped on exit."""

    def __init__(self, forge: Forge | None = None):
        self.forge = forge or Forge()

    def __enter__(self) -> Forge:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.forge))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.forge.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self.forge

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
