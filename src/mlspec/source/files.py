"""Which files a command works on: the spec files named, or found in the folders named."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from mlspec.errors import UsageError
from mlspec.textsafe import printable

SPEC_SUFFIXES = (".yaml", ".yml")
# Copies editors and merge tools leave beside a file: `spec~.yaml`, `spec.orig.yaml`,
# `spec_BACKUP_1234.yaml` (git mergetool).
_BACKUP_RE = re.compile(r"(~|\.orig|\.bak|\.backup|_(BACKUP|BASE|LOCAL|REMOTE)_\d+)\.ya?ml$")
# A folder may hold other YAML (Kubernetes manifests, CI config): a file is taken for a spec
# when its text names the spec language, as every spec does in its first lines (a broken
# one too: it takes more than a typo to lose both).
_SPEC_MARKERS = (b"mlspec/", b"MLSystem")
_SNIFF_BYTES = 64 * 1024


def spec_files(paths: list[str]) -> list[Path]:
    """The spec files every command works on, or a UsageError naming what is wrong."""
    files, missing = expand_spec_paths(paths)
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(printable(m) for m in missing)}")
    if not files:
        raise UsageError("no spec files (*.yaml, *.yml) found in: " + ", ".join(printable(p) for p in paths))
    return files


def expand_spec_paths(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Files as given; folders searched (sorted) for *.yaml / *.yml specs, leaving out
    hidden files and folders (`.git`, `.venv`), backups, links, and YAML that is not a spec
    (see _SPEC_MARKERS): returns (files, missing).

    A path named on the command line that is a symbolic link (to a file or a folder) or a
    special file (a FIFO, a device) is returned as a file, unfollowed and unread: the front
    end refuses it with a diagnostic (E012) instead of reading what it points at."""
    files: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        try:
            mode = os.lstat(path).st_mode
        except (OSError, ValueError):  # missing, or a name the system refuses (a NUL byte)
            missing.append(raw)
            continue
        if stat.S_ISDIR(mode):
            files += _specs_under(path)
        else:
            files.append(path)
    return files, missing


def _specs_under(folder: Path) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(folder):  # does not follow links to folders
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if not name.endswith(SPEC_SUFFIXES) or name.startswith(".") or _BACKUP_RE.search(name):
                continue
            path = Path(root) / name
            if not path.is_symlink() and path.is_file() and _names_the_spec_language(path):
                found.append(path)
    return sorted(found)


def _names_the_spec_language(path: Path) -> bool:
    from mlspec.fsutil import ForeignFile, open_regular

    try:
        fd = open_regular(path)
    except ForeignFile:
        return False  # replaced by a link or a FIFO since the folder was listed: not a spec
    except OSError:
        return True  # unreadable: let the front end say why (E000)
    try:
        head = os.read(fd, _SNIFF_BYTES)
    except OSError:
        return True
    finally:
        os.close(fd)
    return any(marker in head for marker in _SPEC_MARKERS)
