"""gs:// and abfs:// datasets are named by OpenLineage's naming conventions
(spec/Naming.md: GCS `gs://{bucket name}` + `{object key}`; ABFSS, Azure Data Lake Gen2,
`abfss://{container name}@{service name}.dfs.core.windows.net` + `{path}`), and Airflow's
OpenLineage provider turns the `File` inlets and outlets the DAG files declare back into
exactly those names."""

from __future__ import annotations

import ast

from conftest import REPO

EVERY_FIELD = REPO / "tests/cases/spec/every-field.yaml"


def _declared(path):
    """The lineage objects a DAG file declares as inlets and outlets (File, Dataset), built by
    the classes the DAG file imports."""
    from airflow.providers.common.compat.lineage.entities import File
    from openlineage.client.event_v2 import Dataset

    tree = ast.parse(path.read_text())
    classes = {"File": File, "Dataset": Dataset}
    return [classes[node.func.id](**{k.arg: k.value.value for k in node.keywords}) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in classes]


def test_gs_and_abfs_datasets_are_named_as_openlineage_says_and_airflow_agrees(tmp_path):
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    from mlspec.compiler.compile import compile_spec

    result = compile_spec(EVERY_FIELD, tmp_path, targets=["airflow", "great_expectations"])
    assert result.ok, [d.message for d in result.diagnostics]
    dags = tmp_path / "dags"
    for name, text in result.files.items():
        if name.startswith("airflow/dags/"):
            dags.mkdir(exist_ok=True)
            (dags / name.rsplit("/", 1)[1]).write_text(text)

    def named(dag):
        return sorted({(d.namespace, d.name) for d in map(ExtractorManager.convert_to_ol_dataset, _declared(dags / dag))})

    assert named("every_field__ingest_web_clicks.py") == [
        ("gs://dvc-storage", "clicks/data/web_clicks.parquet"),
        ("gs://lake", "web_clicks.parquet"),
        ("gs://landing", "clicks/*.parquet")]
    account = "mlspecdata.dfs.core.windows.net"
    assert named("every_field__ingest_store_visits.py") == [
        (f"abfss://dvc-storage@{account}", "visits/data/store_visits.parquet"),
        (f"abfss://lake@{account}", "store_visits.parquet"),
        (f"abfss://landing@{account}", "visits/")]
