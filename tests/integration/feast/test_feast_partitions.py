"""Feast's file offline store reads a dataset's partitions (one Hive-style partition per
ingestion run, mlspec.ir.layout "dataset partitions") as one table."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def write_partitions(root: Path, parts: dict[str, pd.DataFrame]) -> None:
    for ds, frame in parts.items():
        (root / f"ds={ds}").mkdir(parents=True, exist_ok=True)
        frame.to_parquet(root / f"ds={ds}" / "part-0.parquet", index=False)


@pytest.mark.slow
def test_feasts_file_offline_store_reads_every_partition(tmp_path):
    """The generated Feast repository's source is the storage root: a point-in-time join finds
    each entity's row in whichever partition holds it."""
    from conftest import SPECS
    from feast import FeatureStore
    from support.churn_data import feast_repo_copy

    from mlspec.compiler.compile import compile_spec

    result = compile_spec(SPECS / "customer-churn.yaml", tmp_path / "generated", targets=["feast"])
    repo = feast_repo_copy(result.files, tmp_path / "feast")
    data = tmp_path / "data"
    now = datetime.now(UTC).replace(microsecond=0)

    def day(ids, stamp, purchases):
        n = len(ids)
        return pd.DataFrame({"customer_id": np.array(ids, dtype="int64"),
                             "total_purchases": np.full(n, purchases, dtype="float32"),
                             "avg_order_value": np.ones(n, dtype="float32"),
                             "days_since_last_purchase": np.ones(n, dtype="int32"),
                             "support_tickets_count": np.ones(n, dtype="int32"),
                             "event_timestamp": pd.Series([stamp] * n, dtype="datetime64[us, UTC]")})

    write_partitions(data / "customer_activity.parquet", {
        "2026-01-01": day([1, 2], now - timedelta(hours=30), 10.0),
        "2026-01-02": day([2, 3], now - timedelta(hours=6), 20.0)})
    env = {**os.environ, "MLSPEC_FEAST_DATA_DIR": str(data)}
    feast = str(Path(sys.executable).with_name("feast"))
    applied = subprocess.run([feast, "apply"], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    entities = pd.DataFrame({"customer_id": [1, 2, 3], "event_timestamp": [now] * 3})
    os.environ["MLSPEC_FEAST_DATA_DIR"] = str(data)
    try:
        store = FeatureStore(repo_path=str(repo))
        joined = store.get_historical_features(entity_df=entities, features=["customer_features:total_purchases"]).to_df()
    finally:
        del os.environ["MLSPEC_FEAST_DATA_DIR"]
    by_id = joined.set_index("customer_id")["total_purchases"]
    # customer 1's row is 30 h old (TTL 1 d): expired; 2 has a newer row in the next partition.
    assert by_id.loc[2] == 20.0 and by_id.loc[3] == 20.0 and pd.isna(by_id.get(1))
