"""Run every benchmark in turn and print its figures (`make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [["startup.py"], ["cold_path.py"], ["scale.py", "--sizes", "1,10,100,1000"], ["check_tree.py", "--systems", "100"],
              ["airflow_parse.py", "--dags", "20"], ["lsp.py", "--edits", "400"], ["run_local.py"]]

if __name__ == "__main__":
    for args in BENCHMARKS:
        print(f"\n== {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, str(HERE / args[0]), *args[1:]], cwd=HERE, check=True)
