"""Facts the data-side targets share (Airflow DAGs, Great Expectations, DVC, Evidently,
OpenLineage): where each dataset lives, how its column types map to pandas and Great
Expectations, which settings a deployment may override. (How each is named in lineage is
`lineage_names`.)

Computed once here so the DAGs, the suites, `dvc.yaml` and the lineage config agree.
"""

from __future__ import annotations

import json
import re

from mlspec import names
from mlspec.ir.layout import prediction_dataset
from mlspec.ir.model import IRDataset, IRModel, IRSystem
from mlspec.targets.feast_store import feature_store_config

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


def training_arguments(system: IRSystem, model: IRModel) -> dict[str, str]:
    """The pipeline parameters a deployment decides, with the spec's values: the pipeline declares
    them as its defaults, and the training DAG submits them (each an Airflow Variable, so a
    deployment or a test points them elsewhere without recompiling).

    `feast_config` is the spec's Feast store (`feature_store.yaml`) as JSON: the training step
    builds its `RepoConfig` from it, and reads the feature definitions from the registry it
    names, so the training image needs no Feast repo folder."""
    mlflow = system.platform.mlflow
    return {
        "feast_config": json.dumps(feature_store_config(system), sort_keys=True),
        "label_data_uri": landed_uri(model.label_dataset) or "",
        "mlflow_tracking_uri": mlflow.tracking_uri if mlflow else "",
        # where the drift DAG finds the training-data snapshot, when it needs one ("" = none)
        "reference_uri": model.drift_reference if model.drift_reference_is_snapshot else "",
    }


def prediction_timestamp_column(model: IRModel, system: IRSystem) -> str:
    dataset = prediction_dataset(model, system)
    if dataset is not None:
        for column in dataset.columns:
            if column.type == "timestamp":
                return column.name
    return DEFAULT_TIMESTAMP_COLUMN
