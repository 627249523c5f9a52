"""The per-user key that authenticates mlspec's result cache.

The cache folder may be shared (a CI cache restored between jobs, a team folder) or
written by whoever can write there; its entries decide what `validate` reports and whether
`compile --check` compares anything at all, and jinja2 loads compiled template code from
it. So every entry is sealed with an HMAC-SHA256 under a key that only this user can read,
kept outside the cache folder (`$XDG_CONFIG_HOME/mlspec/cache.key`, else
`~/.config/mlspec/cache.key`, or the file named by MLSPEC_CACHE_KEY), created on first use
with 0600 permissions. An entry that does not verify (forged, copied from another key,
truncated, written by another user) is a miss, never an error. Without a usable key (a
read-only home, a key file others can read or that is not ours) nothing is cached.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import stat
from pathlib import Path

KEY_ENV = "MLSPEC_CACHE_KEY"
_MAC_BYTES = 32


def key_path() -> Path:
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "mlspec" / "cache.key"


@functools.lru_cache(maxsize=4)
def _key(path: str) -> bytes | None:
    """The key in `path`, created (32 random bytes, 0600) when there is none; None when it
    cannot be created or cannot be trusted (a link, not ours, readable by others)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(2):
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            _create(Path(path))
            continue
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if (not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077
                    or (hasattr(os, "geteuid") and info.st_uid != os.geteuid())):
                return None
            data = os.read(fd, 4096).strip()
        finally:
            os.close(fd)
        return data if len(data) >= 32 else None
    return None


def _create(path: Path) -> None:
    """Write a new key next to `path` and link it into place: the key appears whole, and
    if two processes race, both read the one that got there first."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".cache.key.", dir=path.parent)  # 0600
    except OSError:
        return  # we cannot: no key, no cache
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(os.urandom(32).hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except OSError:
        pass  # another process linked its key first (read that one), or we cannot write
    finally:
        Path(tmp).unlink(missing_ok=True)


def cache_key() -> bytes | None:
    return _key(str(key_path()))


def mac(kind: str, name: str, payload: bytes) -> bytes | None:
    """The HMAC of `payload` stored as entry `name` of `kind` (both bound into it, so an
    entry cannot be moved to another name); None without a key."""
    key = cache_key()
    if key is None:
        return None
    message = kind.encode() + b"\0" + name.encode() + b"\0" + payload
    return hmac.new(key, message, hashlib.sha256).digest()


def seal(kind: str, name: str, payload: bytes) -> bytes | None:
    """`payload` with its HMAC in front, or None when there is no key (then cache nothing)."""
    tag = mac(kind, name, payload)
    return None if tag is None else tag + payload


def unseal(kind: str, name: str, blob: bytes) -> bytes | None:
    """The payload of a sealed blob, or None unless its HMAC verifies under this user's key."""
    if len(blob) < _MAC_BYTES:
        return None
    tag, payload = blob[:_MAC_BYTES], blob[_MAC_BYTES:]
    expected = mac(kind, name, payload)
    if expected is None or not hmac.compare_digest(tag, expected):
        return None
    return payload
