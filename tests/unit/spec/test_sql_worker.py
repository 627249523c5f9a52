"""spec/sql_worker: a spec's SQL parsed in a forked child gives exactly the diagnostics and
lineage of parsing in process, the child is gone when the command ends, and a child that dies
costs nothing but time.

Each case runs in a fresh single-threaded interpreter: the child is only forked from a process
without threads, and the test runner has some."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO
from support.corpus import CORPUS

CASES = REPO / "tests" / "cases" / "invalid"
# The SQL cases of the invalid corpus, the examples, and the corpus specs nobody tuned this to
# (joins, CTEs, several connections and dialects: tests/support/corpus.py).
SQL_SPECS = [*sorted(str(p / "spec.yaml") for p in CASES.iterdir() if "sql" in p.name),
             str(REPO / "specs" / "customer-churn.yaml"), str(REPO / "specs" / "payments-risk.yaml"),
             *sorted(str(p) for p in CORPUS if "sql:" in p.read_text())]

SCRIPT = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    from mlspec.compiler.session import load_unit
    from mlspec.spec import sql_worker

    def verdict(path):
        unit = load_unit(Path(path))
        sources = {}
        if unit.project is not None:
            for dataset in unit.project.base.datasets:
                if hasattr(dataset.source, "sql"):
                    sources[dataset.name] = list(dataset.source.tables)
        return {"diagnostics": sorted(f"{d.code} {d.message} {d.span} {d.help}" for d in unit.diagnostics),
                "tables": sources}

    mode, paths = sys.argv[1], sys.argv[2:]
    out = {"started": [], "results": {}}
    for path in paths:
        if mode == "in-process":
            out["results"][path] = verdict(path)
            continue
        with sql_worker.allowed():
            result = verdict(path)
            worker = sql_worker._worker
            out["started"].append(worker is not None)
            if worker is not None and mode == "child-killed":
                os.kill(worker.pid, 9)
                os.waitpid(worker.pid, 0)
                sql_worker._worker = worker  # still believed alive: the next question finds it dead
                from mlspec.spec import sql
                sql.parse_query.cache_clear()
                result = verdict(path)
            pid = worker.pid if worker is not None else None
        out["results"][path] = result
        if pid is not None:  # reaped when the block ended: no zombie is left
            try:
                os.waitpid(pid, os.WNOHANG)
                out.setdefault("left", []).append(pid)
            except ChildProcessError:
                pass
    print(json.dumps(out))
""")


def run(mode: str, paths: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode, *paths], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin",
                                         "MLSPEC_NO_CACHE": "1"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def in_process():
    return run("in-process", SQL_SPECS)


def test_the_child_answers_exactly_what_parsing_in_process_answers(in_process):
    forked = run("child", SQL_SPECS)
    assert all(forked["started"]), "a spec with SQL forks the child"
    assert "left" not in forked, "every child is reaped when its block ends"
    assert forked["results"] == in_process["results"]
    # The cases do hold the SQL diagnostics and the tables compared here.
    codes = {d.split()[0] for r in in_process["results"].values() for d in r["diagnostics"]}
    assert {"E312", "E314", "E315"} <= codes
    assert any(tables for r in in_process["results"].values() for tables in r["tables"].values())
    # a joined query's tables, every one of them, from the child as in process
    assert any(len(tables) > 1 for r in forked["results"].values() for tables in r["tables"].values())


def test_a_child_that_dies_is_answered_in_process(in_process):
    killed = run("child-killed", SQL_SPECS)
    assert killed["results"] == in_process["results"]


def test_no_child_for_a_spec_without_sql():
    minimal = str(REPO / "specs" / "minimal.yaml")
    assert run("child", [minimal])["started"] == [False]
