"""A small on-disk cache of results that are a pure function of mlspec's own code and the
spec's bytes, so that re-running `mlspec validate` or `mlspec compile` on an unchanged spec
(every pre-commit run, most CI runs) does not pay for pydantic, jinja2 and the targets again.

Keys cover everything a result depends on: every file of the installed mlspec package and
its templates, the Python version, the spec's bytes and path, and (for compile) the kfp
version the pipeline IR embeds. A user template folder (MLSPEC_TEMPLATES) turns the cache
off, and MLSPEC_NO_CACHE=1 does too. Entries are written atomically; a broken or
unreadable entry is a miss, never an error.

The cache folder is not trusted (it may be shared, or restored from a CI cache): each entry
is sealed with an HMAC under this user's key (`mlspec.integrity`, kept outside the cache
folder), bound to its kind and key, and an entry that does not verify is a miss. So a
forged "this spec is valid" or "this manifest is what the spec compiles to" is never
believed, and `compile --check` cannot be talked into skipping the comparison of a
tampered tree.

Two kinds of entries, used by one layer (`compiler.run`): the diagnostics `validate` found in
a spec, and which manifest a compile of a spec produced. The second only lets a compile
skip work: the files on disk are still hashed against that manifest before anything is
skipped, so a hand edit is found and undone.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import lru_cache
from pathlib import Path

from mlspec.fsutil import read_regular
from mlspec.diagnostics import Diagnostic, Severity, Span
from mlspec.locations import PACKAGE_DIR, USER_TEMPLATES_ENV, cache_disabled, cache_root, template_dir

MANIFEST = "manifest.json"


def enabled() -> bool:
    return not cache_disabled() and not os.environ.get(USER_TEMPLATES_ENV)


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 of mlspec's own source and templates (and the Python version): any change to
    the compiler invalidates every entry."""
    digest = hashlib.sha256(sys.version.encode())
    roots = [PACKAGE_DIR] + ([template_dir()] if PACKAGE_DIR not in template_dir().resolve().parents else [])
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def make_key(kind: str, *parts: str | bytes) -> str:
    digest = hashlib.sha256(kind.encode() + b"\0" + code_fingerprint().encode())
    for part in parts:
        digest.update(b"\0" + (part if isinstance(part, bytes) else part.encode("utf-8", "surrogateescape")))
    return digest.hexdigest()


MAX_ENTRY_BYTES = 16 * 1024 * 1024


def get(kind: str, key: str) -> dict | None:
    """The entry, if there is one that this user's key vouches for (else None)."""
    if not enabled():
        return None
    try:
        blob = read_regular(cache_root() / kind / key[:2] / f"{key}.json", MAX_ENTRY_BYTES)
    except OSError:  # missing, unreadable, a link or a FIFO, too large
        return None
    from mlspec import integrity

    payload = integrity.unseal(kind, key, blob)
    if payload is None:
        return None
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def put(kind: str, key: str, value: dict) -> None:
    if not enabled():
        return
    import tempfile

    from mlspec import integrity

    blob = integrity.seal(kind, key, json.dumps(value, sort_keys=True).encode("utf-8"))
    if blob is None:
        return  # no key: nothing is cached that could not be verified
    path = cache_root() / kind / key[:2] / f"{key}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # a cache that cannot be written is only slower


# --- validate: the diagnostics of a spec file --------------------------------------------------


def lookup_validation(display: str, raw: bytes) -> list[Diagnostic] | None:
    hit = get("validate", make_key("validate", display, raw)) if enabled() else None
    if hit is None:
        return None
    try:
        return [_diagnostic_from_json(d) for d in hit["diagnostics"]]
    except (KeyError, TypeError, ValueError):
        return None


def record_validation(display: str, raw: bytes, diagnostics: list[Diagnostic]) -> None:
    if enabled():
        put("validate", make_key("validate", display, raw),
            {"diagnostics": [_diagnostic_to_json(d) for d in diagnostics]})


def _diagnostic_to_json(d: Diagnostic) -> dict:
    span = [d.span.line, d.span.col, d.span.end_line, d.span.end_col] if d.span else None
    return {"code": d.code, "message": d.message, "file": d.file, "span": span,
            "path": [p if isinstance(p, int) else str(p) for p in d.path], "severity": d.severity.value,
            "label": d.label, "help": d.help}


def _diagnostic_from_json(data: dict) -> Diagnostic:
    return Diagnostic(data["code"], data["message"], data["file"], Span(*data["span"]) if data["span"] else None,
                      tuple(data["path"]), Severity(data["severity"]), data["label"], data["help"])


# --- compile: which manifest a spec produces ---------------------------------------------------


def compile_key(raw: bytes, recorded_path: str) -> str | None:
    """The key of compiling these bytes, recorded under this path; None when the cache is off."""
    if not enabled():
        return None
    from mlspec.targets.kfp_version import installed_kfp_version

    # kfp's version is part of the key because the pipeline IR embeds it.
    return make_key("compile", raw, recorded_path, installed_kfp_version())


def lookup_compile(key: str | None, out_root: Path) -> tuple[str, dict[str, str], list[Diagnostic]] | None:
    """(system, files on disk, the compile's warnings) when this very spec, compiled by this very
    mlspec, is known to produce the manifest on disk, and every file on disk still has the hash
    that manifest records: then there is nothing to compile (pydantic, jinja2 and kfp stay
    unloaded), and the warnings are said again, as a compile would."""
    hit = get("compile", key) if key else None
    if hit is None or not isinstance(hit.get("system"), str) or not isinstance(hit.get("manifest_sha256"), str):
        return None
    try:
        warnings = [_diagnostic_from_json(d) for d in hit.get("diagnostics", [])]
    except (KeyError, TypeError, ValueError):
        return None
    from mlspec.compiler.writer import Foreign, read_tree

    current = read_tree(out_root / hit["system"])
    if any(isinstance(text, Foreign) for text in current.values()):
        return None  # a link or a FIFO in the tree: compare (and replace) it
    manifest_text = current.get(MANIFEST, "")
    if _sha256(manifest_text) != hit["manifest_sha256"]:
        return None
    try:
        artifacts = json.loads(manifest_text)["artifacts"]
        if set(current) != {a["path"] for a in artifacts} | {MANIFEST}:
            return None
        if any(_sha256(current[a["path"]]) != a["sha256"] for a in artifacts):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return hit["system"], current, warnings


def record_compile(key: str | None, system: str, manifest_text: str, warnings: list[Diagnostic] = ()) -> None:
    if key:
        put("compile", key, {"system": system, "manifest_sha256": _sha256(manifest_text),
                             "diagnostics": [_diagnostic_to_json(d) for d in warnings]})


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
