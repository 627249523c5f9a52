"""Facts the data-side targets share (Airflow DAGs, Great Expectations, DVC, Evidently,
OpenLineage): where each dataset lives, how it is named in lineage, how its column types
map to pandas and Great Expectations, which settings a deployment may override.

Computed once here so the DAGs, the suites, `dvc.yaml` and the lineage config agree.
"""

from __future__ import annotations

import re

from mlspec.ir import names
from mlspec.ir.model import IRDataset, IRModel, IRSqlSource, IRSystem

# The prediction log's event-time column when no `predictions` dataset with a timestamp
# column says otherwise (the default log is written under the object store, see ir.names).
DEFAULT_TIMESTAMP_COLUMN = "timestamp"


def variable_key(system: IRSystem, *parts: str) -> str:
    """Airflow Variable name of a setting; `AIRFLOW_VAR_<KEY upper-cased>` sets it from the environment."""
    return "__".join(["mlspec", system.py_name, *(names.py_name(p) for p in parts)])


def split_uri(uri: str) -> tuple[str, str]:
    """OpenLineage dataset naming: `s3://bucket/key` -> (`s3://bucket`, `key`); a path -> (`file`, path)."""
    match = re.match(r"^([a-z0-9]+)://([^/]*)/?(.*)$", uri)
    if match and match.group(1) != "file":
        return f"{match.group(1)}://{match.group(2)}", match.group(3) or "/"
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    return "file", path


def lineage_url(namespace: str, name: str) -> str:
    """The URL of an OpenLineage dataset as a DAG file declares it (an Airflow lineage `File`).

    Airflow's OpenLineage provider splits the URL back into namespace and name:
    `s3://bucket` + `key` round-trips exactly; a bare namespace `ns` + `a/b` becomes
    `ns://a/b` and comes back as (`ns`, `a/b`)."""
    if "://" in namespace:
        return f"{namespace.rstrip('/')}/{name.lstrip('/')}"
    return f"{namespace}://{name.lstrip('/')}"


def lineage_namespace(system: IRSystem) -> str:
    return system.platform.lineage.namespace if system.platform.lineage else system.name


def source_lineage(system: IRSystem, dataset: IRDataset) -> tuple[str, str]:
    """The dataset's source as an OpenLineage dataset. A SQL source is named by its Airflow
    connection (the host is only known at run time) and the dataset's name."""
    source = dataset.source
    if isinstance(source, IRSqlSource):
        return "airflow-connection", f"{source.connection}/{dataset.name}"
    return split_uri(source.uri)


def staging_lineage(system: IRSystem, dataset: IRDataset) -> tuple[str, str]:
    return lineage_namespace(system), f"staging/{dataset.name}.parquet"


def dvc_remote_name(url: str) -> str:
    """`s3://dvc-storage` -> `dvc-storage`; `s3://bucket/some/path` -> `bucket-some-path`."""
    without_scheme = re.sub(r"^[a-z0-9]+://", "", url)
    return re.sub(r"[^A-Za-z0-9]+", "-", without_scheme).strip("-").lower() or "storage"


def dvc_data_path(dataset: IRDataset) -> str:
    return f"data/{dataset.name}.parquet"


def ingested_datasets(system: IRSystem) -> list[IRDataset]:
    return [d for d in system.datasets if d.source is not None]


def prediction_dataset(model: IRModel, system: IRSystem) -> IRDataset | None:
    if model.drift and model.drift.predictions:
        return system.dataset(model.drift.predictions)
    return None


def drift_predictions(model: IRModel, system: IRSystem) -> str:
    dataset = prediction_dataset(model, system)
    if dataset is not None and dataset.storage:
        return dataset.storage
    return names.monitoring_uri(system.name, model.name, "predictions/")


def prediction_timestamp_column(model: IRModel, system: IRSystem) -> str:
    dataset = prediction_dataset(model, system)
    if dataset is not None:
        for column in dataset.columns:
            if column.type == "timestamp":
                return column.name
    return DEFAULT_TIMESTAMP_COLUMN
