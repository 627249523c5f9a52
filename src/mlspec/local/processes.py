"""The processes `mlspec run --local` starts: each in its own process group, each group ended
when the run ends, however it ends.

A local run starts Airflow (`airflow db migrate`, `airflow dags test`, whose tasks start kfp
steps), git and MLflow's scoring server (with its uvicorn worker).
Ctrl-C reaches the whole foreground process group, but SIGTERM (a cancelled CI job,
`timeout`) reaches mlspec alone: a child in mlspec's group would outlive it and keep serving.
So every child gets its own session (`start_new_session`), the groups are recorded here, and
ending one sends SIGTERM to the whole group, then SIGKILL after a grace period.
`handle_sigterm` makes SIGTERM act as Ctrl-C (KeyboardInterrupt: every `finally` runs), and
`end_all` ends the groups still recorded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from typing import Iterator

GRACE_SECONDS = 10.0

_groups: dict[int, subprocess.Popen] = {}  # process group id -> its leader


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwound as Ctrl-C is."""


def start(command: list[str], **kwargs) -> subprocess.Popen:
    """`subprocess.Popen(command, **kwargs)` in a new session (its own process group), recorded."""
    process = subprocess.Popen(command, start_new_session=True, **kwargs)
    _groups[process.pid] = process
    return process


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def end(process: subprocess.Popen, grace: float = GRACE_SECONDS) -> None:
    """End `process` and every process of its group: SIGTERM, then SIGKILL after `grace` s."""
    group = process.pid
    _groups.pop(group, None)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.1)  # reap the leader, or a defunct leader keeps the group "alive"
        if process.poll() is not None and not _alive(group):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def run(command: list[str], timeout: float | None = None, **kwargs) -> subprocess.CompletedProcess:
    """`subprocess.run(command, capture_output=True, text=True, ...)` in its own process group,
    the group ended when it returns, times out or is interrupted."""
    process = start(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        end(process, grace=1.0)
        raise
    finally:
        if process.pid in _groups:
            end(process, grace=1.0)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def end_all() -> None:
    """End every group still recorded (the run is over)."""
    for process in list(_groups.values()):
        end(process)


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def handle_sigterm() -> Iterator[None]:
    """Within: SIGTERM raises Terminated (a KeyboardInterrupt) in the main thread; on leaving,
    however, every recorded process group is ended and the previous handler restored."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM does not cut the clean-up short
        try:
            end_all()
        finally:
            signal.signal(signal.SIGTERM, previous)
