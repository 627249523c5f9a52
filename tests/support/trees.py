"""Snapshots of output folders, to assert that a command wrote exactly nothing (or something)."""

from __future__ import annotations

from pathlib import Path

from mlspec.compiler.writer import LOCK_NAME


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative POSIX path -> bytes), except the compile lock."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK_NAME}


def tree_state(folder: Path) -> dict[str, bytes | str]:
    """Every entry under `folder`, links as their target (not followed): to show that a
    command changed nothing there."""
    state: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            state[relative] = "-> " + str(path.readlink())
        elif path.is_file():
            state[relative] = path.read_bytes()
        elif path.is_dir():
            state[relative] = "dir"
        else:
            state[relative] = "special"
    return state
