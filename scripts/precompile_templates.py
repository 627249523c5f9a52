#!/usr/bin/env python3
"""Write the precompiled code of mlspec's templates (src/mlspec/targets/precompiled/): run after
editing anything under templates/ (`make templates`)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from mlspec.targets.templating import write_precompiled  # noqa: E402

if __name__ == "__main__":
    for name in write_precompiled(REPO / "src" / "mlspec" / "targets" / "precompiled"):
        print(name)
