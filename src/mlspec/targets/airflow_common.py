"""Facts the data-side targets share (Airflow DAGs, Great Expectations, DVC, Evidently,
OpenLineage): where each dataset lives, how its column types map to pandas and Great
Expectations, which settings a deployment may override. (How each is named in lineage is
`lineage_names`.)

Computed once here so the DAGs, the suites, `dvc.yaml` and the lineage config agree.
"""

from __future__ import annotations

import re

from mlspec import names
from mlspec.ir.model import IRDataset, IRModel, IRSystem

# The prediction log's event-time column when no `predictions` dataset with a timestamp
# column says otherwise (the default log is written under the object store, see mlspec.names).
DEFAULT_TIMESTAMP_COLUMN = "timestamp"


def variable_key(system: IRSystem, *parts: str) -> str:
    """Airflow Variable name of a setting; `AIRFLOW_VAR_<KEY upper-cased>` sets it from the environment."""
    return "__".join(["mlspec", system.py_name, *(names.py_name(p) for p in parts)])


def dvc_remote_name(url: str) -> str:
    """`s3://dvc-storage` -> `dvc-storage`; `s3://bucket/some/path` -> `bucket-some-path`."""
    without_scheme = re.sub(r"^[a-z0-9]+://", "", url)
    return re.sub(r"[^A-Za-z0-9]+", "-", without_scheme).strip("-").lower() or "storage"


def dvc_url(url: str) -> str:
    """A remote URL as DVC spells it: `abfs://container/path` -> `azure://container/path` (dvc-azure's
    scheme; the account is the remote's `account_name`); other schemes as they are."""
    return "azure://" + url[len("abfs://"):] if url.startswith("abfs://") else url


def dvc_data_path(dataset: IRDataset) -> str:
    return f"data/{dataset.name}.parquet"


def landed_uri(dataset: IRDataset) -> str | None:
    """Where training reads a dataset that ingestion lands: its `storage` URI. The one place to
    change when ingestion writes per-run partitions (the training DAG passes this to the
    pipeline as `label_data_uri`)."""
    return dataset.storage


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
