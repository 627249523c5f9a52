"""`mlspec validate` refuses a file source the generated tasks cannot read, naming the schemes
that work (E112); a gs:// one is read, once `platform.gcs` names its credentials (E501)."""

from __future__ import annotations

from conftest import invoke_mlspec


def test_validate_names_the_schemes_that_work(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("apiVersion: mlspec/v1alpha1\nkind: MLSystem\nmetadata: {name: lake}\n"
                    "datasets:\n  events:\n    source: {uri: 'az://landing/events/*.parquet'}\n"
                    "    storage: /srv/lake/events\n")
    result = invoke_mlspec("validate", str(spec))
    assert result.returncode == 1
    assert "error[E112]: `az://landing/events/*.parquet`: the generated tasks cannot read or write az://" \
           " locations; use s3:// (S3 or MinIO), gs:// (Google Cloud Storage), abfs:// (Azure Blob Storage /" \
           " ADLS Gen2), file:// or an absolute path" in result.stderr


def test_a_gs_source_needs_the_store_that_names_its_credentials(tmp_path):
    spec = tmp_path / "spec.yaml"
    text = ("apiVersion: mlspec/v1alpha1\nkind: MLSystem\nmetadata: {name: lake}\n{platform}"
            "datasets:\n  events:\n    source: {uri: 'gs://landing/events/*.parquet'}\n"
            "    storage: /srv/lake/events\n")
    spec.write_text(text.replace("{platform}", ""))
    result = invoke_mlspec("validate", str(spec))
    assert result.returncode == 1 and "error[E501]: a gs:// location needs `platform.gcs`" in result.stderr
    spec.write_text(text.replace("{platform}", "platform: {gcs: {credentialsSecret: gcs-credentials}}\n"))
    result = invoke_mlspec("validate", str(spec))
    assert result.returncode == 0, result.stderr
