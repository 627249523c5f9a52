"""`mlspec compile --check` on an unchanged tree of many systems.

Target (issue 7): under 2x the import floor plus the time to hash the tree.
Run: .venv/bin/python bench/check_tree.py [--systems 100]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

from common import IMPORT_FLOOR, MLSPEC, median_time, table
from synthetic import write_synthetic


def hash_tree(folder: Path) -> float:
    start = time.perf_counter()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            hashlib.sha256(path.read_bytes()).hexdigest()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--systems", type=int, default=100)
    parser.add_argument("--models", type=int, default=1, help="models per system")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for index in range(args.systems):
            write_synthetic(work / "specs", f"system-{index}", args.models)
        # The result cache lives with the run (warm after the first compile, as in CI with a cache).
        os.environ["MLSPEC_CACHE_DIR"] = str(work / "cache")
        subprocess.run(MLSPEC + ["compile", "specs"], cwd=work, check=True, capture_output=True)
        files = sum(1 for p in (work / "generated").rglob("*") if p.is_file())
        floor = median_time(IMPORT_FLOOR, runs=5, cwd=work)
        hashing = min(hash_tree(work / "generated") for _ in range(3))
        check = median_time(MLSPEC + ["compile", "specs", "--check"], runs=3, warmup=1, cwd=work)
    budget = 2 * floor + hashing
    print(f"compile --check on {args.systems} unchanged systems ({files} files)")
    print(table([
        ["import floor", f"{floor * 1000:.0f} ms"],
        ["hash the tree (sha256 of every file)", f"{hashing * 1000:.0f} ms"],
        ["mlspec compile --check", f"{check * 1000:.0f} ms"],
        ["target: 2 x floor + hashing", f"{budget * 1000:.0f} ms ({check / budget:.2f}x of budget)"],
    ], ["what", "median"]))


if __name__ == "__main__":
    main()
