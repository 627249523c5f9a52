"""Property: whatever names, descriptions, SQL and URIs a valid spec holds (quotes, newlines,
triple quotes, backslashes, braces, unicode), every generated Python file of the data side
parses, and each string comes back exactly, as a literal."""

from __future__ import annotations

import ast
import json
import keyword
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.mlspec_data import DATA_TARGETS

NASTY = ['"', "'", '"""', "'''", "\\", "\n", "\t", "\\n", "{{ ds }}", "{%", "#", "\\x00", "é", "☃", "${X}", "%s"]
text = st.lists(st.one_of(st.sampled_from(NASTY),
                          st.text(st.characters(whitelist_categories=("L", "N", "P", "S", "Zs")), max_size=8)),
                min_size=1, max_size=8).map("".join).filter(str.strip)  # blank descriptions count as unset
# What object URIs may hold: no whitespace.
uri_part = st.lists(st.one_of(st.sampled_from(['"', "'", "\\", "'''", '"""', "{", "}", "%", "é"]),
                              st.text(st.characters(whitelist_categories=("L", "N", "P", "S")), max_size=6)),
                    min_size=1, max_size=6).map("".join)
dns = st.from_regex(r"[a-z]([a-z0-9-]{0,14}[a-z0-9])?", fullmatch=True).filter(lambda s: "--" not in s)
identifier = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,14}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s) and s not in ("label", "x", "id", "ts"))
model_name = st.from_regex(r"[a-z]([a-z0-9_-]{0,14}[a-z0-9])?", fullmatch=True).filter(
    lambda s: "--" not in s and "__" not in s)


def query_for(text: str) -> str:
    """A query a SQL source may hold (one SELECT, only the date variables of Airflow: E311,
    E312) that carries `text` in a comment, quotes, newlines and backslashes included."""
    comment = text.replace("*/", "* /")
    for opener in ("{{", "{%", "{#"):
        comment = comment.replace(opener, opener[0] + " " + opener[1])
    return f"SELECT * FROM events WHERE day = '{{{{ ds }}}}' /* {comment} */"


def spec_for(system, dataset, model, texts, storage, source_uri):
    description, sql, owner, column_doc, model_doc, file_doc = texts
    columns = {"id": {"type": "int64", "nullable": False, "unique": True},
               "x": {"type": "float64", "min": 0, "description": column_doc},
               "label": {"type": "int8", "in": [0, 1]},
               "ts": {"type": "timestamp", "nullable": False}}
    return {
        "apiVersion": "mlspec/v1alpha1", "kind": "MLSystem",
        "metadata": {"name": system, "owner": owner, "description": description},
        "platform": {"objectStore": {"endpoint": "http://minio:9000", "credentialsSecret": "minio-credentials"},
                     "kubeflow": {"host": "http://kfp:8888"},
                     "lineage": {"url": "http://marquez:5000", "namespace": system}},
        "datasets": {
            dataset: {"description": description, "source": {"sql": query_for(sql), "connection": "warehouse"},
                      "storage": storage, "schedule": "@daily", "versioning": {"dvc": {"remote": "s3://dvc-storage"}},
                      "columns": columns,
                      "expectations": [{"expect": "column_values_to_match_regex", "column": "x", "regex": sql}]},
            "files": {"description": file_doc, "source": {"uri": source_uri, "format": "csv"}, "columns": columns},
        },
        "entities": {"e": {"joinKeys": ["id"]}},
        "featureViews": {"fv": {"entities": ["e"], "source": dataset, "timestampField": "ts", "ttl": "1d",
                                "features": {"x": "float64"}}},
        "models": {model: {"task": "binary_classification", "features": ["fv.x"], "label": f"{dataset}.label",
                           "description": model_doc,
                           "training": {"estimator": "sklearn.linear_model.LogisticRegression"},
                           "monitoring": {"drift": {"maxDriftShare": 0.3, "window": "6h"}}}},
    }


def constants(tree: ast.AST) -> set[str]:
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def config_of(tree: ast.Module) -> dict:
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "CONFIG")
    return ast.literal_eval(node.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(system=dns, dataset=identifier, model=model_name, texts=st.tuples(*[text] * 6),
       # a storage URI is written to, so it holds no wildcard (E112)
       storage=uri_part.filter(lambda p: not set(p) & set("*?[")).map(lambda p: "s3://raw-data/" + p),
       source_uri=uri_part.map(lambda p: "s3://landing/" + p))
def test_spec_strings_reach_generated_python_only_as_exact_literals(system, dataset, model, texts, storage,
                                                                    source_uri):
    from mlspec.compiler.compile import compile_spec

    description, sql, owner, _, model_doc, file_doc = texts
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.yaml"
        spec.write_text(yaml.safe_dump(spec_for(system, dataset, model, texts, storage, source_uri),
                                       allow_unicode=True, sort_keys=False), encoding="utf-8")
        result = compile_spec(spec, Path(tmp) / "generated", targets=DATA_TARGETS)
    assert result.ok, [d.message for d in result.diagnostics]
    python = {path: ast.parse(text, filename=path) for path, text in result.files.items() if path.endswith(".py")}
    system_py = system.replace("-", "_")
    model_py = model.replace("-", "_")
    ingest = python[f"airflow/dags/{system_py}__ingest_{dataset}.py"]
    assert {description, query_for(sql), owner, storage} <= constants(ingest)
    config = config_of(ingest)
    assert config["dataset"] == dataset
    assert config["settings"]["storage"][1] == storage
    files = python[f"airflow/dags/{system_py}__ingest_files.py"]
    assert {file_doc, owner} <= constants(files)
    assert config_of(files)["settings"]["source_uri"][1] == source_uri
    for kind in ("train", "drift"):
        tree = python[f"airflow/dags/{system_py}__{kind}_{model_py}.py"]
        assert model_doc in constants(tree)
        assert config_of(tree)["model"] == model
    assert model in constants(python[f"monitoring/{model_py}_drift.py"])
    suite = json.loads(result.files[f"great_expectations/{dataset}.json"])
    assert suite["meta"]["mlspec"]["description"] == description
    assert suite["expectations"][-1]["kwargs"]["regex"] == sql
