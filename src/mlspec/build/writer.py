"""write: put a system's generated tree on disk atomically, or compare it with the disk.

The new tree is written complete into a temporary folder beside the old one and swapped in
with one atomic rename (Linux `renameat2(RENAME_EXCHANGE)`, else two renames with recovery
on the next run), so an interrupted compile leaves the previous tree as it was. Files the
spec no longer produces disappear with the swap. A lock serializes concurrent compiles
into the same output folder.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlspec.fsutil import unified_diff

LOCK_NAME = ".mlspec.lock"
_TMP_PREFIX = ".mlspec-new-"
_OLD_PREFIX = ".mlspec-old-"


@dataclass(frozen=True)
class TreeChange:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


@contextlib.contextmanager
def output_lock(out_root: Path):
    """An exclusive lock on the output folder for the duration of a compile. The lock file
    stays (removing it would race with the next compile), so the folder's .gitignore keeps
    it out of commits."""
    out_root.mkdir(parents=True, exist_ok=True)
    _ignore_lock_file(out_root)
    with open(out_root / LOCK_NAME, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _ignore_lock_file(out_root: Path) -> None:
    gitignore = out_root / ".gitignore"
    try:
        current = gitignore.read_text(encoding="utf-8") if gitignore.exists() else None
        if current is None:
            gitignore.write_text(f"# mlspec's lock against concurrent compiles; not part of the output.\n{LOCK_NAME}\n",
                                 encoding="utf-8")
        elif LOCK_NAME not in current.splitlines():
            gitignore.write_text(current + ("" if current.endswith("\n") or not current else "\n") + f"{LOCK_NAME}\n",
                                 encoding="utf-8")
    except OSError:
        pass  # a read-only output folder fails where it matters, on the write itself


def read_tree(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    files = {}
    for root, dirs, names in os.walk(folder):
        # Python writes bytecode caches beside DAG and pipeline files it imports; they are not ours.
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        relative_root = os.path.relpath(root, folder)
        for name in names:
            relative = name if relative_root == "." else f"{relative_root}/{name}".replace(os.sep, "/")
            with open(os.path.join(root, name), "rb") as handle:
                files[relative] = handle.read().decode("utf-8", "replace")
    return dict(sorted(files.items()))


def compare_tree(current: dict[str, str], new: dict[str, str]) -> TreeChange:
    return TreeChange(
        added=tuple(sorted(set(new) - set(current))),
        changed=tuple(sorted(p for p in set(new) & set(current) if new[p] != current[p])),
        removed=tuple(sorted(set(current) - set(new))))


def tree_diff(current: dict[str, str], new: dict[str, str], prefix: str) -> str:
    change = compare_tree(current, new)
    parts = []
    for path in sorted(change.added + change.changed + change.removed):
        parts.append(unified_diff(current.get(path, ""), new.get(path, ""), f"{prefix}/{path}"))
    return "".join(parts)


def recover(out_root: Path) -> None:
    """Finish or undo a swap that a killed compile left half done (fallback path only),
    and remove temporary folders of killed compiles."""
    if not out_root.is_dir():
        return
    for entry in sorted(out_root.iterdir()):
        if entry.name.startswith(_OLD_PREFIX):
            system = entry.name[len(_OLD_PREFIX):].rsplit(".", 1)[0]
            target = out_root / system
            if not target.exists():
                os.rename(entry, target)  # the new tree never arrived: put the old one back
            else:
                shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(_TMP_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)


def write_tree(out_root: Path, system: str, files: dict[str, str],
               current: dict[str, str] | None = None) -> TreeChange:
    """Replace `out_root/system` with exactly `files`. Call under `output_lock`; `current` is
    the tree as read under that lock, when the caller already has it."""
    target = out_root / system
    current = read_tree(target) if current is None else current
    change = compare_tree(current, files)
    if change.empty:
        return change
    staging = out_root / f"{_TMP_PREFIX}{system}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for relative, content in sorted(files.items()):
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(content)
        # Everything must be on disk before the swap makes it visible: one syncfs for the whole
        # staging tree (thousands of files) instead of an fsync per file.
        _sync_tree(staging)
    except BaseException:
        # A full disk or a permission problem: drop the half-written copy, keep the old tree.
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        if not _exchange(staging, target):
            old = out_root / f"{_OLD_PREFIX}{system}.{os.getpid()}"
            os.rename(target, old)
            os.rename(staging, target)
            staging = old
        shutil.rmtree(staging, ignore_errors=True)
    else:
        os.rename(staging, target)
    _fsync_dir(out_root)
    return change


@functools.lru_cache(maxsize=1)
def _libc():
    """The C library's symbols, as linked into this process. (ctypes.util.find_library would
    run ldconfig and import subprocess: ~10 ms of every compile.)"""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result == 0:
        return True
    error = _errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(error, os.strerror(error), str(b))


def _sync_tree(folder: Path) -> None:
    """Flush every file under `folder` to disk: Linux `syncfs` on its file system, else an
    fsync per file and folder. Errors (EIO, ENOSPC found late) are raised."""
    syncfs = getattr(_libc(), "syncfs", None)
    if syncfs is not None:
        fd = os.open(folder, os.O_RDONLY)
        try:
            if syncfs(fd) == 0:
                return
            error = _errno()
            if error not in (errno.ENOSYS, errno.EINVAL):
                raise OSError(error, os.strerror(error), str(folder))
        finally:
            os.close(fd)
    for root, _, names in os.walk(folder):
        for name in names:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
