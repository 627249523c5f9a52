"""The realistic specs of the tests' corpus (tests/cases/spec/, beside the examples in specs/),
compiled and loaded by the real tools as the examples are: no diagnostic but the expected
warnings, Airflow's DagBag loads every DAG, kfp's compiler produces the committed-style IR,
`feast plan` accepts the feature repository, and every Kubernetes object validates against
its strict CRD schema and builds with kustomize where kubectl is installed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from mlspec.compiler.compile import compile_spec
from support.churn_data import feast_repo_copy
from support.corpus import CORPUS
from support.crds import schema_errors
from support.headers import strip_hash_header
from support.mlspec_data import project_of

# Airflow and Feast take most of their time importing themselves (10-20 s each on the 2-core CI
# machine): each is started once for the whole corpus, and each spec's test reads its own part
# of the result. DagBag names each DAG file's module after its path, so the folders cannot mix.
LOAD_DAGS = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
found = {}
for folder in sys.argv[1:]:
    bag = DagBag(dag_folder=folder)
    found[folder] = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": sorted(bag.dags)}
print("DAGBAG-JSON" + json.dumps(found))
"""

# `feast plan` (Feast's own click command, as the `feast` executable runs it) in each repository
# in turn. Feast imports a repository's Python files as top-level modules (`features`): they are
# dropped, with the repository's sys.path entry, before the next one is planned.
FEAST_PLANS = r"""
import contextlib, io, json, os, sys
from feast.cli.cli import cli
found = {}
for repo, data_dir in zip(sys.argv[1::2], sys.argv[2::2]):
    path, modules = list(sys.path), set(sys.modules)
    os.environ["MLSPEC_FEAST_DATA_DIR"] = data_dir
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(["--chdir", repo, "plan"], prog_name="feast", standalone_mode=False) or 0
        except SystemExit as exit:
            code = exit.code
        except Exception as error:  # what the CLI would print as a traceback, exit 1
            import traceback
            traceback.print_exc()
            code = 1
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        if (getattr(sys.modules[name], "__file__", None) or "").startswith(repo):
            del sys.modules[name]
    found[repo] = {"returncode": code, "output": out.getvalue() + err.getvalue()}
print("FEAST-JSON" + json.dumps(found))
"""

_RESULTS: dict = {}


def _compiled(spec: Path, factory):
    if spec not in _RESULTS:
        result = compile_spec(spec, factory.mktemp(spec.stem))
        errors = [d.message for d in result.diagnostics if d.severity.value == "error"]
        assert result.ok and not errors, errors
        _RESULTS[spec] = result
    return _RESULTS[spec]


@pytest.fixture(scope="module", params=CORPUS, ids=lambda p: p.stem)
def compiled(request, tmp_path_factory):
    return request.param, _compiled(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def dag_bags(tmp_path_factory):
    """Each corpus spec's DagBag, keyed by spec: one Airflow process for the corpus."""
    folders = {}
    for spec in CORPUS:
        dags = tmp_path_factory.mktemp(f"{spec.stem}-dags")
        for path, text in _compiled(spec, tmp_path_factory).files.items():
            if path.startswith("airflow/dags/"):
                target = dags / path[len("airflow/dags/"):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        folders[spec] = str(dags)
    with tempfile.TemporaryDirectory() as home:
        env = {"AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": "/usr/bin:/bin",
               "PYTHONDONTWRITEBYTECODE": "1"}
        run = subprocess.run([sys.executable, "-c", LOAD_DAGS, *folders.values()], env=env, capture_output=True,
                             text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    found = json.loads(run.stdout.split("DAGBAG-JSON", 1)[1])
    return {spec: found[folder] for spec, folder in folders.items()}


@pytest.fixture(scope="module")
def feast_plans(tmp_path_factory):
    """Each corpus spec's `feast plan`, keyed by spec: one Feast process for the corpus."""
    arguments, repos = [], {}
    for spec in CORPUS:
        root = tmp_path_factory.mktemp(f"{spec.stem}-feast")
        repo = feast_repo_copy(_compiled(spec, tmp_path_factory).files, root / "feast")
        repos[spec] = str(repo)
        arguments += [str(repo), str(root)]
    run = subprocess.run([sys.executable, "-c", FEAST_PLANS, *arguments], capture_output=True, text=True,
                         timeout=600, env=dict(os.environ))
    assert run.returncode == 0, run.stderr[-4000:]
    found = json.loads(run.stdout.split("FEAST-JSON", 1)[1])
    return {spec: found[repo] for spec, repo in repos.items()}


def test_compiles_with_a_pipeline_an_inference_service_and_a_card_per_model(compiled):
    spec, result = compiled
    system = project_of(spec).base
    for model in system.models:
        assert f"kfp/{model.py_name}_training.py" in result.files
        assert f"kfp/{model.py_name}_training.yaml" in result.files
        assert f"docs/{model.name}.model-card.md" in result.files
    services = [d for path, text in result.files.items() if path.startswith("k8s/") and path.endswith(".yaml")
                for d in yaml.safe_load_all(text) if d and d.get("kind") == "InferenceService"]
    assert services, "every served model has an InferenceService"


def test_every_dag_loads_in_airflows_dagbag(compiled, dag_bags):
    spec, _ = compiled
    bag = dag_bags[spec]
    assert bag["import_errors"] == {}
    system = project_of(spec).base
    expected = {d.ingest_dag_id for d in system.datasets if d.source is not None}
    expected |= {m.train_dag_id for m in system.models} | {m.drift_dag_id for m in system.models if m.drift_dag_id}
    expected |= {f"{system.py_name}__feast"} if system.feature_views else set()
    assert set(bag["dags"]) == expected


def test_the_kfp_ir_is_what_kfp_compiles_from_the_source(compiled, tmp_path):
    """kfp's own compiler, run on the generated source as a user would, gives the generated IR."""
    import importlib.util

    from kfp import compiler

    from mlspec.ir.layout import pipeline_function_name

    spec, result = compiled
    for model in project_of(spec).base.models:
        source = tmp_path / f"{model.py_name}_training.py"
        source.write_text(result.files[f"kfp/{model.py_name}_training.py"], encoding="utf-8")
        committed = strip_hash_header(result.files[f"kfp/{model.py_name}_training.yaml"])
        first, _, ir = committed.partition("\n")
        assert first == "# pipeline source sha256: " + hashlib.sha256(
            strip_hash_header(source.read_text()).encode()).hexdigest()
        loaded = importlib.util.spec_from_file_location(f"corpus_{model.py_name}", source)
        module = importlib.util.module_from_spec(loaded)
        sys.modules[loaded.name] = module
        try:
            loaded.loader.exec_module(module)
            package = tmp_path / "pipeline.yaml"
            compiler.Compiler().compile(getattr(module, pipeline_function_name(model)), package_path=str(package))
        finally:
            sys.modules.pop(loaded.name, None)
        assert ir == package.read_text()
        if model.task == "ranking":  # the group reaches the train and evaluate steps
            tasks = next(yaml.safe_load_all(ir))["root"]["dag"]["tasks"]
            for step in ("train-model", "evaluate-model"):
                assert tasks[step]["inputs"]["parameters"]["group"]["runtimeValue"]["constant"] == model.group


def test_feast_plans_the_feature_repository(compiled, feast_plans):
    spec, _ = compiled
    plan = feast_plans[spec]
    assert plan["returncode"] == 0, plan["output"][-4000:]
    system = project_of(spec).base
    for view in system.feature_views:  # this repository's views, not another's left in the process
        assert f"Created feature view {view.name}\n" in plan["output"], plan["output"][-4000:]


def test_every_kubernetes_object_validates_against_its_crd(compiled, vendor_dir, tmp_path):
    _, result = compiled
    documents = [(path, d) for path, text in sorted(result.files.items())
                 if path.startswith(("k8s/", "argocd/")) and path.endswith(".yaml")
                 and not path.endswith("kustomization.yaml") for d in yaml.safe_load_all(text) if d]
    assert documents
    for path, document in documents:
        if document.get("apiVersion", "").split("/")[0].endswith((".io", ".app", ".tools")):
            errors = schema_errors(vendor_dir / "crds", document)
            assert not errors, f"{path} ({document['kind']}):\n" + "\n".join(errors)
    if shutil.which("kubectl"):
        for path, text in result.files.items():
            target = tmp_path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        for folder in sorted({p.parent for p in tmp_path.glob("k8s/*/kustomization.yaml")}):
            built = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
            assert built.returncode == 0, built.stderr
