"""`mlspec validate` refuses a file source the generated tasks cannot read, naming the schemes
that work (E112)."""

from __future__ import annotations

from conftest import invoke_mlspec


def test_validate_names_the_schemes_that_work(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("apiVersion: mlspec/v1alpha1\nkind: MLSystem\nmetadata: {name: lake}\n"
                    "datasets:\n  events:\n    source: {uri: 'gs://landing/events/*.parquet'}\n"
                    "    storage: /srv/lake/events\n")
    result = invoke_mlspec("validate", str(spec))
    assert result.returncode == 1
    assert "error[E112]: `gs://landing/events/*.parquet`: the generated tasks cannot read or write gs://" \
           " locations; use s3:// (S3 or MinIO), file:// or an absolute path" in result.stderr
