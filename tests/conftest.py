"""Fixtures shared by the whole suite: repository paths, the CLI, and CRD validators."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SPECS = REPO / "specs"


def run_mlspec(*args: str, cwd: Path | None = None, env: dict | None = None,
               check: bool = False) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess (as users and CI do)."""
    merged = {**os.environ, "NO_COLOR": "1", **(env or {})}
    result = subprocess.run([sys.executable, "-m", "mlspec", *args], cwd=cwd or REPO, env=merged,
                            capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"mlspec {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "crds").is_dir():
        pytest.fail(f"the CRD schemas are expected in {SHARED / 'crds'} (../shared beside the repository)")
    return SHARED


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """mlspec's result cache (mlspec/build/cache.py) in a folder of this test's own, so a test
    neither reads a developer's cache nor what an earlier test left (order never matters), and
    the CLI it runs, in this process or a child, sees the same folder. (Not under tmp_path, which
    some tests expect to hold only what the command under test wrote.)"""
    folder = tmp_path_factory.mktemp("mlspec-cache")
    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(folder))
    # The jinja2 environment is built once per process and keeps compiled templates in the
    # cache folder it was built with: build it again for this test's folder.
    templating = sys.modules.get("mlspec.targets.templating")
    if templating is not None:
        templating.environment.cache_clear()
    return folder
