"""Serving a promoted model on this machine, and logging its traffic as KServe would.

KServe serves the `mlflow` format with MLServer (mlserver-mlflow). MLServer does not install
beside the local extra: mlserver 1.7.1 needs fastapi < 0.116, the pinned Airflow and MLflow
fastapi 0.136.3 (pip: ResolutionImpossible; without a pin it falls back to mlserver 1.2.1,
which predates pydantic 2). So the model is served by MLflow's scoring server (`mlflow models
serve --env-manager local`, uvicorn on loopback), from the very storage folder the published
InferenceService names: what the promotion deployed is what answers.

Each request is scored through that server in MLflow's `dataframe_split` form; what is logged
is the exchange as KServe's logger records it for the InferenceService's protocol (v2: one
tensor per feature column; v1: `instances`), in the folder the drift DAG reads."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mlspec.local import processes
from mlspec.local.airflow_home import step_environment
from mlspec.local.inference_log import REQUEST, RESPONSE, log_request, write_objects

RUNTIME = "MLflow's scoring server (`mlflow models serve`; MLServer does not install beside the pinned tools)"
READY_SECONDS = 180
ROWS_PER_REQUEST = 50


class ServingError(RuntimeError):
    """The server did not start, or did not answer a request."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ScoringServer:
    model_path: Path
    log: Path
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = self.port or _free_port()
        executable = Path(sys.executable).parent / "mlflow"
        # The server unpickles the trained model (the spec's estimator): only the variables a step may see.
        env = {**step_environment(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "w", encoding="utf-8") as out:
            self.process = processes.start(
                [str(executable), "models", "serve", "-m", str(self.model_path), "--env-manager", "local",
                 "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
                stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServingError(f"`mlflow models serve` exited {self.process.returncode}: {self._last_lines()}")
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise ServingError(f"`mlflow models serve` did not answer /ping within {READY_SECONDS} s")

    def stop(self) -> None:
        """End the server and its worker (its whole process group)."""
        if self.process is not None:
            processes.end(self.process, grace=20)
        self.process = None

    def predict(self, columns: list[str], rows: list[list]) -> list:
        body = json.dumps({"dataframe_split": {"columns": columns, "data": rows}}).encode()
        request = urllib.request.Request(f"{self.url}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                predictions = json.loads(answer.read())["predictions"]
        except urllib.error.HTTPError as error:
            raise ServingError(f"{self.url}/invocations answered {error.code}: {error.read()[:500]!r}") from None
        except (urllib.error.URLError, OSError, KeyError, ValueError) as error:
            raise ServingError(f"{self.url}/invocations: {error}") from None
        return [_plain(p) for p in predictions]

    def _last_lines(self) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        errors = [line for line in text.splitlines() if "Error" in line or "Exception" in line]
        return (errors[-1] if errors else text[-500:]).strip() + f" (log: {self.log})"


def _plain(value):
    """A prediction as JSON keeps it: a number, or the first of a one-element list."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


@dataclass(frozen=True)
class LoggedService:
    """Where and as what the InferenceService's logger writes (from the published manifest)."""
    isvc: str
    namespace: str
    log_url: str
    protocol: str  # v1 or v2
    folder: Path  # the drift DAG's prediction folder, in the work folder's store


def exchange(columns: list[str], rows: list[list], predictions: list, protocol: str, model: str
             ) -> tuple[dict, dict]:
    """The request and response bodies KServe's logger records for one scored batch."""
    if protocol == "v2":
        inputs = [{"name": name, "shape": [len(rows)], "datatype": _datatype([r[i] for r in rows]),
                   "data": [r[i] for r in rows]} for i, name in enumerate(columns)]
        outputs = [{"name": "predict", "shape": [len(predictions)], "datatype": _datatype(predictions),
                    "data": predictions}]
        return {"inputs": inputs}, {"model_name": model, "outputs": outputs}
    return {"instances": rows}, {"predictions": predictions}


def _datatype(values: list) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def score_and_log(server: ScoringServer, service: LoggedService, columns: list[str], rows: list[list],
                  when: dt.datetime, label: str) -> int:
    """Score `rows` in requests of ROWS_PER_REQUEST and log each exchange, stamped `when`;
    returns how many requests were sent."""
    stamp = when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    events = []
    for number, start in enumerate(range(0, len(rows), ROWS_PER_REQUEST)):
        batch = rows[start:start + ROWS_PER_REQUEST]
        predictions = server.predict(columns, batch)
        request, response = exchange(columns, batch, predictions, service.protocol, service.isvc)
        event = f"{label}-{number:05d}"
        where = {"isvc": service.isvc, "namespace": service.namespace, "log_url": service.log_url}
        events += [log_request(event, REQUEST, request, stamp, **where),
                   log_request(event, RESPONSE, response, stamp, **where)]
    write_objects(service.folder, events)
    return len(events) // 2
