"""The cold path (a clean CI machine, MLSPEC_NO_CACHE=1) against its regression guards:
validate <= 2.0x and compile <= 3.5x the import floor of pydantic, jinja2, ruamel.yaml and click.

The floor and the two commands run in turn, round after round, in one go (so a busy spell of a
shared machine weighs on all three alike), and each figure is the median over the rounds. Besides
wall time (what the guards are about), the children's CPU time (user + system) is printed: on a
loaded machine it moves far less than wall time, so it says whether a change helped when the wall
figures are too noisy to.

Run: .venv/bin/python bench/cold_path.py [--rounds 15] [--tree before=../old-checkout/src ...]
(`--tree NAME=SRC` adds mlspec's code from another source folder to the same rounds, e.g. the
main branch's, for before/after figures measured in one go. Only for trees that generate the same
pipelines: every tree compiles into the same folder, so pipelines that differ are compiled again, with
kfp, in every round. Otherwise run the bench once per tree, with PYTHONPATH set to its src/.)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import IMPORT_FLOOR, MLSPEC, REPO, table

SPEC = "specs/customer-churn.yaml"
GUARDS = {"validate": 2.0, "compile": 3.5}


def run(command: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run; a failing run is an error."""
    merged = {**os.environ, **env}
    merged.pop("PYTHONDONTWRITEBYTECODE", None)  # installed packages run from bytecode
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=merged, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=SRC",
                        help="also run mlspec from this source folder (PYTHONPATH), in the same rounds")
    args = parser.parse_args()
    trees = {"": {}} | {name: {"PYTHONPATH": str(Path(src).resolve())}
                        for name, _, src in (t.partition("=") for t in args.tree)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "specs", work / "specs")
        no_cache = {"MLSPEC_NO_CACHE": "1"}
        commands = {"floor": (IMPORT_FLOOR, {})}
        for tree, env in trees.items():
            suffix = f" ({tree})" if tree else ""
            subprocess.run(MLSPEC + ["compile", SPEC], cwd=work, check=True, capture_output=True,
                           env={**os.environ, **no_cache, **env})
            commands[f"validate{suffix}"] = (MLSPEC + ["validate", SPEC], {**no_cache, **env})
            commands[f"compile{suffix}"] = (MLSPEC + ["compile", SPEC], {**no_cache, **env})
        spec = work / SPEC
        original = spec.read_text()
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for index in range(args.rounds + 1):  # the first round warms the disk cache and is not counted
            # As bench/startup.py's "compile, no cache": each compile follows an edit of the drift
            # threshold (the pipeline does not change, so its IR on disk stays valid).
            spec.write_text(re.sub(r"maxDriftShare: [0-9.]+", f"maxDriftShare: 0.{300 + index}", original, count=1))
            for name, (command, env) in commands.items():
                wall, cpu = run(command, work, env)
                if index:
                    walls[name].append(wall)
                    cpus[name].append(cpu)
    floor_wall, floor_cpu = statistics.median(walls["floor"]), statistics.median(cpus["floor"])
    rows = [["import floor", f"{floor_wall * 1000:.0f} ms", "1.00x", f"{floor_cpu * 1000:.0f} ms", "1.00x", "", ""]]
    for name in (n for n in commands if n != "floor"):
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        per_round = sorted(w / f for w, f in zip(walls[name], walls["floor"]))
        spread = f"{per_round[len(per_round) // 4]:.2f}-{per_round[(3 * len(per_round)) // 4]:.2f}x"
        rows.append([f"mlspec {name}, no cache", f"{wall * 1000:.0f} ms", f"{wall / floor_wall:.2f}x",
                     f"{cpu * 1000:.0f} ms", f"{cpu / floor_cpu:.2f}x", spread, f"<= {GUARDS[name.split()[0]]}x"])
    print(f"MLSPEC_NO_CACHE=1 on {SPEC}: medians of {args.rounds} alternating rounds")
    print(table(rows, ["command", "wall", "vs floor", "cpu", "vs floor", "per-round wall ratio (IQR)", "guard"]))


if __name__ == "__main__":
    main()
