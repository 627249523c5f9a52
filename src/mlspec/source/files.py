"""Which files a command works on: the spec files named, or found in the folders named."""

from __future__ import annotations

import os
from pathlib import Path

from mlspec.errors import UsageError

SPEC_SUFFIXES = (".yaml", ".yml")


def spec_files(paths: list[str]) -> list[Path]:
    """The spec files every command works on, or a UsageError naming what is wrong."""
    files, missing = expand_spec_paths(paths)
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    if not files:
        raise UsageError("no spec files (*.yaml, *.yml) found in: " + ", ".join(paths))
    return files


def expand_spec_paths(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Files as given; folders searched (sorted) for *.yaml / *.yml, leaving out hidden
    files and folders (`.git`, `.venv`, an editor's `.spec.yaml` lock): returns (files, missing)."""
    files: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += _specs_under(path)
        elif path.is_file():
            files.append(path)
        else:
            missing.append(raw)
    return files, missing


def _specs_under(folder: Path) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if name.endswith(SPEC_SUFFIXES) and not name.startswith("."):
                path = Path(root) / name
                if path.is_file():
                    found.append(path)
    return sorted(found)
