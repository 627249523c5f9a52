"""The installed kfp's version, which the pipeline IR embeds (so it is part of every key
that stands for an IR), found without importing kfp."""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path


@functools.lru_cache(maxsize=1)
def installed_kfp_version() -> str:
    """The installed kfp's version, without importing kfp: read from kfp/version.py, which
    every kfp 2 release ships. importlib.metadata would scan every installed distribution
    (~15 ms here, on every compile); it remains the fallback."""
    spec = importlib.util.find_spec("kfp")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            text = (Path(folder) / "version.py").read_text(encoding="utf-8")
        except OSError:
            continue
        found = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", text, re.MULTILINE)
        if found:
            return found.group(1)
    from importlib.metadata import version

    return version("kfp")
