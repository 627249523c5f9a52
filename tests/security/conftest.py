"""What the attack tests share: a project with example specs, and a folder outside it
that no command may touch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import SPECS


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A spec repository (the CLI's working directory) holding the example specs."""
    root = tmp_path / "project"
    shutil.copytree(SPECS, root / "specs")
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside every repository of the test: links point here, and nothing may be
    written, removed or read here. It holds a secret file."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "credentials").write_text("https://attacker:ghp_SECRETTOKEN1234567890@github.com\n")
    return folder
