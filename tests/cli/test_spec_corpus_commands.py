"""Every command a user runs on a spec, run on each spec of the realistic corpus
(tests/support/corpus.py): `validate`, `compile` (twice: the same bytes), `lineage emit`, `graph`,
`impact` and `explain`, in this process (no tool but mlspec). What the real tools make of the
compiled output is tests/integration/test_spec_corpus.py."""

from __future__ import annotations

import json

import pytest

from conftest import invoke_mlspec
from support.corpus import CORPUS
from support.mlspec_data import project_of

pytestmark = pytest.mark.parametrize("spec", CORPUS, ids=lambda p: p.stem)


def test_validate_finds_nothing_but_warnings(spec):
    result = invoke_mlspec("validate", str(spec))
    assert result.returncode == 0, result.stderr
    assert "error[" not in result.stderr and "1 spec valid" in result.stdout + result.stderr


def test_compile_writes_the_system_and_a_second_compile_has_nothing_to_change(spec, tmp_path):
    system = project_of(spec).base
    first = invoke_mlspec("compile", str(spec), "--out", str(tmp_path))
    assert first.returncode == 0, first.stderr
    written = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / system.name).rglob("*") if p.is_file())
    assert f"{system.name}/manifest.json" in written
    assert all(f"{system.name}/airflow/dags/{d.ingest_dag_id}.py" in written for d in system.datasets if d.source)
    check = invoke_mlspec("compile", str(spec), "--out", str(tmp_path), "--check")
    assert check.returncode == 0, check.stdout + check.stderr


def _openlineage_name(uri: str, azure) -> str:
    """OpenLineage's naming (https://openlineage.io/docs/spec/naming): Azure Blob Storage / ADLS
    Gen2 as `abfss://container@account.dfs.core.windows.net/path`; s3:// and gs:// as written."""
    if uri.startswith("abfs://"):
        container, _, key = uri[len("abfs://"):].partition("/")
        return f"abfss://{container}@{azure.account}.dfs.core.windows.net/{key}"
    return uri


def test_lineage_names_every_table_a_query_reads_and_every_training_input(spec, tmp_path):
    system = project_of(spec).base
    events = tmp_path / "events.jsonl"
    result = invoke_mlspec("lineage", "emit", str(spec), "--file", str(events))
    assert result.returncode == 0, result.stderr
    jobs = {}
    for line in events.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        jobs[event["job"]["name"]] = {f"{d['namespace']}/{d['name']}" for d in event.get("inputs", [])}
    for dataset in system.datasets:
        tables = getattr(dataset.source, "tables", None)
        if tables:
            assert jobs[f"{dataset.ingest_dag_id}.extract"] == set(tables), dataset.name
    for model in system.models:
        submit = jobs[f"{model.train_dag_id}.submit_pipeline"]
        assert _openlineage_name(model.label_dataset.storage, system.platform.azure) in submit, (model.name, submit)
        assert {f"{project_of(spec).base.name}/feast.{view}" for view in model.feature_views} <= submit


def test_graph_and_impact_reach_every_model_from_its_label_dataset(spec):
    system = project_of(spec).base
    graph = invoke_mlspec("graph", str(spec), "--format", "json")
    assert graph.returncode == 0, graph.stderr
    [drawn] = json.loads(graph.stdout)["systems"]
    names = {(n["kind"], n["name"]) for n in drawn["nodes"]}
    assert {("dataset", d.name) for d in system.datasets} <= names
    assert {("model", m.name) for m in system.models} <= names
    for dataset in {m.label_dataset.name for m in system.models}:
        impact = invoke_mlspec("impact", f"dataset:{dataset}", str(spec), "--format", "json")
        assert impact.returncode == 0, impact.stderr
        [found] = json.loads(impact.stdout)
        assert set(found["affected"]["models"]) == {m.name for m in system.models if m.label_dataset.name == dataset}


def test_graph_draws_every_generated_dag(spec, tmp_path):
    system = project_of(spec).base
    graph = invoke_mlspec("graph", str(spec), "--format", "json")
    [drawn] = json.loads(graph.stdout)["systems"]
    dags = {n["name"] for n in drawn["nodes"] if n["kind"] == "dag"}
    invoke_mlspec("compile", str(spec), "--out", str(tmp_path), check=True)
    written = {p.stem for p in (tmp_path / system.name / "airflow" / "dags").glob("*__*.py")}
    assert dags == written


def test_explain_says_which_files_a_models_training_and_serving_feed(spec):
    project = project_of(spec)
    for model in project.base.models:
        training = invoke_mlspec("explain", f"models.{model.name}.training.estimator", str(spec))
        assert training.returncode == 0, training.stderr
        assert f"kfp/{model.py_name}_training.py" in training.stdout
        if model.serving is None:
            continue
        for env in (e.name for e in project.environments):
            served = invoke_mlspec("explain", f"models.{model.name}.serving.replicas.max", str(spec), "--env", env)
            assert served.returncode == 0, served.stderr
            assert f"k8s/{env}/inferenceservice-{model.k8s_name}.yaml" in served.stdout, served.stdout
