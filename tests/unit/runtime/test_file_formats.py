"""A file source's format says what its files are: a CSV file's delimiter, header and encoding,
JSON Lines or one JSON document. The spec states it, the compiler carries it into the generated
ingestion DAG's CONFIG, and the generated extract task reads the files so (nothing guessed
from the file name); the local run writes its sample the same way."""

from __future__ import annotations

import ast
import json

import pandas as pd
import pytest
import yaml

from mlspec.runtime import airflow_tasks as tasks
from support.mlspec_data import compile_data_targets
from support.runtime_tasks import CONTEXT

COLUMNS = {"city": {"type": "string", "nullable": False}, "amount": {"type": "float64"},
           "seen_at": {"type": "timestamp", "nullable": False}}


def spec(sources: dict) -> dict:
    return {"apiVersion": "mlspec/v1alpha1", "kind": "MLSystem", "metadata": {"name": "shop"},
            "datasets": {name: {"source": source, "storage": f"/lake/{name}/", "columns": COLUMNS}
                         for name, source in sources.items()}}


def generated_config(tmp_path, source: dict) -> tuple[dict, str]:
    """The CONFIG of the generated ingestion DAG of a dataset `d` with `source`, and its DAG file."""
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec({"d": source}), sort_keys=False))
    folder = compile_data_targets(path, tmp_path / "generated")
    dag = folder / "airflow" / "dags" / "shop__ingest_d.py"
    tree = ast.parse(dag.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "CONFIG")
    return ast.literal_eval(node.value), str(dag)


def extract(config: dict, dag_file: str, uri: str, tmp_path) -> pd.DataFrame:
    config["settings"]["source_uri"][1] = uri
    config["settings"]["staging_dir"] = ["x", str(tmp_path / "staging")]
    result = tasks.run_step("extract", config, dag_file, CONTEXT)
    return pd.read_parquet(result["path"])


def test_a_semicolon_latin1_csv_is_read_as_the_spec_says(tmp_path):
    config, dag = generated_config(tmp_path, {"uri": "/landing/sales/", "format": "csv",
                                              "csv": {"delimiter": ";", "encoding": "latin-1"}})
    assert config["source"] == {"kind": "file", "format": "csv",
                                "options": {"delimiter": ";", "header": True, "encoding": "latin-1"}}
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "part-0.csv").write_bytes("city;amount;seen_at\nKöln;1,5;2026-01-02T03:00:00\nMünster;2;2026-01-02T04:00:00\n"
                                         .replace("1,5", "1.5").encode("latin-1"))
    frame = extract(config, dag, f"{landing}/", tmp_path)
    assert frame["city"].tolist() == ["Köln", "Münster"]
    assert frame["amount"].tolist() == [1.5, 2.0]
    assert frame["seen_at"].dtype == "datetime64[ns]"


def test_a_csv_without_header_takes_the_declared_columns_in_order(tmp_path):
    config, dag = generated_config(tmp_path, {"uri": "/landing/x.csv", "format": "csv",
                                              "csv": {"delimiter": "\t", "header": False}})
    (tmp_path / "x.csv").write_text("Bonn\t3.5\t2026-01-02T03:00:00\n")
    frame = extract(config, dag, str(tmp_path / "x.csv"), tmp_path)
    assert frame[["city", "amount"]].values.tolist() == [["Bonn", 3.5]]


def test_json_lines_is_stated_not_guessed_from_the_name(tmp_path):
    rows = [{"city": "Bonn", "amount": 1.0, "seen_at": "2026-01-02T03:00:00"},
            {"city": "Ulm", "amount": 2.0, "seen_at": "2026-01-02T04:00:00"}]
    lines = tmp_path / "events.json"  # JSON Lines under a `.json` name: read as the spec says
    lines.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config, dag = generated_config(tmp_path, {"uri": "/landing/events.json", "format": "json", "json": {"lines": True}})
    assert config["source"]["options"] == {"lines": True}
    assert extract(config, dag, str(lines), tmp_path)["city"].tolist() == ["Bonn", "Ulm"]
    document = tmp_path / "doc.jsonl"  # one document under a `.jsonl` name
    document.write_text(json.dumps(rows))
    config, dag = generated_config(tmp_path, {"uri": "/landing/doc.jsonl", "format": "json"})
    assert config["source"]["options"] == {"lines": False}
    assert extract(config, dag, str(document), tmp_path)["amount"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("source", [
    {"uri": "/l/a.csv", "format": "csv", "csv": {"delimiter": ";", "encoding": "cp1252"}},
    {"uri": "/l/a.csv", "format": "csv", "csv": {"delimiter": "|", "header": False, "encoding": "latin-1"}},
    {"uri": "/l/a.jsonl", "format": "json", "json": {"lines": True}},
    {"uri": "/l/a.json", "format": "json"},
    {"uri": "/l/a.parquet", "format": "parquet"},
])
def test_the_local_runs_sample_file_is_read_back_by_the_generated_task(tmp_path, source):
    """mlspec.local.data.write_file writes the sample as the source's spec says; the generated
    extract reads it back, values and types intact."""
    from mlspec.compiler.session import load_text
    from mlspec.local.data import write_file

    config, dag = generated_config(tmp_path, source)
    system = load_text(tmp_path / "spec.yaml", (tmp_path / "spec.yaml").read_text()).project.base
    ir_source = system.datasets[0].source
    frame = pd.DataFrame({"city": ["Köln", "Ulm"], "amount": [1.25, None],
                          "seen_at": pd.to_datetime(["2026-01-02 03:00:00.123", "2026-01-02 04:00"], format="ISO8601")})
    path = tmp_path / f"sample.{source['uri'].rsplit('.', 1)[1]}"
    write_file(frame, path, ir_source)
    read = extract(config, dag, str(path), tmp_path)
    pd.testing.assert_frame_equal(read[frame.columns.tolist()], frame, check_dtype=True)


@pytest.mark.parametrize("source, message", [
    ({"uri": "/l/a.csv", "format": "csv", "csv": {"delimiter": ";;"}}, "is not a delimiter"),
    ({"uri": "/l/a.csv", "format": "csv", "csv": {"encoding": "klingon"}}, "is not a text encoding"),
    ({"uri": "/l/a.csv", "format": "csv", "json": {"lines": True}}, "`json` describes json files"),
    ({"uri": "/l/a.json", "format": "parquet", "csv": {"header": False}}, "`csv` describes csv files"),
])
def test_options_that_do_not_fit_are_located_errors(tmp_path, source, message):
    from mlspec.compiler.session import load_text

    unit = load_text(tmp_path / "spec.yaml", yaml.safe_dump(spec({"d": source})))
    errors = [d for d in unit.diagnostics if d.severity.name == "ERROR"]
    assert errors and message in errors[0].message, [d.message for d in errors]
    assert errors[0].span is not None
