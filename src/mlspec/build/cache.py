"""A small on-disk cache of results that are a pure function of mlspec's own code and the
spec's bytes, so that re-running `mlspec validate` or `mlspec compile` on an unchanged spec
(every pre-commit run, most CI runs) does not pay for pydantic, jinja2 and the targets again.

Keys cover everything a result depends on: every file of the installed mlspec package and
its templates, the Python version, the spec's bytes and path, and the command's options.
A user template folder (MLSPEC_TEMPLATES) turns the cache off, and MLSPEC_NO_CACHE=1 does
too. Entries are written atomically; a broken or unreadable entry is a miss, never an error.
The compile cache only says which manifest a spec produces: the files on disk are still
hashed against that manifest before anything is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import lru_cache
from pathlib import Path

from mlspec.diagnostics import Diagnostic, Severity, Span
from mlspec.locations import PACKAGE_DIR, USER_TEMPLATES_ENV, cache_disabled, cache_root, template_dir



def enabled() -> bool:
    return not cache_disabled() and not os.environ.get(USER_TEMPLATES_ENV)


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 of mlspec's own source and templates (and the Python version): any change to
    the compiler invalidates every entry."""
    digest = hashlib.sha256(sys.version.encode())
    package = PACKAGE_DIR
    roots = [package] + ([template_dir()] if package not in template_dir().resolve().parents else [])
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def make_key(kind: str, *parts: str | bytes) -> str:
    digest = hashlib.sha256(kind.encode() + b"\0" + code_fingerprint().encode())
    for part in parts:
        digest.update(b"\0" + (part if isinstance(part, bytes) else part.encode()))
    return digest.hexdigest()


def get(kind: str, key: str) -> dict | None:
    if not enabled():
        return None
    try:
        return json.loads((cache_root() / kind / key[:2] / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def put(kind: str, key: str, value: dict) -> None:
    if not enabled():
        return
    path = cache_root() / kind / key[:2] / f"{key}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(value, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written is only slower


# --- validate: the diagnostics of a spec file --------------------------------------------------


def diagnostic_to_json(d: Diagnostic) -> dict:
    span = [d.span.line, d.span.col, d.span.end_line, d.span.end_col] if d.span else None
    return {"code": d.code, "message": d.message, "file": d.file, "span": span,
            "path": [p if isinstance(p, int) else str(p) for p in d.path], "severity": d.severity.value,
            "label": d.label, "help": d.help}


def diagnostic_from_json(data: dict) -> Diagnostic:
    return Diagnostic(data["code"], data["message"], data["file"], Span(*data["span"]) if data["span"] else None,
                      tuple(data["path"]), Severity(data["severity"]), data["label"], data["help"])


def validation_key(display: str, raw: bytes) -> str:
    return make_key("validate", display, raw)
