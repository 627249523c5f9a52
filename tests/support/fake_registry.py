"""A loopback stand-in for the two MLflow registry endpoints mlspec calls (see
mlspec/gitops/mlflow_registry.py), so the webhook's real registry client runs without an
MLflow server: every version of every model is stored at `s3://mlflow-artifacts/<name>/<version>/model`."""

from __future__ import annotations

import json
import threading
import urllib.parse
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def storage_of(name: str, version: str) -> str:
    return f"s3://mlflow-artifacts/{name}/{version}/model"


@contextmanager
def fake_registry(storage=storage_of, aliases: dict | None = None):
    """Yields the tracking URI of the stand-in. `storage(name, version)` is the storage location
    it answers; `aliases` maps (name, alias) to the version it answers for that alias (any
    JSON value: a hostile registry's answers)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - quiet
            pass

        def do_GET(self):  # noqa: N802
            url = urllib.parse.urlparse(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if url.path.endswith("/model-versions/get-download-uri"):
                status, body = 200, {"artifact_uri": storage(query["name"], query["version"])}
            elif url.path.endswith("/registered-models/alias") and (query["name"], query["alias"]) in (aliases or {}):
                status, body = 200, {"model_version": {"name": query["name"],
                                                       "version": aliases[(query["name"], query["alias"])]}}
            else:
                status, body = 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "not in the stand-in"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
