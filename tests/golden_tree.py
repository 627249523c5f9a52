"""Golden trees: a compiled output folder compared file by file with `expected/`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from goldens import UPDATE_COMMAND, assert_golden, updating


def assert_golden_tree(actual: dict[str, str], expected_dir: Path) -> None:
    expected_files = sorted(p.relative_to(expected_dir).as_posix()
                            for p in expected_dir.rglob("*") if p.is_file()) if expected_dir.is_dir() else []
    if updating():
        shutil.rmtree(expected_dir, ignore_errors=True)
    else:
        extra = sorted(set(expected_files) - set(actual))
        missing = sorted(set(actual) - set(expected_files))
        if extra or missing:
            pytest.fail(f"{expected_dir}: files no longer produced: {extra}; new files: {missing}\n"
                        f"if the new output is right, update the goldens with: {UPDATE_COMMAND}", pytrace=False)
    for relative, content in sorted(actual.items()):
        assert_golden(content, expected_dir / relative)
