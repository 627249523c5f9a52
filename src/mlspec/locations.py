"""Where mlspec finds its own files and keeps its cache (shared by the result cache and the
template environment, which both need them and must not import each other)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CACHE_DIR_ENV = "MLSPEC_CACHE_DIR"
DISABLE_CACHE_ENV = "MLSPEC_NO_CACHE"
USER_TEMPLATES_ENV = "MLSPEC_TEMPLATES"


def template_dir() -> Path:
    """Templates ship inside the wheel as `mlspec/templates`; in a source checkout they
    live at the repository's top level."""
    packaged = PACKAGE_DIR / "templates"
    if packaged.is_dir():
        return packaged
    return PACKAGE_DIR.parents[1] / "templates"


def cache_root() -> Path:
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mlspec"


def cache_disabled() -> bool:
    return bool(os.environ.get(DISABLE_CACHE_ENV))
