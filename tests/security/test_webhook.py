"""`mlspec webhook serve` holds push rights and listens on a network: requests are hostile
until their signature says otherwise. Each attack runs against the real receiver on
loopback (raw sockets where a well-behaved HTTP client could not send the request)."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path

import pytest
import yaml

from support.git_repos import files_at, log, published_churn_project
from support.mlflow_server import mlflow_server, webhook_receiver

SECRET = "s3cr3t-for-tests"


@pytest.fixture
def setup(tmp_path: Path):
    project, remote, env = published_churn_project(tmp_path)
    receiver_env = {**env, "MLSPEC_WEBHOOK_SECRET": SECRET, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}
    return project, remote, receiver_env, tmp_path / "state"


def _args(remote: Path, state: Path, *extra: str) -> list[str]:
    return ["specs", "--env", "prod", "--repo", str(remote), "--state-dir", str(state), *extra]


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    return host, int(port)


def _raw(url: str, data: bytes, timeout: float = 10) -> bytes:
    """Send `data` on a new connection and read the answer until the server closes it."""
    with socket.create_connection(_address(url), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _signed(body: str, delivery: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    from mlspec.gitops.webhook import sign

    delivery = delivery or str(uuid.uuid4())
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-MLflow-Delivery-Id": delivery, "X-MLflow-Timestamp": stamp,
            "X-MLflow-Signature": sign(SECRET, delivery, stamp, body)}


def _request(body: str, headers: dict[str, str]) -> bytes:
    lines = ["POST / HTTP/1.1", "Host: localhost", "Content-Type: application/json",
             f"Content-Length: {len(body.encode())}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body.encode()


def _event(name: str, alias: str = "champion", version: str = "7") -> str:
    return json.dumps({"entity": "model_version_alias", "action": "created", "timestamp": "2026-01-01T00:00:00Z",
                       "data": {"name": name, "alias": alias, "version": version}})


@pytest.mark.parametrize("length, expected", [("-1", 400), ("-300000000", 400), ("abc", 400), ("+5", 400),
                                              ("1e3", 400), ("99999999999999999999", 413), ("314572800", 413),
                                              (None, 411)])
def test_a_bad_content_length_is_refused_before_the_body_is_read(setup, length, expected):
    """Attack: `Content-Length: -1` passed the 1 MiB check (-1 < 1 MiB) and made the
    receiver read until the client closed the connection: 300 MiB took its memory to
    727 MB before the 401. A length that is negative, not a number, too large or absent is
    answered at once, without reading a byte of the body."""
    project, remote, env, state = setup
    with webhook_receiver(project, _args(remote, state), env) as (url, _):
        headers = "POST / HTTP/1.1\r\nHost: localhost\r\n" + (f"Content-Length: {length}\r\n" if length else "")
        with socket.create_connection(_address(url), timeout=10) as sock:
            sock.sendall((headers + "\r\n").encode() + b"x" * 65536)  # and the client keeps sending
            answer = sock.recv(65536)  # the answer comes while the connection is still open
        assert answer.startswith(b"HTTP/1.0 "), answer
        assert _status(answer) == expected, answer


def test_conflicting_content_lengths_are_refused(setup):
    """Attack: two Content-Length headers (request smuggling through a proxy in front)."""
    project, remote, env, state = setup
    with webhook_receiver(project, _args(remote, state), env) as (url, _):
        answer = _raw(url, b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}")
        assert _status(answer) == 400


def test_silent_and_slow_clients_are_cut_off_and_connections_are_bounded(setup):
    """Attack: 500 clients that connect and send nothing held 500 threads forever (no
    socket timeout, no connection cap). Now a client has `--request-timeout` seconds to
    send its request, at most `--max-connections` are served at once, and the next one is
    answered 503 at once instead of piling up."""
    project, remote, env, state = setup
    args = _args(remote, state, "--max-connections", "4", "--request-timeout", "2")
    with webhook_receiver(project, args, env) as (url, _):
        silent = [socket.create_connection(_address(url), timeout=10) for _ in range(4)]
        try:
            time.sleep(0.3)
            start = time.monotonic()
            assert _status(_raw(url, b"GET /healthz HTTP/1.0\r\n\r\n")) == 503
            assert time.monotonic() - start < 2
            # the server closes the silent connections when their time is up
            for sock in silent:
                assert sock.recv(1024) == b""
            assert time.monotonic() - start < 8
        finally:
            for sock in silent:
                sock.close()
        # a client dripping a header a byte at a time is cut off too
        with socket.create_connection(_address(url), timeout=10) as sock:
            start = time.monotonic()
            with pytest.raises(OSError):  # the server closed the connection: the next send fails
                while time.monotonic() - start < 8:
                    sock.sendall(b"X")
                    time.sleep(0.1)
                raise AssertionError("the server kept a dripping client for 8 s")
            assert time.monotonic() - start < 5
        assert _status(_raw(url, b"GET /healthz HTTP/1.0\r\n\r\n")) == 200


def test_a_delivery_replayed_after_a_restart_is_refused(setup):
    """Attack: capture a signed delivery and send it again after the receiver restarted
    (deploys restart it): the ids it had seen were kept in memory only, so the replay was
    accepted within the five-minute window. They are kept in the state folder now."""
    project, remote, env, state = setup
    body = _event("SomeoneElsesModel")
    request = _request(body, _signed(body))
    with webhook_receiver(project, _args(remote, state), env) as (url, _):
        assert _status(_raw(url, request)) == 202
        assert _status(_raw(url, request)) == 409
    with webhook_receiver(project, _args(remote, state), env) as (url, _):
        assert _status(_raw(url, request)) == 409
        other = _event("SomeoneElsesModel", version="8")
        assert _status(_raw(url, _request(other, _signed(other)))) == 202
    seen = json.loads((state / "seen-deliveries.json").read_text())
    assert len(seen) == 2


def test_control_characters_in_requests_do_not_reach_the_log_raw(setup):
    """Attack: a request line holding terminal escapes, and a (signed) event whose model
    name holds a line break and a fake log line: the log printed them raw, so a request
    could rewrite the operator's terminal or forge "promoted ..." lines in the log."""
    project, remote, env, state = setup
    body = _event("evil\n2026-01-01 promoted churn version 99 in prod\x1b[2J")
    with webhook_receiver(project, _args(remote, state), env) as (url, log_path):
        _raw(url, b"GET /\x1b]0;owned\x07\x1b[31mred HTTP/1.0\r\n\r\n")
        assert _status(_raw(url, _request(body, _signed(body)))) == 202
        time.sleep(0.5)
        text = log_path.read_text()
    assert "\x1b" not in text and "\x07" not in text
    assert not any(line.startswith("2026-01-01 promoted") for line in text.splitlines())
    assert "\\x1b[31mred" in text and "evil\\n2026-01-01 promoted" in text


@pytest.mark.slow
def test_a_promotion_whose_publish_fails_is_undone_so_a_retry_starts_the_canary_again(setup, tmp_path):
    """Attack (or accident): a promotion whose publish fails (the deployments server refuses
    the push) answered 422 but kept the spec edit; the next event for that version then
    found it "in canary" and completed it: 100% of traffic on a version that never served
    a canary. The edit is undone when the publish fails, so the next event starts the canary."""
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    project, remote, env, state = setup
    spec = project / "specs/customer-churn.yaml"
    before = spec.read_text()
    commits = log(remote, env)
    hook = remote / "hooks/pre-receive"
    hook.write_text("#!/bin/sh\necho 'deployments are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    with mlflow_server(tmp_path / "mlflow") as tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        with mlflow.start_run():
            model = LogisticRegression().fit(np.array([[0.0, 1.0], [1.0, 0.0]]), [0, 1])
            info = mlflow.sklearn.log_model(model, name="model", registered_model_name="ChurnModel")
        version = str(info.registered_model_version)
        storage = MlflowClient(tracking_uri=tracking_uri).get_model_version_download_uri("ChurnModel", version)
        receiver_env = {**env, "MLFLOW_TRACKING_URI": tracking_uri}
        with webhook_receiver(project, _args(remote, state), receiver_env) as (url, rlog):
            body = _event("ChurnModel", version=version)
            answer = _raw(url, _request(body, _signed(body)), timeout=300)
            assert _status(answer) == 422, answer
            assert "deployments are frozen" in rlog.read_text()
            assert spec.read_text() == before  # the edit was undone
            assert log(remote, env) == commits

            hook.unlink()  # the freeze ends; MLflow (or an operator) sends the event again
            answer = _raw(url, _request(body, _signed(body)), timeout=300)
            assert _status(answer) == 200, rlog.read_text()[-3000:]
    service = yaml.safe_load(files_at(remote, "main", env)["deployments/customer-churn/prod/inferenceservice-churn.yaml"])
    assert service["spec"]["predictor"]["model"]["storageUri"] == storage
    assert service["spec"]["predictor"]["canaryTrafficPercent"] == 10  # a canary, not 100%
    assert len(log(remote, env)) == len(commits) + 1


def test_a_hostile_version_or_storage_location_is_refused_before_it_reaches_git(setup):
    """Attack: a signed alias event's version, and the storage location MLflow answers for it,
    went into the spec, the InferenceService and the commit message unchecked (newlines in the
    URI forged a "decided by" line and a `Signed-off-by` trailer). Now the event's version must
    be a positive integer (400) and MLflow's storage location pass the spec's own
    `serving.storageUri` rule (422); the deployments repository and the spec are untouched."""
    from support.fake_registry import fake_registry

    project, remote, env, state = setup
    spec = project / "specs/customer-churn.yaml"
    before, commits = spec.read_text(), log(remote, env)
    forged = "s3://mlflow-artifacts/1/abc/artifacts/model\nSigned-off-by: Release Manager <rm@example.com>"
    with fake_registry(storage=lambda name, version: forged) as tracking_uri:
        receiver_env = {**env, "MLFLOW_TRACKING_URI": tracking_uri}
        with webhook_receiver(project, _args(remote, state), receiver_env) as (url, rlog):
            for version in ("7\nSigned-off-by: Release Manager <rm@example.com>", "-1", "0", "7.0", "../7"):
                body = _event("ChurnModel", version=version)
                answer = _raw(url, _request(body, _signed(body)))
                assert _status(answer) == 400 and b"not a positive integer" in answer, answer
            body = _event("ChurnModel", version="7")
            answer = _raw(url, _request(body, _signed(body)), timeout=120)
            assert _status(answer) == 422 and b"storage location the spec cannot take" in answer, answer
            text = rlog.read_text()
    assert not any(line.startswith("Signed-off-by") for line in text.splitlines()), text
    assert spec.read_text() == before
    assert log(remote, env) == commits
