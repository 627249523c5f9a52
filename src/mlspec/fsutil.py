"""Small file-system helpers shared by commands: atomic writes, diffs, and reading files a
pull request controls.

Everything under a repository is untrusted (ARCHITECTURE.md): a committed symbolic link may
point at `~/.git-credentials` or `/proc/self/environ`, a FIFO blocks whoever opens it, a
link to `/dev/zero` never ends. `read_regular` reads a file only when it is a regular
file (a final symbolic link is not followed: O_NOFOLLOW), without blocking on a FIFO
(O_NONBLOCK), and never past a size limit; anything else raises `ForeignFile`.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from mlspec.textsafe import visible


class ForeignFile(OSError):
    """A path that is not a regular file mlspec may read: a symbolic link, a FIFO, a device,
    a socket or a folder. `kind` names it ("symbolic link", "FIFO"...)."""

    def __init__(self, path: str | Path, kind: str):
        super().__init__(errno.EINVAL, f"{kind}, not a regular file", str(path))
        self.kind = kind


class FileTooLarge(OSError):
    def __init__(self, path: str | Path, size: int, limit: int):
        super().__init__(errno.EFBIG, f"file is {size} bytes, over the limit of {limit}", str(path))
        self.size = size
        self.limit = limit


_KINDS = ((stat.S_ISLNK, "symbolic link"), (stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"),
          (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"))


def file_kind(mode: int) -> str:
    """What an lstat mode is, in words ("regular file", "symbolic link", "FIFO"...)."""
    if stat.S_ISREG(mode):
        return "regular file"
    return next((name for test, name in _KINDS if test(mode)), "special file")


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def open_regular(path: str | Path) -> int:
    """A read-only descriptor of `path` if it is a regular file, else ForeignFile (nothing
    but a regular file is ever opened: the path is lstat'ed first, opened without
    following a link and without blocking, then checked again on the descriptor)."""
    before = os.lstat(path)
    if not stat.S_ISREG(before.st_mode):
        raise ForeignFile(path, file_kind(before.st_mode))
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a link since the lstat
            raise ForeignFile(path, "symbolic link") from None
        raise
    try:
        after = os.fstat(fd)
        if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            raise ForeignFile(path, file_kind(after.st_mode) if not stat.S_ISREG(after.st_mode) else
                              "file replaced while it was opened")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; ForeignFile for anything that is
    not a regular file, FileTooLarge past the limit (checked before reading, and while
    reading, for a file that grows), OSError when it cannot be read."""
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise FileTooLarge(path, size, limit)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileTooLarge(path, total, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write via a temporary file in the same folder and rename, so readers never see half a file."""
    import tempfile

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
    import difflib

    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"a/{name}", tofile=f"b/{name}")
    return "".join(visible(line) if line.endswith("\n") else visible(line) + "\n\\ No newline at end of file\n"
                   for line in lines)
