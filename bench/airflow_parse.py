"""Airflow parse cost per DAG file, measured the way Airflow 3's DAG processor parses: a
parent process with airflow already imported (and, as Airflow's parsing_pre_import_modules
does, the airflow.* modules each DAG file names) forks a child per DAG file, and the child
fills a DagBag from that one file.

Compared per file: the ingestion DAGs mlspec generates; dag-factory 1.1.0 loading YAML that
describes the same DAGs (same tasks and dependencies); a minimal hand-written DAG with the
same task count. Targets (issue 7): mlspec >= 10x faster than dag-factory and within 1.3x
of hand-written. Run: .venv/bin/python bench/airflow_parse.py [--dags 20]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from common import MLSPEC, table
from synthetic import write_synthetic

HAND_WRITTEN = '''
import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def _noop(**context):
    return None


with DAG(dag_id={dag_id!r}, schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
         catchup=False) as dag:
    tasks = [PythonOperator(task_id=task_id, python_callable=_noop) for task_id in {task_ids!r}]
    for upstream, downstream in zip(tasks, tasks[1:]):
        upstream >> downstream
'''

DAG_FACTORY_LOADER = '''
# airflow dag (dag-factory loader)
from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals(), config_filepath={config!r})
'''


def _dag_shape(path: Path) -> tuple[str, list[str]]:
    """The dag_id and ordered task ids of a generated DAG file, read without importing it."""
    tree = ast.parse(path.read_text())
    dag_id, tasks = None, []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "dag_id" and isinstance(node.value, ast.Constant):
            dag_id = node.value.value
        if isinstance(node, ast.keyword) and node.arg == "task_id" and isinstance(node.value, ast.Constant):
            tasks.append(node.value.value)
    return dag_id, tasks


def _write_peers(shapes: list[tuple[str, list[str]]], hand: Path, factory: Path, callables: Path) -> None:
    hand.mkdir()
    factory.mkdir()
    (callables / "bench_callables.py").write_text("def noop(**context):\n    return None\n")
    for dag_id, task_ids in shapes:
        (hand / f"{dag_id}.py").write_text(HAND_WRITTEN.format(dag_id=dag_id, task_ids=task_ids))
        tasks = {}
        for index, task_id in enumerate(task_ids):
            tasks[task_id] = {"operator": "airflow.providers.standard.operators.python.PythonOperator",
                              "python_callable": "bench_callables.noop"}
            if index:
                tasks[task_id]["dependencies"] = [task_ids[index - 1]]
        config = {dag_id: {"schedule": "@daily", "start_date": "2024-01-01", "catchup": False,
                           "default_args": {"owner": "bench"}, "tasks": tasks}}
        config_path = factory / f"{dag_id}.yml"
        config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        (factory / f"{dag_id}.py").write_text(DAG_FACTORY_LOADER.format(config=str(config_path)))


CHILD = textwrap.dedent('''
    import importlib, json, os, sys, time
    from airflow.dag_processing.dagbag import DagBag  # imported once, in the parent
    from airflow.utils.file import iter_airflow_imports

    results = {}
    for path in sys.argv[1:]:
        # As DagFileProcessorProcess.start does ([dag_processor] parsing_pre_import_modules,
        # on by default): the parent imports the airflow.* modules a file names before it
        # forks the child that parses the file, so no child pays for them again.
        for module in iter_airflow_imports(path):
            importlib.import_module(module)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            start = time.perf_counter()
            bag = DagBag(dag_folder=path, safe_mode=False)
            elapsed = time.perf_counter() - start
            os.write(write, json.dumps([elapsed, len(bag.dags), len(bag.import_errors)]).encode())
            os._exit(0)
        os.close(write)
        data = b""
        while chunk := os.read(read, 65536):
            data += chunk
        os.close(read)
        os.waitpid(pid, 0)
        results[path] = json.loads(data)
    print(json.dumps(results))
''')


def measure(files: list[Path], env: dict, rounds: int = 3) -> tuple[float, int, int]:
    """Median seconds per file over `rounds` passes; DAGs found; import errors."""
    per_file: dict[str, list[float]] = {}
    dags = errors = 0
    for _ in range(rounds):
        out = subprocess.run([sys.executable, "-c", CHILD, *map(str, files)], env=env, capture_output=True,
                             text=True)
        if out.returncode != 0:
            raise SystemExit(f"parsing failed:\n{out.stderr[-3000:]}")
        results = json.loads(out.stdout.strip().splitlines()[-1])
        dags = sum(r[1] for r in results.values())
        errors = sum(r[2] for r in results.values())
        for path, (seconds, _, _) in results.items():
            per_file.setdefault(path, []).append(seconds)
    return statistics.median(statistics.median(v) for v in per_file.values()), dags, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dags", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_synthetic(work / "specs", "parse-bench", models=0, datasets=args.dags)
        subprocess.run(MLSPEC + ["compile", "specs", "--target", "airflow"], cwd=work, check=True,
                       capture_output=True)
        dag_dir = work / "generated/parse-bench/airflow/dags"
        mlspec_files = sorted(p for p in dag_dir.glob("*__ingest_*.py"))
        shapes = [_dag_shape(p) for p in mlspec_files]
        _write_peers(shapes, work / "hand", work / "factory", work)
        env = {**os.environ, "AIRFLOW_HOME": str(work / "airflow-home"), "PYTHONPATH": str(work),
               "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(work / "factory"),
               "PYTHONDONTWRITEBYTECODE": "1", "DAG_FACTORY__TELEMETRY_ENABLED": "False",
               "AIRFLOW__CORE__UNIT_TEST_MODE": "False"}
        runs = {
            "mlspec": measure(mlspec_files, env),
            "hand-written": measure(sorted((work / "hand").glob("*.py")), env),
            "dag-factory 1.1.0": measure(sorted((work / "factory").glob("*.py")), env),
        }
    tasks = len(shapes[0][1]) if shapes else 0
    hand, factory, ours = runs["hand-written"][0], runs["dag-factory 1.1.0"][0], runs["mlspec"][0]
    rows = [[name, f"{seconds * 1000:.1f} ms", dags, errors] for name, (seconds, dags, errors) in runs.items()]
    print(f"Airflow parse cost per DAG file ({len(shapes)} DAGs of {tasks} tasks; fork per file, median)")
    print(table(rows, ["DAG files", "per file", "DAGs found", "import errors"]))
    print(f"mlspec vs dag-factory: {factory / ours:.1f}x faster (target >= 10x)")
    print(f"mlspec vs hand-written: {ours / hand:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
