"""Wall time of `mlspec run SPEC --local` on this machine: the whole run (work folder made,
Airflow migrated, every stage), and each stage's seconds from its `--report`. One run per
spec by default (a run takes minutes; the figures vary by the machine's load).

Run: .venv/bin/python bench/run_local.py [--spec specs/customer-churn.yaml] [--runs 1]
(needs the `local` extra: pip install -e '.[local]' -c constraints/test.txt)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import MLSPEC, REPO, table

STAGES = ["ingest", "validate", "version", "materialize", "train", "register", "promote", "serve", "drift",
          "retrain"]


def one_run(spec: str) -> tuple[float, dict[str, float], int]:
    import subprocess

    with tempfile.TemporaryDirectory(prefix="mlspec-bench-run-") as folder:
        report = Path(folder) / "report.json"
        start = time.perf_counter()
        done = subprocess.run([*MLSPEC, "run", spec, "--local", "--workdir", str(Path(folder) / "work"),
                               "--report", str(report)], cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - start
        stages = {s["stage"]: s["seconds"] for s in json.loads(report.read_text())["stages"]} \
            if report.exists() else {}
    return wall, stages, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="specs/customer-churn.yaml")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    walls, per_stage = [], {s: [] for s in STAGES}
    for _ in range(args.runs):
        wall, stages, code = one_run(args.spec)
        if code != 0:
            print(f"`mlspec run {args.spec} --local` exited {code}: figures of a failed run are not shown")
            raise SystemExit(1)
        walls.append(wall)
        for stage, seconds in stages.items():
            per_stage[stage].append(seconds)
    rows = [["whole run (wall)", f"{statistics.median(walls):.0f} s"]]
    rows += [[stage, f"{statistics.median(values):.1f} s"] for stage, values in per_stage.items() if values]
    print(f"mlspec run {args.spec} --local, median of {args.runs} run(s)")
    print(table(rows, ["step", "seconds"]))


if __name__ == "__main__":
    main()
