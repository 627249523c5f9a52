"""Scale: compile synthetic specs with 1, 10, 100 and 1000 models; wall time, peak memory
and the fitted growth exponent.

Targets (issue 7): 1000 models in under 60 s on a 2-core machine, under 1 GB peak memory,
exponent <= 1.15. Run: .venv/bin/python bench/scale.py [--sizes 1,10,100,1000]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import MLSPEC, fit_exponent, run_once, table
from synthetic import write_synthetic


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10,100,1000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, times = [], []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            write_synthetic(work / "specs", f"bench-{size}", size)
            seconds, peak_kib, code = run_once(MLSPEC + ["compile", "specs"], cwd=work)
            files = sum(1 for p in (work / "generated").rglob("*") if p.is_file()) if code == 0 else 0
        times.append(seconds)
        rows.append([size, f"{seconds:.2f} s", f"{peak_kib / 1024:.0f} MiB", files, "ok" if code == 0 else f"exit {code}"])
    print("compile of one synthetic spec per size (cold: empty output folder)")
    print(table(rows, ["models", "wall", "peak RSS", "files", "result"]))
    fitted = [s for s in sizes if s >= 10]
    if len(fitted) >= 2:
        exponent = fit_exponent(fitted, [t for s, t in zip(sizes, times) if s >= 10])
        print(f"growth exponent over {fitted}: {exponent:.2f} (target <= 1.15)")


if __name__ == "__main__":
    main()
