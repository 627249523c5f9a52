"""Synthetic data for the customer-churn spec (no downloads), and a helper that lays out a
runnable copy of a generated Feast repo in a temporary folder.

Churn is driven by support tickets and days since the last purchase, with a little noise,
so a random forest clears the spec's gates (accuracy >= 0.85, roc_auc >= 0.80) but cannot
reach accuracy 0.999. Age groups are assigned round-robin, independent of churn, so the
selection-rate disparity across them stays small.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

AS_OF = datetime(2026, 1, 10, tzinfo=timezone.utc)  # when the current activity row is stamped
LABEL_TIME = AS_OF + timedelta(hours=1)  # when the churn label is observed
AGE_GROUPS = ["18-29", "30-44", "45-64", "65+"]


def churn_frames(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(customers, customer_activity) with the columns the spec declares.

    Activity has two rows per customer: a stale one two days old (values that would mislead
    the model) and the current one; point-in-time joins and materialization must pick the
    current row."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1, dtype="int64")
    tickets = rng.poisson(2.0, n).astype("int32")
    days = rng.integers(0, 60, n).astype("int32")
    purchases = rng.gamma(2.0, 10.0, n).astype("float32")
    order_value = rng.normal(50, 15, n).clip(1).astype("float32")
    score = 0.9 * tickets + 0.08 * days - 0.02 * purchases
    churn = ((score + rng.normal(0, 0.6, n)) > 4.0).astype("int8")
    age_group = [AGE_GROUPS[i % len(AGE_GROUPS)] for i in range(n)]
    customers = pd.DataFrame({
        "customer_id": ids,
        "age": (18 + (ids * 7) % 60).astype("int32"),
        "age_group": age_group,
        "churn": churn,
        "event_timestamp": pd.Series([LABEL_TIME] * n, dtype="datetime64[us, UTC]"),
    })
    current = pd.DataFrame({
        "customer_id": ids,
        "total_purchases": purchases,
        "avg_order_value": order_value,
        "days_since_last_purchase": days,
        "support_tickets_count": tickets,
        "event_timestamp": pd.Series([AS_OF] * n, dtype="datetime64[us, UTC]"),
    })
    stale = current.copy()
    stale["support_tickets_count"] = rng.permutation(tickets)
    stale["days_since_last_purchase"] = rng.permutation(days)
    stale["event_timestamp"] = pd.Series([AS_OF - timedelta(days=2)] * n, dtype="datetime64[us, UTC]")
    activity = pd.concat([stale, current], ignore_index=True)
    return customers, activity


def feast_repo_copy(generated_files: dict[str, str], dest: Path) -> Path:
    """Write the generated `feast/` files of one system into `dest` (a runnable repo), with the
    registry in the repo's own data/ folder (the specs keep it on the object store)."""
    import yaml

    dest.mkdir(parents=True, exist_ok=True)
    for path, text in generated_files.items():
        if path.startswith("feast/"):
            target = dest / path[len("feast/"):]
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.name.startswith("feature_store") and target.suffix == ".yaml":
                config = yaml.safe_load(text)
                config["registry"] = "data/registry.db"
                text = yaml.safe_dump(config, sort_keys=False)
            target.write_text(text, encoding="utf-8")
    (dest / "data").mkdir(exist_ok=True)
    return dest


def copy_tree(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest
