"""Helpers the benchmarks share: run a command N times, take the median wall time and the
peak memory of the child, and fit growth exponents. Benchmarks print figures; they assert
nothing (speed is measured here, not in tests)."""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MLSPEC = [PYTHON, "-m", "mlspec"]
IMPORT_FLOOR = [PYTHON, "-c", "import pydantic, jinja2, ruamel.yaml, click"]


def run_once(command: list[str], cwd: Path | None = None, env: dict | None = None) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in KiB, exit code) of one run."""
    merged = {**os.environ, **(env or {})}
    # Installed packages run from bytecode (pip compiles it at install), the import floor's
    # libraries included; without this, a shell that sets PYTHONDONTWRITEBYTECODE would time
    # mlspec compiling its own sources on every run.
    merged.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd or REPO, env=merged,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss, process.returncode


def median_time(command: list[str], runs: int = 7, warmup: int = 1, before=None, **kwargs) -> float:
    """Median wall time of `runs` runs after `warmup` runs; `before(i)`, if given, runs
    (untimed) before each run, e.g. to edit the input the way a pull request would."""
    times = []
    for index in range(warmup + runs):
        if before is not None:
            before(index)
        elapsed = run_once(command, **kwargs)[0]
        if index >= warmup:
            times.append(elapsed)
    return statistics.median(times)


def fit_exponent(sizes: list[int], times: list[float]) -> float:
    """Least-squares slope of log(time) over log(size): 1.0 is linear growth."""
    xs, ys = [math.log(s) for s in sizes], [math.log(max(t, 1e-9)) for t in times]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def table(rows: list[list], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(header, widths))]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)
