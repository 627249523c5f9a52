"""Shared by the tests of the Airflow task bodies (mlspec.runtime.airflow_tasks): the unit tests
(tests/unit/runtime/) and those that run them with the real Great Expectations, Evidently or DVC
(tests/integration/). A test module imports the autouse fixtures it wants by name."""

from __future__ import annotations

import copy
import json
import os
import sys

import pandas as pd
import pytest

from mlspec.runtime import airflow_tasks as tasks

SUITE = {
    "name": "shop.customers",
    "meta": {},
    "expectations": [
        {"type": "expect_column_to_exist", "kwargs": {"column": "customer_id"}, "meta": {}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "customer_id"}, "meta": {}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "age", "min_value": 18, "max_value": 120}, "meta": {}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "plan", "value_set": ["free", "pro"]}, "meta": {}},
    ],
}
GOOD = pd.DataFrame({"customer_id": [1, 2, 3], "age": [20, 35, 64], "plan": ["free", "pro", "free"]})
BAD = GOOD.assign(age=[20, 7, 64])  # one customer too young for the suite
CONTEXT = {"run_id": "manual__2026-01-02T03:04:05+00:00"}


def hide_airflow_sdk(monkeypatch) -> None:
    """`from airflow.sdk import ...` raises ImportError for the rest of the test, as where Airflow
    is not installed. A submodule an earlier test imported (airflow.sdk.exceptions, say) would
    still be found in sys.modules without its parent: hide those too."""
    monkeypatch.setitem(sys.modules, "airflow.sdk", None)
    for name in [n for n in sys.modules if n.startswith("airflow.sdk.")]:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture(autouse=True)
def no_airflow(monkeypatch):
    """By default Airflow is not installed, so a setting falls back to its default (as in the DVC
    stage, which runs without Airflow)."""
    hide_airflow_sdk(monkeypatch)


@pytest.fixture(autouse=True)
def gx_analytics_off(monkeypatch):
    """validate_frame turns Great Expectations' analytics off with os.environ.setdefault; set it
    here so that the variable is put back after each test."""
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")


def ingest_config(tmp_path, **settings) -> dict:
    """A CONFIG like the one a generated ingestion DAG passes, rooted in tmp_path."""
    root = tmp_path / "generated" / "shop"
    return {
        "system": "shop",
        "dataset": "customers",
        "dag_id": "shop__ingest_customers",
        "dag_file": str(root / "airflow" / "dags" / "shop__ingest_customers.py"),
        "source": {"kind": "file", "format": "csv"},
        "columns": [{"name": "customer_id", "type": "int64", "nullable": False},
                    {"name": "age", "type": "int32", "nullable": True},
                    {"name": "plan", "type": "string", "nullable": False}],
        "suite": "great_expectations/customers.json",
        "dvc": None,
        "credentials": {"conn_id": None, "region": None},
        "settings": {
            "root": ["mlspec__shop__root", None],
            "s3_endpoint": ["mlspec__shop__s3_endpoint", None],
            "staging_dir": ["mlspec__shop__staging_dir", str(tmp_path / "staging")],
            "source_uri": ["mlspec__shop__customers__source_uri", str(tmp_path / "customers.csv")],
            "storage": ["mlspec__shop__customers__storage", str(tmp_path / "lake" / "customers.parquet")],
            **settings,
        },
    }


def suite() -> dict:
    return copy.deepcopy(SUITE)


def write_suite(config) -> None:
    path = os.path.join(tasks.root(config), config["suite"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(SUITE, handle)
