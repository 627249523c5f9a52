"""`mlspec webhook serve`: promote and publish when MLflow moves a model alias.

Receives MLflow 3 model-registry webhooks (OSS, SQL backend). MLflow signs each delivery
the Standard Webhooks way (mlflow/webhooks/delivery.py): headers `X-MLflow-Delivery-Id`,
`X-MLflow-Timestamp` (unix seconds) and `X-MLflow-Signature: v1,<base64 HMAC-SHA256>` over
`"{delivery_id}.{timestamp}.{body}"` with the webhook's secret. A request is accepted only
when the signature matches (constant-time), the timestamp is within five minutes, and the
delivery id has not been seen: unsigned, wrongly signed, stale and replayed requests get a
4xx and change nothing.

On `model_version_alias.created` for a registered model that a spec serves (and the alias
the spec names in `registry.alias`, unless others are allowed), the version is promoted in
the configured environment (`mlspec promote`: spec edit, recompile) and published. One
event is handled at a time. A failed promotion answers 422, which MLflow does not retry: a
second delivery of the same version would otherwise complete the canary it just started.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mlspec.errors import MlspecError

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1024 * 1024
SECRET_ENV = "MLSPEC_WEBHOOK_SECRET"


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """The signature MLflow sends (mlflow.webhooks.delivery._generate_hmac_signature)."""
    digest = hmac.new(secret.encode("utf-8"), f"{delivery_id}.{timestamp}.{body}".encode("utf-8"),
                      hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


@dataclass
class Verifier:
    secret: str
    tolerance: int = TOLERANCE_SECONDS
    _seen: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, headers, body: bytes, now: float | None = None) -> tuple[int, str]:
        """(0, "") when the request is authentic and new, else (HTTP status, reason)."""
        now = time.time() if now is None else now
        delivery_id = headers.get(DELIVERY_ID_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        signatures = headers.get(SIGNATURE_HEADER)
        if not (delivery_id and timestamp and signatures):
            return 401, "unsigned request: the delivery id, timestamp and signature headers are required"
        try:
            sent = int(timestamp)
        except ValueError:
            return 401, "the timestamp is not a unix time"
        if abs(now - sent) > self.tolerance:
            return 401, "the timestamp is outside the tolerance window (stale or replayed request)"
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return 400, "the body is not UTF-8"
        expected = sign(self.secret, delivery_id, timestamp, text)
        # Standard Webhooks allow several space-separated signatures (secret rotation).
        if not any(hmac.compare_digest(candidate.encode(), expected.encode()) for candidate in signatures.split()):
            return 401, "the signature does not match"
        with self._lock:
            for key in [k for k, seen_at in self._seen.items() if now - seen_at > 2 * self.tolerance]:
                del self._seen[key]
            if delivery_id in self._seen:
                return 409, "this delivery was already received (replay)"
            self._seen[delivery_id] = now
        return 0, ""


@dataclass
class Receiver:
    """What to do with an authentic event."""

    specs: list[Path]
    env: str
    repo: str
    branch: str | None = None
    push: bool = False
    out: str = "generated"
    tracking_uri: str | None = None
    aliases: tuple[str, ...] = ()  # allowed aliases; empty: each model's registry.alias
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, event: dict) -> tuple[int, str]:
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            return 400, "not an MLflow webhook payload"
        kind = f"{event.get('entity')}.{event.get('action')}"
        if kind != "model_version_alias.created":
            return 202, f"ignored: {kind} events do not promote"
        data = event["data"]
        name, alias, version = data.get("name"), data.get("alias"), data.get("version")
        if not all(isinstance(v, str) and v for v in (name, alias, version)):
            return 400, "the alias event lacks name, alias or version"
        with self._lock:  # one promotion at a time: each reads the spec the previous one wrote
            target = self._find(name)
            if target is None:
                return 202, f"ignored: no spec serves registered model `{name}`"
            spec_file, model, wanted_alias = target
            if alias not in (self.aliases or (wanted_alias,)):
                return 202, f"ignored: alias `{alias}` of `{name}` does not promote (watching {wanted_alias})"
            log(f"{name}@{alias} -> version {version}: promoting {model} in {self.env} ({spec_file})")
            try:
                outcome = self._promote(spec_file, model, version)
            except MlspecError as exc:
                log(f"promotion of {name} version {version} failed: {exc}")
                for unit in getattr(exc, "units", []):
                    for d in unit.diagnostics:
                        log(f"  {d.file}:{d.span.line if d.span else '?'}: {d.code} {d.message}")
                return 422, f"promotion of {name} version {version} failed: {exc}"
        return 200, outcome

    def _promote(self, spec_file: Path, model: str, version: str) -> str:
        from mlspec.gitops.promote import carry_out, load_checked, plan_promote

        out_root = Path(self.out)
        promotion = plan_promote(load_checked(spec_file, out_root), model, self.env, version, None, None,
                                 self.tracking_uri)
        log(promotion.summary + ("" if promotion.changed else " (spec unchanged)"))
        outcome = carry_out(promotion, out_root, self.repo, self.branch, self.push, log=log)
        published = outcome.published
        if published is not None and published.commit:
            log(f"published {published.commit[:12]} to {published.branch}")
        return f"promoted {model} version {version} in {self.env}"

    def _find(self, registered: str):
        from mlspec.source.loader import load_spec_file

        for path in self.specs:
            source, _ = load_spec_file(path)
            data = source.data if source is not None and isinstance(source.data, dict) else {}
            for model, body in (data.get("models") or {}).items():
                registry = (body or {}).get("registry") if isinstance(body, dict) else None
                if isinstance(registry, dict) and registry.get("name") == registered:
                    return path, model, registry.get("alias") or "champion"
        return None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_server(host: str, port: int, verifier: Verifier, receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "mlspec-webhook"

        def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
            log(f"{self.address_string()} {format % args}")

        def _reply(self, status: int, message: str) -> None:
            body = json.dumps({"status": status, "message": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            if self.path in ("/healthz", "/health"):
                self._reply(200, "ok")
            else:
                self._reply(404, "POST MLflow webhooks to /")

        def do_POST(self):  # noqa: N802
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                return self._reply(400, "bad Content-Length")
            if length > MAX_BODY_BYTES:
                return self._reply(413, "payload too large")
            body = self.rfile.read(length)
            status, reason = verifier.check(self.headers, body)
            if status:
                log(f"rejected ({status}): {reason}")
                return self._reply(status, reason)
            try:
                event = json.loads(body)
            except ValueError:
                return self._reply(400, "the body is not JSON")
            try:
                status, reason = receiver.handle(event)
            except Exception as exc:  # a bug: say so, do not let MLflow retry into a half-done state
                log(f"internal error: {type(exc).__name__}: {exc}")
                status, reason = 422, "internal error in mlspec; see the receiver's log"
            log(f"{status}: {reason}")
            self._reply(status, reason)

    return ThreadingHTTPServer((host, port), Handler)
