"""`mlspec ci comment`: one pull-request comment (GitHub) or merge-request note (GitLab) that
each CI run updates instead of adding another, against a loopback server speaking the APIs."""

from __future__ import annotations

import json

import pytest

from conftest import invoke_mlspec
from support.forge_api import Forge, ForgeServer

MARKER = "<!-- mlspec-diff -->"


@pytest.fixture
def forge():
    with ForgeServer() as forge:
        yield forge


def github_env(forge: Forge, tmp_path, number: int = 7) -> dict:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": number}}))
    return {"GITHUB_API_URL": forge.url, "GITHUB_REPOSITORY": "acme/ml-specs", "GITHUB_TOKEN": forge.token,
            "GITHUB_EVENT_PATH": str(event), "GITLAB_CI": ""}


def gitlab_env(forge: Forge) -> dict:
    return {"CI_API_V4_URL": forge.url + "/api/v4", "CI_PROJECT_ID": "group/ml specs", "CI_MERGE_REQUEST_IID": "3",
            "MLSPEC_GITLAB_TOKEN": forge.token, "GITLAB_CI": "true"}


def post(tmp_path, env: dict, text: str, *args: str):
    body = tmp_path / "diff.md"
    body.write_text(text)
    return invoke_mlspec("ci", "comment", str(body), *args, env=env)


def test_the_first_run_creates_the_comment_and_the_next_ones_update_it(forge, tmp_path):
    env = github_env(forge, tmp_path)
    first = post(tmp_path, env, "## mlspec diff\n\none file changed\n")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("created comment 1001")
    second = post(tmp_path, env, "## mlspec diff\n\ntwo files changed\n")
    third = post(tmp_path, env, "## mlspec diff\n\nNo changes\n")
    assert (second.returncode, third.returncode) == (0, 0)
    assert second.stdout.startswith("updated comment 1001") and third.stdout.startswith("updated comment 1001")
    writes = forge.writes()
    assert [(c.method, c.path) for c in writes] == [
        ("POST", "/repos/acme/ml-specs/issues/7/comments"),
        ("PATCH", "/repos/acme/ml-specs/issues/comments/1001"),
        ("PATCH", "/repos/acme/ml-specs/issues/comments/1001")]
    assert len(forge.comments) == 1
    assert forge.comments[0]["body"] == f"{MARKER}\n## mlspec diff\n\nNo changes\n"
    assert all(c.headers["authorization"] == f"Bearer {forge.token}" for c in forge.calls)
    assert all(c.headers["x-github-api-version"] == "2022-11-28" for c in forge.calls)


def test_a_comment_someone_else_wrote_with_the_marker_is_left_alone(forge, tmp_path):
    """A pull request's author can quote the marker; only the token's own comment is edited."""
    forge.comments.append({"id": 5, "body": f"{MARKER}\nplanted", "user": {"login": "mallory", "type": "User"}})
    result = post(tmp_path, github_env(forge, tmp_path), "the diff\n")
    assert result.stdout.startswith("created comment")
    assert forge.comments[0]["body"] == f"{MARKER}\nplanted"
    assert [c.method for c in forge.writes()] == ["POST"]


def test_the_comment_is_found_on_a_later_page(forge, tmp_path):
    forge.comments.extend({"id": i, "body": f"comment {i}", "user": {"login": "someone", "type": "User"}}
                          for i in range(1, 151))
    forge.comments.append({"id": 151, "body": f"{MARKER}\nold", "user": {"login": "github-actions[bot]",
                                                                         "type": "Bot"}})
    result = post(tmp_path, github_env(forge, tmp_path), "new\n")
    assert result.stdout.startswith("updated comment 151"), result.stdout + result.stderr
    pages = [c.query.get("page") for c in forge.calls if c.method == "GET" and c.path.endswith("/comments")]
    assert pages == ["1", "2"]


def test_a_token_that_may_read_its_user_matches_comments_by_that_login(forge, tmp_path):
    forge.github_user = {"login": "ml-bot", "type": "User"}
    forge.comments.append({"id": 9, "body": f"{MARKER}\nold", "user": {"login": "ml-bot", "type": "User"}})
    result = post(tmp_path, github_env(forge, tmp_path), "new\n")
    assert result.stdout.startswith("updated comment 9")


def test_markers_keep_two_spec_folders_apart(forge, tmp_path):
    env = github_env(forge, tmp_path)
    assert post(tmp_path, env, "a\n", "--marker", "team-a").stdout.startswith("created")
    assert post(tmp_path, env, "b\n", "--marker", "team-b").stdout.startswith("created")
    assert post(tmp_path, env, "a2\n", "--marker", "team-a").stdout.startswith("updated comment 1001")
    assert [c["body"].split("\n")[0] for c in forge.comments] == ["<!-- mlspec-diff:team-a -->",
                                                                 "<!-- mlspec-diff:team-b -->"]
    bad = post(tmp_path, env, "x\n", "--marker", "a -->")
    assert bad.returncode == 2 and "--marker" in bad.stderr


def test_a_body_over_githubs_limit_is_cut_with_a_note(forge, tmp_path):
    post(tmp_path, github_env(forge, tmp_path), "x" * 70_000)
    body = forge.comments[0]["body"]
    assert len(body) <= 65_536 and body.startswith(MARKER) and "run `mlspec diff` locally" in body


def test_gitlab_creates_then_updates_the_merge_request_note(forge, tmp_path):
    env = gitlab_env(forge)
    forge.comments.append({"id": 1, "body": f"{MARKER}\nby a person", "author": {"id": 7}, "system": False})
    assert post(tmp_path, env, "first\n").stdout.startswith("created comment 1001")
    assert post(tmp_path, env, "second\n").stdout.startswith("updated comment 1001")
    writes = forge.writes()
    # The project path is one URL-encoded segment, as GitLab's API wants it.
    assert [(c.method, c.path) for c in writes] == [
        ("POST", "/api/v4/projects/group%2Fml%20specs/merge_requests/3/notes"),
        ("PUT", "/api/v4/projects/group%2Fml%20specs/merge_requests/3/notes/1001")]
    assert forge.comments[1]["body"] == f"{MARKER}\nsecond\n"
    assert forge.comments[0]["body"] == f"{MARKER}\nby a person"
    assert all(c.headers["private-token"] == forge.token for c in forge.calls)


def test_a_refused_request_is_an_external_error_naming_the_status(forge, tmp_path):
    env = {**github_env(forge, tmp_path), "GITHUB_TOKEN": "wrong"}
    result = post(tmp_path, env, "x\n")
    assert result.returncode == 4
    assert "HTTP 401" in result.stderr and "wrong" not in result.stderr


def test_an_unreachable_api_is_an_external_error(tmp_path):
    env = {**github_env(Forge(url="http://127.0.0.1:9"), tmp_path)}
    result = post(tmp_path, env, "x\n")
    assert result.returncode == 4 and "127.0.0.1:9" in result.stderr


@pytest.mark.parametrize(("drop", "message"), [("GITHUB_TOKEN", "GITHUB_TOKEN is not set"),
                                               ("GITHUB_REPOSITORY", "GITHUB_REPOSITORY is not set"),
                                               ("GITHUB_EVENT_PATH", "which pull request")])
def test_missing_settings_are_usage_errors(forge, tmp_path, drop, message):
    env = {**github_env(forge, tmp_path), drop: ""}
    result = post(tmp_path, env, "x\n")
    assert result.returncode == 2 and message in result.stderr
    assert not forge.calls


def test_an_event_that_is_no_pull_request_is_a_usage_error(forge, tmp_path):
    env = github_env(forge, tmp_path)
    (tmp_path / "event.json").write_text(json.dumps({"ref": "refs/heads/main"}))
    result = post(tmp_path, env, "x\n")
    assert result.returncode == 2 and "not a pull_request event" in result.stderr
