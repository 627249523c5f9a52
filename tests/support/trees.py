"""Snapshots of output folders, to assert that a command wrote exactly nothing (or something)."""

from __future__ import annotations

from pathlib import Path

from mlspec.build.writer import LOCK_NAME


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative POSIX path -> bytes), except the compile lock."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK_NAME}
