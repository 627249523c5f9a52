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


# What of this process's environment reaches the processes that run a spec's code (Airflow's
# tasks and the kfp steps they start, the scoring server): where programs, the home folder,
# the locale and temporary files are, certificates, and where pip finds packages. Nothing
# else: no cloud credentials (AWS_*, GOOGLE_*, AZURE_*), no tokens (GITHUB_TOKEN,
# MLSPEC_WEBHOOK_SECRET), no Airflow, MLflow or OpenLineage settings of the machine, no proxy
# (its URL may carry a password), no PIP_INDEX_URL (it may carry a token: use a pip.conf).
# The run sets what its steps need itself (AIRFLOW_HOME, AIRFLOW_CONN_*, AIRFLOW_VAR_*).
PASSED_ON = frozenset({"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM", "USER", "LOGNAME", "NO_COLOR",
                       "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "PIP_CONFIG_FILE",
                       "PIP_FIND_LINKS", "PIP_NO_INDEX"})


def step_environment() -> dict[str, str]:
    """The variables of this process's environment a spec's code may see (PASSED_ON, LC_*)."""
    return {key: value for key, value in os.environ.items() if key in PASSED_ON or key.startswith("LC_")}


def run_python(folder: Path) -> Path:
    """The Python of the run, a virtual environment made anew in `folder`: it sees the
    packages of the environment mlspec runs from (a .pth file adds their folder after its own),
    but pip installs into `folder`. Airflow runs on it, so kfp's local runner, which installs a
    step's `packages_to_install` with the Python it runs on, installs a spec's
    `training.packages` here, never into mlspec's environment."""
    import site
    import sysconfig
    import venv

    venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(folder)  # anew: nothing of a past run
    paths = sysconfig.get_paths(vars={"base": str(folder), "platbase": str(folder)})
    bases = [*site.getsitepackages(), *([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])]
    lines = "".join(f"import site; site.addsitedir({path!r})\n" for path in bases)
    Path(paths["purelib"]).mkdir(parents=True, exist_ok=True)
    (Path(paths["purelib"]) / "_mlspec_run_base.pth").write_text(lines, encoding="utf-8")
    return folder / "bin" / "python"


def airflow_environment(home: Path, dags: Path, extra: dict[str, str] | None = None,
                        python: Path | None = None) -> dict[str, str]:
    """The environment of an Airflow command run on an own AIRFLOW_HOME: the few variables of
    this process's environment a step may see (step_environment), the home and DAG folder, no
    example DAGs, no lineage events and no telemetry, then `extra` (a local run's switches
    OpenLineage on into its work folder: mlspec.local.lineage_events). PATH starts with the bin
    folder of `python` (the run's environment), then this Python's."""
    env = step_environment()
    bins = [str(Path(python).parent)] if python else []
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
        "PATH": os.pathsep.join([*bins, str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        **(extra or {}),
    })
    return env


def migrated_database_cache() -> Path | None:
    """Where a freshly migrated metadata database is kept for the next run, named by what decides
    its tables: the versions of Python, SQLite and every `apache-airflow*` package (providers
    bring their own tables). None when mlspec's cache is off (MLSPEC_NO_CACHE)."""
    import hashlib
    import importlib.metadata

    from mlspec.locations import cache_disabled, cache_root

    if cache_disabled():
        return None
    packages = sorted({f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
                       if str(d.metadata["Name"] or "").lower().replace("_", "-").startswith("apache-airflow")})
    if not packages:
        return None
    key = hashlib.sha256("\n".join([sys.version, sqlite3.sqlite_version, *packages]).encode()).hexdigest()[:24]
    return cache_root() / "airflow-db" / f"{key}.db"


def _keep(database: Path, kept: Path) -> None:
    """Copy the migrated database into the cache, whole or not at all (another run may read it)."""
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f".{kept.name}.{os.getpid()}")
        shutil.copyfile(database, partial)
        os.replace(partial, kept)
    except OSError:  # a cache that cannot be written costs the next run a migration, nothing more
        pass


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
    python: Path | None = None  # the run's Python (run_python); None: the `airflow` beside this one

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return airflow_environment(self.path, self.dags, extra, self.python)

    def airflow(self) -> list[str]:
        return [str(self.python), "-m", "airflow"] if self.python else [airflow_executable()]

    def migrate(self, log: Path) -> None:
        """A migrated metadata database: a copy of the one the same Airflow packages migrated
        before (migrating SQLite from nothing takes 10 to 20 s), else `airflow db migrate`."""
        self.path.mkdir(parents=True, exist_ok=True)
        database = self.path / "airflow.db"
        kept = migrated_database_cache()
        if kept is not None and kept.is_file() and not kept.is_symlink():
            database.unlink(missing_ok=True)
            shutil.copyfile(kept, database)
            log.write_text(f"the metadata database {kept} copied: the same Airflow packages migrated it\n",
                           encoding="utf-8")
            return
        result = processes.run([*self.airflow(), "db", "migrate"], env=self.env(), timeout=900, cwd=self.path)
        log.write_text(result.stdout + result.stderr, encoding="utf-8")
        if result.returncode != 0:
            raise ExternalError(f"`airflow db migrate` failed in {self.path} (log: {log}):\n"
                                f"{result.stderr[-2000:]}")
        if kept is not None:
            _keep(database, kept)

    def dags_test(self, dag_id: str, logical_date: str, extra_env: dict[str, str], log: Path,
                  timeout: int = 3600, conf: dict | None = None,
                  progress: Callable[[str, int, int], None] | None = None) -> subprocess.CompletedProcess:
        """`airflow dags test DAG DATE [--conf JSON]`; its whole output goes to `log`. While it
        runs, `progress(dag_id, tasks finished, tasks)` is called about once a second."""
        command = [*self.airflow(), "dags", "test", dag_id, logical_date]
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
