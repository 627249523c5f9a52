"""Run generated DAGs with the real Airflow: a temporary AIRFLOW_HOME with a migrated sqlite
metadata database (once per test session), `airflow dags test` in a subprocess, and the
task states it recorded."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlspec.local.airflow_home import airflow_environment

AIRFLOW = Path(sys.executable).parent / "airflow"


@dataclass
class AirflowHome:
    path: Path

    def env(self, dags_folder: Path, extra: dict | None = None) -> dict:
        return airflow_environment(self.path, dags_folder, extra)

    def dags_test(self, dag_id: str, logical_date: str, dags_folder: Path, extra_env: dict | None = None,
                  timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run([str(AIRFLOW), "dags", "test", dag_id, logical_date],
                              env=self.env(dags_folder, extra_env), capture_output=True, text=True,
                              timeout=timeout, cwd=self.path)

    def task_states(self, dag_id: str) -> dict[str, str | None]:
        """task_id -> state of the DAG's most recent run."""
        with sqlite3.connect(self.path / "airflow.db") as db:
            run = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
                             (dag_id,)).fetchone()
            if run is None:
                return {}
            rows = db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                              (dag_id, run[0])).fetchall()
        return dict(rows)

    def runs(self, dag_id: str) -> list[tuple[str, str]]:
        """(run_id, run_type) of every run of a DAG, oldest first."""
        with sqlite3.connect(self.path / "airflow.db") as db:
            return db.execute("SELECT run_id, run_type FROM dag_run WHERE dag_id = ? ORDER BY id",
                              (dag_id,)).fetchall()


def migrated_home(path: Path) -> AirflowHome:
    home = AirflowHome(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "dags").mkdir(exist_ok=True)
    result = subprocess.run([str(AIRFLOW), "db", "migrate"], env=home.env(path / "dags"), capture_output=True,
                            text=True, timeout=600, cwd=path)
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return home


_shared: list[AirflowHome] = []


def shared_home() -> AirflowHome:
    """One migrated AIRFLOW_HOME per test session (`airflow db migrate` takes a few seconds),
    removed when the session ends."""
    if not _shared:
        import atexit
        import shutil
        import tempfile

        path = Path(tempfile.mkdtemp(prefix="mlspec-airflow-"))
        atexit.register(shutil.rmtree, path, True)
        _shared.append(migrated_home(path))
    return _shared[0]
