"""Small file-system helpers shared by commands: atomic writes and diffs."""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path

from mlspec.textsafe import visible


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write via a temporary file in the same folder and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def unified_diff(old: str, new: str, name: str) -> str:
    """A unified diff for people to read: files may come from a pull request, so control
    characters (terminal escape sequences) are shown as escapes, never sent as they are."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"a/{name}", tofile=f"b/{name}")
    return "".join(visible(line) if line.endswith("\n") else visible(line) + "\n\\ No newline at end of file\n"
                   for line in lines)
