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
the configured environment (`mlspec promote`: spec edit, recompile) and published. With
`commit` (`--commit`, the default in a checkout that tracks an upstream) the spec edit is
committed and pushed to the spec repository before the publish (gitops.spec_commit), so
the spec stays the source of truth: a push that cannot land undoes the promotion, a
publish that fails after it leaves the pushed commit and names the retry. One event is
handled at a time. A failed promotion answers 422, which MLflow does not retry: a
second delivery of the same version would otherwise complete the canary it just started
(and the spec edit is undone when the publish after it fails, see promote.carry_out).

The receiver holds push rights and listens on a network, so the request is hostile until
its signature says otherwise, and bounded before that: a Content-Length that is absent,
negative or over 1 MiB is refused before a byte of the body is read; every connection has
a deadline (a client that sends slowly or not at all is cut off); at most
`max_connections` are served at once (the others get a 503 at once); delivery ids are
kept in a file under the state folder (pruned past the tolerance window, written
atomically), so a delivery replayed after a restart is still refused; and every logged
value is escaped, so control characters in a request cannot forge log lines.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import io
import json
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mlspec.errors import MlspecError
from mlspec.git import Git
from mlspec.textsafe import printable

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1024 * 1024
SECRET_ENV = "MLSPEC_WEBHOOK_SECRET"
REQUEST_TIMEOUT_SECONDS = 15.0  # to send a whole request (headers and body)
MAX_CONNECTIONS = 16
SEEN_FILE = "seen-deliveries.json"
CATCH_UP_ROUNDS = 4  # publishes of the spec remote's newer head after a promotion


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """The signature MLflow sends (mlflow.webhooks.delivery._generate_hmac_signature)."""
    digest = hmac.new(secret.encode("utf-8"), f"{delivery_id}.{timestamp}.{body}".encode("utf-8"),
                      hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "mlspec" / "webhook"


@dataclass
class SeenDeliveries:
    """Delivery ids already accepted, with when: a small JSON file in `folder`, shared by
    every receiver using that folder and surviving restarts, so a delivery replayed after
    a restart (within the timestamp tolerance) is refused. Entries past the window are
    pruned on every write; the file is replaced atomically under an exclusive lock."""

    folder: Path
    keep_seconds: float = 2 * TOLERANCE_SECONDS

    def first_time(self, delivery_id: str, now: float) -> bool:
        """Record `delivery_id`; False when it was seen before. Raises OSError when the
        record cannot be kept (then the request must be refused: no replay protection)."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = os.open(self.folder / f".{SEEN_FILE}.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                       | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            seen = self._load()
            seen = {k: t for k, t in seen.items() if now - t <= self.keep_seconds}
            if delivery_id in seen:
                return False
            seen[delivery_id] = now
            self._store(seen)
            return True
        finally:
            os.close(lock)

    def _load(self) -> dict[str, float]:
        from mlspec.fsutil import read_regular

        try:
            data = json.loads(read_regular(self.folder / SEEN_FILE, 64 * 1024 * 1024))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable or damaged: start again (ids still inside the window are lost)
        if not isinstance(data, dict):
            return {}
        return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}

    def _store(self, seen: dict[str, float]) -> None:
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=f".{SEEN_FILE}.", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(seen, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.folder / SEEN_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@dataclass
class Verifier:
    secret: str
    tolerance: int = TOLERANCE_SECONDS
    store: SeenDeliveries | None = None  # persisted delivery ids; in memory only when None
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
            if self.store is not None:
                try:
                    if not self.store.first_time(delivery_id, now):
                        return 409, "this delivery was already received (replay)"
                except OSError as exc:
                    log(f"cannot record delivery ids in {self.store.folder}: {exc}")
                    return 503, "the receiver cannot record delivery ids (replay protection); try again later"
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
    commit: bool = False  # commit the spec edit and push it to the spec checkout's upstream, then publish
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
        from mlspec.gitops.mlflow_registry import RegistryError, check_version

        try:
            check_version(version, "the alias event")
        except RegistryError as exc:
            return 400, str(exc)
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
        hook = None
        if self.commit:
            from mlspec.gitops.spec_commit import check_clean, commit_hook, sync_spec

            system = load_checked(spec_file, out_root).project.base.name
            check_clean(spec_file, out_root, system)
            sync_spec(spec_file)  # edit what the spec remote holds, not what this checkout last saw
        unit = load_checked(spec_file, out_root)
        promotion = plan_promote(unit, model, self.env, version, None, None, self.tracking_uri)
        log(promotion.summary + ("" if promotion.changed else " (spec unchanged)"))
        if self.commit:
            hook = commit_hook("webhook", promotion, out_root, unit.project.base.name, True, log)
        outcome = carry_out(promotion, out_root, self.repo, self.branch, self.push, log=log, before_publish=hook)
        published = outcome.published
        if published is not None and published.commit:
            log(f"published {published.commit[:12]} to {published.branch}")
        if self.commit:
            self._catch_up(spec_file, out_root)
        return f"promoted {model} version {version} in {self.env}"

    def _catch_up(self, spec_file: Path, out_root: Path) -> None:
        """When the spec remote moved on while this receiver published (another receiver, a
        person, CI), publish again from its head: the publish that lands last is then never
        an older spec than the newest one this receiver saw. Failures are logged, not raised:
        the promotion itself is committed, pushed and published."""
        from mlspec.compiler.run import compile_and_apply
        from mlspec.compiler.deployments import plans_from_results
        from mlspec.gitops.publish import publish
        from mlspec.gitops.spec_commit import sync_spec

        if self.repo is None:
            return
        try:
            for _ in range(CATCH_UP_ROUNDS):
                before = Git(spec_file.resolve().parent).head()
                head = sync_spec(spec_file)
                if head == before:
                    return
                log(f"the spec repository moved on while publishing; publishing its head {head[:12]}")
                run = compile_and_apply([spec_file], [str(spec_file)], out_root, use_cache=False)
                if not run.ok:
                    log(f"the spec repository's head does not compile ({spec_file}); not published")
                    return
                publish(plans_from_results(run.results), self.repo, self.branch, self.push, log=log)
        except MlspecError as exc:
            log(f"could not publish the spec repository's newer head: {exc}; `mlspec publish` from it is the retry")

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
    """One line on stderr; control characters (from a request, a model name, git's output)
    are escaped, so nothing a client sends can forge a line of the log."""
    print(printable(message), file=sys.stderr, flush=True)


class _DeadlineReader(io.RawIOBase):
    """The connection's input, cut off at a deadline for the whole request: a client that
    sends a byte every few seconds cannot hold a connection (and a thread) for long."""

    def __init__(self, sock: socket.socket, deadline: float):
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request was not sent within the time allowed")
        self._sock.settimeout(remaining)
        return self._sock.recv_into(buffer)


class _BoundedServer(ThreadingHTTPServer):
    """ThreadingHTTPServer serving at most `max_connections` connections at once; the next
    one is answered 503 from the accepting thread and closed."""

    daemon_threads = True

    def __init__(self, address, handler, max_connections: int):
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            body = json.dumps({"status": 503, "message": "too many connections; try again later"}).encode()
            try:
                request.settimeout(1.0)
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def make_server(host: str, port: int, verifier: Verifier, receiver: Receiver,
                timeout: float = REQUEST_TIMEOUT_SECONDS, max_connections: int = MAX_CONNECTIONS
                ) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "mlspec-webhook"

        def setup(self):
            super().setup()
            self.connection.settimeout(timeout)  # writes too: a client that never reads the answer
            self.rfile = io.BufferedReader(_DeadlineReader(self.connection, time.monotonic() + timeout))

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
            if self.headers.get("Transfer-Encoding"):
                return self._reply(411, "send the body with a Content-Length (no Transfer-Encoding)")
            lengths = self.headers.get_all("Content-Length") or []
            if not lengths:
                return self._reply(411, "a Content-Length is required")
            if len(set(lengths)) != 1 or not lengths[0].strip().isdigit() or not lengths[0].strip().isascii():
                return self._reply(400, "bad Content-Length")
            if len(lengths[0].strip()) > 12 or int(lengths[0]) > MAX_BODY_BYTES:
                return self._reply(413, "payload too large")
            length = int(lengths[0])
            try:
                body = self.rfile.read(length)
            except (TimeoutError, OSError):
                self.close_connection = True
                return
            if len(body) != length:
                return self._reply(400, "the body is shorter than its Content-Length")
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

    return _BoundedServer((host, port), Handler, max_connections)
