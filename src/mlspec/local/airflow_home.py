"""An Airflow home in the work folder of `mlspec run --local`: a SQLite metadata database
migrated once, `airflow dags test` run in a subprocess with Variables in the environment, and
the task states (with their times) it recorded."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from mlspec.errors import ExternalError
from mlspec.local import processes


def airflow_executable() -> str:
    beside = Path(sys.executable).parent / "airflow"
    found = str(beside) if beside.exists() else shutil.which("airflow")
    if not found:
        raise ExternalError("no `airflow` executable beside this Python or on PATH")
    return found


def airflow_environment(home: Path, dags: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an Airflow command run on an own AIRFLOW_HOME: this process's
    environment without its Airflow, AWS and OpenLineage settings, the home and DAG folder,
    no example DAGs, no lineage events and no telemetry, then `extra`."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AIRFLOW", "AWS_", "OPENLINEAGE"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        # airflow.cfg records the database's absolute path when it is first written: named here,
        # a work folder that was moved or copied still uses its own database.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{Path(home).resolve() / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",
        # A task still gets the retries its DAG gives it, but a local run does not wait
        # minutes between them.
        "AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **(extra or {}),
    })
    return env


FINAL_STATES = {"success", "failed", "skipped", "upstream_failed", "removed"}


@dataclass(frozen=True)
class TaskRun:
    task_id: str
    state: str | None
    seconds: float


@dataclass(frozen=True)
class AirflowHome:
    path: Path
    dags: Path

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return airflow_environment(self.path, self.dags, extra)

    def migrate(self, log: Path) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        result = processes.run([airflow_executable(), "db", "migrate"], env=self.env(), timeout=900, cwd=self.path)
        log.write_text(result.stdout + result.stderr, encoding="utf-8")
        if result.returncode != 0:
            raise ExternalError(f"`airflow db migrate` failed in {self.path} (log: {log}):\n"
                                f"{result.stderr[-2000:]}")

    def dags_test(self, dag_id: str, logical_date: str, extra_env: dict[str, str], log: Path,
                  timeout: int = 3600, conf: dict | None = None,
                  progress: Callable[[str, int, int], None] | None = None) -> subprocess.CompletedProcess:
        """`airflow dags test DAG DATE [--conf JSON]`; its whole output goes to `log`. While it
        runs, `progress(dag_id, tasks finished, tasks)` is called about once a second."""
        command = [airflow_executable(), "dags", "test", dag_id, logical_date]
        if conf is not None:
            command += ["--conf", json.dumps(conf)]
        log.parent.mkdir(parents=True, exist_ok=True)
        before = self._last_run_id(dag_id)
        with open(log, "w", encoding="utf-8") as out:
            process = processes.start(command, env=self.env(extra_env), stdout=out, stderr=subprocess.STDOUT,
                                      text=True, cwd=self.path)
            deadline = time.monotonic() + timeout
            try:
                while process.poll() is None:
                    if time.monotonic() > deadline:
                        processes.end(process, grace=5)
                        out.write(f"\nmlspec: `airflow dags test` killed after {timeout} s\n")
                        break
                    if progress is not None:
                        progress(dag_id, *self._finished(dag_id, before))
                    time.sleep(1)
            finally:  # its tasks' processes too (kfp steps), also when the run is interrupted
                processes.end(process, grace=5)
        output = log.read_text(encoding="utf-8", errors="replace")
        return subprocess.CompletedProcess(command, process.returncode, output, "")

    def _last_run_id(self, dag_id: str) -> int:
        try:
            with sqlite3.connect(self.path / "airflow.db", timeout=1) as db:
                row = db.execute("SELECT MAX(id) FROM dag_run WHERE dag_id = ?", (dag_id,)).fetchone()
        except sqlite3.Error:
            return 0
        return row[0] or 0

    def _finished(self, dag_id: str, after: int) -> tuple[int, int]:
        """(tasks in a final state, tasks) of the DAG's run started after run id `after`."""
        try:
            with sqlite3.connect(self.path / "airflow.db", timeout=1) as db:
                states = [s for (s,) in db.execute(
                    "SELECT ti.state FROM task_instance ti JOIN dag_run r ON r.run_id = ti.run_id AND"
                    " r.dag_id = ti.dag_id WHERE r.dag_id = ? AND r.id > ?", (dag_id, after))]
        except sqlite3.Error:  # locked or not made yet: nothing to say this second
            return 0, 0
        return sum(s in FINAL_STATES for s in states), len(states)

    def run_confs(self, dag_id: str) -> list[tuple[str, dict]]:
        """(run id, conf) of the DAG's runs, newest first (a conf that is not a JSON object: {})."""
        database = self.path / "airflow.db"
        if not database.exists():
            return []
        with sqlite3.connect(database) as db:
            rows = db.execute("SELECT run_id, conf FROM dag_run WHERE dag_id = ? ORDER BY id DESC",
                              (dag_id,)).fetchall()
        out = []
        for run_id, conf in rows:
            try:
                value = json.loads(conf) if isinstance(conf, str) else {}
            except ValueError:
                value = {}
            out.append((run_id, value if isinstance(value, dict) else {}))
        return out

    def task_runs(self, dag_id: str) -> dict[str, TaskRun]:
        """task_id -> state and duration in the DAG's most recent run."""
        database = self.path / "airflow.db"
        if not database.exists():
            return {}
        with sqlite3.connect(database) as db:
            run = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
                             (dag_id,)).fetchone()
            if run is None:
                return {}
            rows = db.execute("SELECT task_id, state, start_date, end_date FROM task_instance"
                              " WHERE dag_id = ? AND run_id = ?", (dag_id, run[0])).fetchall()
        return {task: TaskRun(task, state, _seconds(start, end)) for task, state, start, end in rows}


def _seconds(start, end) -> float:
    try:
        return max((datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return 0.0
