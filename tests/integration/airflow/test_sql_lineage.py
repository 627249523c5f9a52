"""Every table a SQL source's query reads is an input of its ingestion tasks in the DAG files
Airflow loads, as Airflow's OpenLineage provider converts them (tests/cases/sql/demand.yaml:
a CTE joined with two tables; a WHERE subquery and a UNION on a MySQL connection); and the
lineage graph (`mlspec graph`, `mlspec impact`, manifest.json) has a node for every DAG the
DagBag loads, the Feast DAG included."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

import pytest

from conftest import REPO, SPECS
from support.mlspec_data import project_of
from integration.airflow.test_airflow_dags import HEAVY, LOAD_DAGS

DEMAND = REPO / "tests/cases/sql/demand.yaml"
GENERATED = REPO / "generated"


def _load(folders) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = {"AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": "/usr/bin:/bin",
               "PYTHONDONTWRITEBYTECODE": "1"}
        result = subprocess.run([sys.executable, "-c", LOAD_DAGS, ",".join(HEAVY), *map(str, folders)],
                                env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.split("DAGBAG-JSON", 1)[1])


@pytest.fixture(scope="module")
def demand_bag(tmp_path_factory) -> dict:
    from mlspec.compiler.compile import compile_spec

    out = tmp_path_factory.mktemp("generated")
    result = compile_spec(DEMAND, out, targets=["airflow", "great_expectations", "lineage"])
    assert result.ok, [d.message for d in result.diagnostics]
    for path, text in result.files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text, encoding="utf-8")
    folder = out / "airflow" / "dags"
    return _load([folder])[str(folder)]


def test_ingestion_tasks_declare_every_table_the_query_reads(demand_bag):
    from mlspec.ir import layout as naming
    from mlspec.targets.lineage_names import dag_jobs

    assert demand_bag["import_errors"] == {}
    warehouse, shop = "postgres://warehouse.internal:5432", "mysql://shop-db.internal:3307"
    tasks = demand_bag["dags"]["demand__ingest_store_weeks"]["tasks"]
    for task in ("extract", "validate", "upload"):
        assert [d[:2] for d in tasks[task]["inlets"]] == [
            [warehouse, "analytics.pricing.prices"], [warehouse, "analytics.public.sales"],
            [warehouse, "analytics.public.stores"]], task
    promotions = demand_bag["dags"]["demand__ingest_promotions"]["tasks"]["extract"]["inlets"]
    assert [d[:2] for d in promotions] == [[shop, "promo.archive"], [shop, "promo.campaigns"], [shop, "shop.stores"]]
    # and every task of every DAG declares what `mlspec lineage emit` says it reads and writes
    project = project_of(DEMAND)
    jobs = {job.name: job for job in dag_jobs(project.base, naming.monitored_environment(project))}
    for dag_id, dag in demand_bag["dags"].items():
        for task_id, task in dag["tasks"].items():
            job = jobs[f"{dag_id}.{task_id}"]
            assert [tuple(d[:2]) for d in task["inlets"]] == [(d.namespace, d.name) for d in job.inputs]
            assert [tuple(d[:2]) for d in task["outlets"]] == [(d.namespace, d.name) for d in job.outputs]


def test_the_lineage_graph_has_a_node_for_every_dag_airflow_loads(demand_bag):
    from mlspec.ir.graph import build_graph

    graphs = {"demand": (build_graph(project_of(DEMAND)), demand_bag)}
    folders = {p.parent.parent.name: p for p in sorted(GENERATED.glob("*/airflow/dags"))}
    loaded = _load(folders.values())
    for spec in sorted(SPECS.glob("*.yaml")):
        project = project_of(spec)
        graphs[project.base.name] = (build_graph(project), loaded[str(folders[project.base.name])])
    for system, (graph, bag) in graphs.items():
        dags = {n["name"] for n in graph["nodes"] if n["kind"] == "dag"}
        assert dags == set(bag["dags"]), system
    assert any(name.endswith("__feast") for name in graphs["demand"][1]["dags"])
