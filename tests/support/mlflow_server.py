"""Servers for the webhook tests: a real `mlflow server` (sqlite backend) and the
`mlspec webhook serve` receiver, both on 127.0.0.1, each in its own process group so the
test stops everything it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from support.net import free_port


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} not ready after {timeout}s:\n{log.read_text()[-3000:]}")


@contextmanager
def mlflow_server(root: Path):
    """Yields the tracking URI of a local MLflow server that may call webhooks on loopback."""
    from cryptography.fernet import Fernet

    port = free_port()
    artifacts = root / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    log = root / "mlflow-server.log"
    env = {**os.environ,
           "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",  # the receiver is plain http on loopback
           "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
           "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
           "MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES": "0",
           "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
             "--default-artifact-root", artifacts.as_uri(), "--no-serve-artifacts",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=root, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/health", process, log, timeout=120)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


@contextmanager
def webhook_receiver(cwd: Path, args: list[str], env: dict[str, str]):
    """Yields (url, log path) of `mlspec webhook serve ARGS --port 0`. Delivery ids are kept
    beside the log unless ARGS name a --state-dir (never in the user's ~/.local/state)."""
    log = cwd.parent / f"webhook-{time.monotonic_ns()}.log"
    if "--state-dir" not in args:
        args = [*args, "--state-dir", str(log.with_suffix(".state"))]
    with open(log, "w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "mlspec", "webhook", "serve", *args, "--port", "0"],
                                   cwd=cwd, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None and time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"receiver exited with {process.returncode}:\n{log.read_text()}")
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+/)", log.read_text())
            url = match.group(1) if match else None
            time.sleep(0.1)
        assert url, f"receiver did not start:\n{log.read_text()}"
        _wait_http(url + "healthz", process, log, timeout=30)
        yield url, log
    finally:
        _stop(process)
