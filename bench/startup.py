"""Start-up and compile time of the CLI as a ratio to the import floor of its dependencies.

Targets (issue 7): validate <= 1.5x the floor; compile <= 2.0x with an unchanged pipeline.
Run: .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from common import IMPORT_FLOOR, MLSPEC, REPO, median_time, table

SPEC = "specs/customer-churn.yaml"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "specs", work / "specs")
        shutil.copytree(REPO / "templates", work / "templates")
        # An unchanged pipeline: the output already exists, as in CI on most pull requests.
        subprocess.run(MLSPEC + ["compile", SPEC], cwd=work, check=True, capture_output=True)
        floor = median_time(IMPORT_FLOOR, cwd=work)
        validate = median_time(MLSPEC + ["validate", SPEC], cwd=work)
        compile_ = median_time(MLSPEC + ["compile", SPEC], cwd=work)
        check = median_time(MLSPEC + ["compile", SPEC, "--check"], cwd=work)
    rows = [
        ["import floor (pydantic, jinja2, ruamel.yaml, click)", f"{floor * 1000:.0f} ms", "1.00x", ""],
        ["mlspec validate", f"{validate * 1000:.0f} ms", f"{validate / floor:.2f}x", "<= 1.5x"],
        ["mlspec compile (unchanged pipeline)", f"{compile_ * 1000:.0f} ms", f"{compile_ / floor:.2f}x", "<= 2.0x"],
        ["mlspec compile --check", f"{check * 1000:.0f} ms", f"{check / floor:.2f}x", ""],
    ]
    print(f"start-up and compile on {SPEC} (median of 7 runs)")
    print(table(rows, ["command", "median", "vs floor", "target"]))


if __name__ == "__main__":
    main()
