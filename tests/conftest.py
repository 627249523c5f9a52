"""Fixtures shared by the whole suite: repository paths, the CLI, and CRD validators."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tempfile

import pytest

# Keep mlspec's result cache (see mlspec/cache.py) inside this test session, so tests neither
# read a developer's cache nor leave entries behind in it.
os.environ["MLSPEC_CACHE_DIR"] = tempfile.mkdtemp(prefix="mlspec-test-cache-")
# ... and the key that authenticates its entries (mlspec/integrity.py) likewise: never the
# developer's ~/.config/mlspec/cache.key.
os.environ["MLSPEC_CACHE_KEY"] = os.path.join(tempfile.mkdtemp(prefix="mlspec-test-key-"), "cache.key")

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
