"""Golden files: compare an output with its committed expected file, or rewrite it.

Goldens are reviewed like code (STYLE.md), so a mismatch shows the diff and the one
command that rewrites every golden; with MLSPEC_UPDATE_GOLDENS=1 set (which that command
sets), `assert_golden` writes the new output instead of failing.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

UPDATE_COMMAND = "make update-goldens"
UPDATE_ENV = "MLSPEC_UPDATE_GOLDENS"


def updating() -> bool:
    return os.environ.get(UPDATE_ENV) == "1"


def assert_golden(actual: str, expected_path: Path) -> None:
    """Fail with a unified diff unless `actual` equals the text of `expected_path`.

    Files are compared as exact UTF-8 text with `\\n` line ends, so a golden never depends
    on the platform that wrote it."""
    expected_path = Path(expected_path)
    expected = expected_path.read_text(encoding="utf-8") if expected_path.exists() else None
    if actual == expected:
        return
    if updating():
        expected_path.parent.mkdir(parents=True, exist_ok=True)
        with open(expected_path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(actual)
        return
    if expected is None:
        pytest.fail(f"missing golden file {expected_path}\ncreate it with: {UPDATE_COMMAND}", pytrace=False)
    lines = difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                 fromfile=f"{expected_path} (expected)", tofile="actual output")
    diff = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    pytest.fail(f"output differs from {expected_path}:\n{diff}\n"
                f"if the new output is right, update the goldens with: {UPDATE_COMMAND}", pytrace=False)
