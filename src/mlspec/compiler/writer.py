"""write: put a system's generated tree on disk atomically, or compare it with the disk.

The new tree is written complete into a temporary folder beside the old one and swapped in
with one atomic rename (Linux `renameat2(RENAME_EXCHANGE)`, else two renames with recovery
on the next run), so an interrupted compile leaves the previous tree as it was. Files the
spec no longer produces disappear with the swap. A lock serializes concurrent compiles
into the same output folder.

The output folder is committed, so a pull request controls what is in it: nothing there is
followed or trusted. Trees are read without following links, only regular files and at
most MAX_FILE_BYTES each; a link, a FIFO, a device or an oversized file stands in the tree
as a `Foreign` entry (always "changed", shown without its content, replaced by the next
compile). The staging folder gets a fresh random name (created exclusively), the lock file
is opened without following a link, and the .gitignore is replaced, never written through.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import fcntl
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from mlspec.fsutil import FileTooLarge, ForeignFile, file_kind, read_regular, unified_diff

LOCK_NAME = ".mlspec.lock"
_TMP_PREFIX = ".mlspec-new-"
_OLD_PREFIX = ".mlspec-old-"
# No generated file comes near this (a spec is at most 16 MiB); anything larger in the tree
# is not ours and is not read.
MAX_FILE_BYTES = 64 * 1024 * 1024


class Foreign(str):
    """What stands at a path of a generated tree where a file we could have written should
    be: a symbolic link, a FIFO, a device, a folder or an oversized file. Its text only
    describes it (the content is never read); it never equals generated content."""

    def __new__(cls, kind: str) -> "Foreign":
        return super().__new__(cls, f"({kind}: not a file mlspec wrote; not read)\n")


def same_content(current: str | None, new: str | None) -> bool:
    """Whether a file on disk holds exactly `new` (a Foreign entry never does)."""
    return current is not None and not isinstance(current, Foreign) and current == new


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
    it out of commits. It is opened without following a link (a committed `.mlspec.lock`
    link would otherwise create or truncate a file anywhere); a link or other foreign
    entry in its place is removed first."""
    check_output_folder(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    _ignore_lock_file(out_root)
    path = out_root / LOCK_NAME
    while True:
        fd = _open_lock(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # Another compile may have replaced a foreign entry while we waited: hold the
            # lock of the file that is at the path now, or try again.
            try:
                current = os.lstat(path)
            except FileNotFoundError:
                current = None
            held = os.fstat(fd)
            if current is not None and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _open_lock(path: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_NONBLOCK", 0)
    for _ in range(3):
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.EWOULDBLOCK):
                raise
            _remove_foreign(path)
            continue
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
        os.close(fd)  # a FIFO or a device: never ours
        _remove_foreign(path)
    raise OSError(errno.EEXIST, "cannot create the lock file (something keeps replacing it)", str(path))


def _remove_foreign(path: Path) -> None:
    """Remove whatever non-regular entry stands at `path`, without following it."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def check_output_folder(out_root: Path) -> None:
    """The output folder must not be reached through a symbolic link: a committed
    `generated -> /etc` would send every write outside the repository. Checked: each
    folder of a relative --out (all inside the working directory, where a pull request
    could have put a link), or the last folder of an absolute one (the folders above it
    are the user's own choice)."""
    parts = [p for p in out_root.parts if p not in (".", "")]
    if out_root.is_absolute():
        candidates = [out_root]
    else:
        candidates = [Path(*parts[:i]) for i in range(1, len(parts) + 1) if parts[i - 1] != ".."]
    for candidate in candidates:
        mode = _lstat_mode(candidate)
        if mode is None:
            return
        if stat.S_ISLNK(mode):
            raise OSError(errno.ELOOP, "the output folder is reached through a symbolic link; mlspec does not"
                          " write through links", str(candidate))


def _ignore_lock_file(out_root: Path) -> None:
    from mlspec.fsutil import write_text_atomic

    gitignore = out_root / ".gitignore"
    try:
        try:
            current = read_regular(gitignore, 1024 * 1024).decode("utf-8", "replace")
        except FileNotFoundError:
            current = None
        except (ForeignFile, FileTooLarge):
            current = ""  # a link or a FIFO in its place: replaced below (the rename does not follow it)
        if current is None or current == "":
            write_text_atomic(gitignore, f"# mlspec's lock against concurrent compiles; not part of the output.\n"
                                         f"{LOCK_NAME}\n")
        elif LOCK_NAME not in current.splitlines():
            write_text_atomic(gitignore, current + ("" if current.endswith("\n") else "\n") + f"{LOCK_NAME}\n")
    except OSError:
        pass  # a read-only output folder fails where it matters, on the write itself


def read_tree(folder: Path) -> dict[str, str]:
    """Every file of a generated tree, path -> text. Nothing is followed: a symbolic link,
    a FIFO, a device or a file over MAX_FILE_BYTES is a `Foreign` entry, unread; a folder
    that is itself a link is one Foreign entry at ".". `__pycache__` folders are left out."""
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:
        return {}
    if not stat.S_ISDIR(mode):
        return {".": Foreign(file_kind(mode))}
    files: dict[str, str] = {}
    _read_into(folder, "", files)
    return dict(sorted(files.items()))


def _read_into(folder: Path, prefix: str, files: dict[str, str]) -> None:
    with os.scandir(folder) as entries:
        for entry in entries:
            relative = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                # Python writes bytecode caches beside DAG and pipeline files it imports; they are not ours.
                if entry.name != "__pycache__":
                    _read_into(Path(entry.path), relative + "/", files)
                continue
            try:
                files[relative] = read_regular(entry.path, MAX_FILE_BYTES).decode("utf-8", "replace")
            except ForeignFile as exc:
                files[relative] = Foreign(exc.kind)
            except FileTooLarge as exc:
                files[relative] = Foreign(f"a file of {exc.size} bytes")


def tree_is_plain(folder: Path) -> bool:
    """Whether `folder` is a real folder holding only folders and regular files of at most
    MAX_FILE_BYTES (no link, FIFO or device anywhere): then a target may read from it."""
    if _lstat_mode(folder) is None or not stat.S_ISDIR(_lstat_mode(folder)):
        return False
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            info = os.lstat(os.path.join(root, name))
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
                return False
    return True


def compare_tree(current: dict[str, str], new: dict[str, str]) -> TreeChange:
    return TreeChange(
        added=tuple(sorted(set(new) - set(current))),
        changed=tuple(sorted(p for p in set(new) & set(current) if not same_content(current[p], new[p]))),
        removed=tuple(sorted(set(current) - set(new))))


def tree_diff(current: dict[str, str], new: dict[str, str], prefix: str) -> str:
    change = compare_tree(current, new)
    parts = []
    for path in sorted(change.added + change.changed + change.removed):
        parts.append(unified_diff(current.get(path, ""), new.get(path, ""), f"{prefix}/{path}"))
    return "".join(parts)


def recover(out_root: Path) -> None:
    """Finish or undo a swap that a killed compile left half done (fallback path only),
    and remove temporary folders of killed compiles. Only a real folder is moved back;
    anything else with those names (a committed link) is removed without being followed."""
    if not out_root.is_dir():
        return
    for entry in sorted(out_root.iterdir()):
        if not entry.name.startswith((_OLD_PREFIX, _TMP_PREFIX)):
            continue
        if not stat.S_ISDIR(os.lstat(entry).st_mode):
            _remove_foreign(entry)
            continue
        if entry.name.startswith(_OLD_PREFIX):
            system = entry.name[len(_OLD_PREFIX):].rsplit(".", 1)[0]
            target = out_root / system
            saved = entry / "tree"
            if system and _lstat_mode(target) is None and stat.S_ISDIR(_lstat_mode(saved) or 0):
                os.rename(saved, target)  # the new tree never arrived: put the old one back
        shutil.rmtree(entry, ignore_errors=True)


def write_tree(out_root: Path, system: str, files: dict[str, str],
               current: dict[str, str] | None = None) -> TreeChange:
    """Replace `out_root/system` with exactly `files`. Call under `output_lock`; `current` is
    the tree as read under that lock, when the caller already has it."""
    import tempfile

    target = out_root / system
    current = read_tree(target) if current is None else current
    change = compare_tree(current, files)
    if change.empty:
        return change
    # A fresh name, created exclusively: nothing committed under a predictable name can
    # stand in its place (a link there would send the whole tree elsewhere).
    staging = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{system}.", dir=out_root))
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; the tree gets normal permissions
        for relative, content in sorted(files.items()):
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "x", encoding="utf-8", newline="\n") as handle:
                handle.write(content)
        # Everything must be on disk before the swap makes it visible: one syncfs for the whole
        # staging tree (thousands of files) instead of an fsync per file.
        _sync_tree(staging)
    except BaseException:
        # A full disk or a permission problem: drop the half-written copy, keep the old tree.
        shutil.rmtree(staging, ignore_errors=True)
        raise
    target_mode = _lstat_mode(target)
    if target_mode is not None and not stat.S_ISDIR(target_mode):
        os.unlink(target)  # a link or a file where the system's folder belongs: not followed, replaced
        target_mode = None
    if target_mode is not None:
        if not _exchange(staging, target):
            old = Path(tempfile.mkdtemp(prefix=f"{_OLD_PREFIX}{system}.", dir=out_root))
            os.rename(target, old / "tree")
            os.rename(staging, target)
            staging = old
        shutil.rmtree(staging, ignore_errors=True)
    else:
        os.rename(staging, target)
    _fsync_dir(out_root)
    return change


def _lstat_mode(path: Path) -> int | None:
    try:
        return os.lstat(path).st_mode
    except FileNotFoundError:
        return None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


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
