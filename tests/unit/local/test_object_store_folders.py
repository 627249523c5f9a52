"""`mlspec run --local` runs no object store: gs:// and abfs:// locations become folders of the
work folder's store, beside (never inside) the S3 buckets' folders, and their platform blocks
go."""

from __future__ import annotations

import yaml

SPEC = {
    "apiVersion": "mlspec/v1alpha1", "kind": "MLSystem", "metadata": {"name": "lake"},
    "platform": {"objectStore": {"endpoint": "http://minio:9000", "credentialsSecret": "minio-credentials"},
                 "gcs": {"credentialsSecret": "gcs-credentials"},
                 "azure": {"account": "lakedata", "credentialsSecret": "azure-credentials"},
                 "feast": {"registry": "gs://feast/registry.db"}},
    "datasets": {
        "clicks": {"source": {"uri": "gs://landing/clicks/*.parquet"}, "storage": "gs://lake/clicks.parquet",
                   "versioning": {"dvc": {"remote": "gs://dvc-storage"}},
                   "columns": {"id": {"type": "int64"}}},
        "visits": {"source": {"uri": "abfs://landing/visits/"}, "storage": "abfs://lake/visits.parquet",
                   "columns": {"id": {"type": "int64"}}},
        "orders": {"source": {"uri": "s3://landing/orders/"}, "storage": "s3://lake/orders.parquet",
                   "columns": {"id": {"type": "int64"}}},
    },
}


def test_gs_and_abfs_locations_are_folders_of_the_local_store(tmp_path):
    from mlspec.local.workspace import prepare_workspace

    spec = tmp_path / "lake.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    ws = prepare_workspace(spec, tmp_path / "work")
    copy = yaml.safe_load(ws.spec.read_text())
    store = ws.store
    assert copy["datasets"]["clicks"]["storage"] == str(store / "gs+lake" / "clicks.parquet")
    assert copy["datasets"]["clicks"]["versioning"]["dvc"]["remote"] == str(store / "gs+dvc-storage")
    assert copy["datasets"]["visits"]["storage"] == str(store / "abfs+lake" / "visits.parquet")
    assert copy["datasets"]["orders"]["storage"] == str(store / "lake" / "orders.parquet")
    assert copy["platform"]["feast"]["registry"] == str(store / "gs+feast" / "registry.db")
    assert not {"objectStore", "gcs", "azure"} & set(copy["platform"])
    assert any("gs:// locations are folders" in note for note in ws.notes)
    assert any("abfs:// locations are folders" in note for note in ws.notes)
