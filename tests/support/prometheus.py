"""A real Prometheus (Debian's package) scraping a loopback exporter of Knative queue-proxy
metrics, for the canary-analysis tests.

The exporter serves what a KServe predictor's queue-proxies export in Knative (serverless)
mode, one set of series per revision: `revision_app_request_count` (a counter with
`namespace_name`, `configuration_name`, `revision_name`, `response_code`,
`response_code_class`) and `revision_app_request_latencies` (a histogram in milliseconds),
with counts growing with wall-clock time at each revision's request rate; and what the mesh
exports for KServe's Standard mode, one set per Deployment (`Workload`): Istio's standard
metrics `istio_requests_total` (a counter with `reporter`, `destination_workload`,
`destination_workload_namespace`, `response_code`) and `istio_request_duration_milliseconds` (a
histogram in milliseconds), as istio.io's reference (docs/reference/config/telemetry/metrics)
names them. Prometheus runs on
a free loopback port with its own storage folder, scrapes every second, and is stopped (its
process group) when the test is done.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from support.net import free_port

PROMETHEUS = shutil.which("prometheus")
# Knative's queue-proxy latency buckets are in milliseconds.
BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


@dataclass(frozen=True)
class Revision:
    """One Knative revision of a predictor and the traffic it gets."""

    namespace: str
    configuration: str  # `<inference service>-predictor`
    name: str  # `<configuration>-00001`
    requests_per_second: float
    error_share: float = 0.0  # share of 5xx responses
    latency_ms: float = 20.0  # every request takes this long


@dataclass(frozen=True)
class Workload:
    """One Deployment of a Standard-mode predictor (`{isvc}-{name}-predictor`) and its traffic."""

    namespace: str
    name: str
    requests_per_second: float
    error_share: float = 0.0
    latency_ms: float = 20.0


def istio_exposition(workloads: list[Workload], elapsed: float) -> str:
    """Istio's standard metrics as the destination sidecars report them, after `elapsed` seconds.
    Each request is reported once by the gateway too (`reporter="source"`), as a mesh does: a
    query that forgets `reporter` counts it twice."""
    lines = ["# TYPE istio_requests_total counter", "# TYPE istio_request_duration_milliseconds histogram"]
    for workload in workloads:
        total = math.floor(workload.requests_per_second * elapsed)
        errors = math.floor(total * workload.error_share)
        for reporter in ("destination", "source"):
            base = (f'reporter="{reporter}",destination_workload_namespace="{workload.namespace}",'
                    f'destination_workload="{workload.name}",source_workload="istio-ingressgateway"')
            lines.append(f'istio_requests_total{{{base},response_code="200"}} {total - errors}')
            if workload.error_share:
                lines.append(f'istio_requests_total{{{base},response_code="503"}} {errors}')
            for bound in BUCKETS_MS:
                count = total if workload.latency_ms <= bound else 0
                lines.append(f'istio_request_duration_milliseconds_bucket{{{base},le="{bound}"}} {count}')
            lines.append(f'istio_request_duration_milliseconds_bucket{{{base},le="+Inf"}} {total}')
            lines.append(f"istio_request_duration_milliseconds_sum{{{base}}} {total * workload.latency_ms}")
            lines.append(f"istio_request_duration_milliseconds_count{{{base}}} {total}")
    return "\n".join(lines) + "\n"


def exposition(revisions: list[Revision], elapsed: float) -> str:
    """The Prometheus text format of the revisions' series after `elapsed` seconds."""
    lines = ["# TYPE revision_app_request_count counter",
             "# TYPE revision_app_request_latencies histogram"]
    for revision in revisions:
        total = math.floor(revision.requests_per_second * elapsed)
        errors = math.floor(total * revision.error_share)
        base = (f'namespace_name="{revision.namespace}",configuration_name="{revision.configuration}",'
                f'revision_name="{revision.name}"')
        lines.append(f'revision_app_request_count{{{base},response_code="200",response_code_class="2xx"}} '
                     f"{total - errors}")
        if revision.error_share:  # a queue-proxy exports a 5xx series only once it has answered one
            lines.append(f'revision_app_request_count{{{base},response_code="503",response_code_class="5xx"}} '
                         f"{errors}")
        for bound in BUCKETS_MS:
            count = total if revision.latency_ms <= bound else 0
            lines.append(f'revision_app_request_latencies_bucket{{{base},le="{bound}"}} {count}')
        lines.append(f'revision_app_request_latencies_bucket{{{base},le="+Inf"}} {total}')
        lines.append(f"revision_app_request_latencies_sum{{{base}}} {total * revision.latency_ms}")
        lines.append(f"revision_app_request_latencies_count{{{base}}} {total}")
    return "\n".join(lines) + "\n"


@contextmanager
def knative_exporter(revisions: list[Revision], workloads: list[Workload] = ()):
    """An HTTP server on 127.0.0.1 serving the revisions' (and the Standard-mode workloads')
    metrics at /metrics; yields its `host:port`."""
    started = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            elapsed = time.monotonic() - started
            body = (exposition(revisions, elapsed) + (istio_exposition(list(workloads), elapsed)
                                                      if workloads else "")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def prometheus_server(target: str, folder: Path):
    """A Prometheus scraping `target` every second; yields its base URL."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "knative-queue-proxy", "honor_labels": True,
                            "static_configs": [{"targets": [target]}]}],
    }))
    port = free_port()
    log = open(folder / "prometheus.log", "w")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError("prometheus exited:\n" + (folder / "prometheus.log").read_text())
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus did not get ready:\n" + (folder / "prometheus.log").read_text())
            time.sleep(0.2)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        log.close()


def query(url: str, promql: str) -> dict:
    """The `data` of an instant query through Prometheus' HTTP API (raises on an error)."""
    address = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(address, timeout=30) as response:
        body = json.loads(response.read())
    if body.get("status") != "success":
        raise RuntimeError(f"query failed: {promql}\n{body}")
    return body["data"]


def vector_values(data: dict) -> list[float]:
    """What Argo Rollouts' Prometheus provider hands to a condition: one float per sample of a
    vector result (labels dropped), in the order Prometheus returned them."""
    if data["resultType"] == "scalar":
        raise AssertionError("mlspec's queries return vectors")
    return [float(sample["value"][1]) for sample in data["result"]]
