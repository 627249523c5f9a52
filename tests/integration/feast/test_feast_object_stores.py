"""Feast on Google Cloud Storage and Azure Blob Storage, for real (gcp-storage-emulator, Azurite): the Feast registry at a
gs:// path (Feast 0.67's GCSRegistryStore) and the offline store reading the dataset's gs://
partitions (its Dask file offline store, through gcsfs). The generated Feast DAG's own steps
(`feast_apply`, `feast_materialize` of the generated mlspec_runtime.py) run in a fresh
interpreter with the DAG's CONFIG; then the online store serves the rows written to the
emulator. (Feast keeps no registry on Azure Blob Storage: an abfs:// registry is refused, E112.)"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import yaml

from support.emulators import gcs_emulator

NOW = datetime.now(timezone.utc).replace(microsecond=0)

SPEC = {
    "apiVersion": "mlspec/v1alpha1", "kind": "MLSystem", "metadata": {"name": "shop"},
    "platform": {"gcs": {"credentialsSecret": "gcs-credentials", "endpoint": "http://fake-gcs:4443"},
                 "feast": {"registry": "gs://feast/shop/registry.db",
                           "onlineStore": {"type": "sqlite", "path": "data/online.db"}}},
    "datasets": {"activity": {
        "source": {"uri": "gs://landing/activity/*.parquet"},
        "storage": "gs://lake/activity.parquet", "schedule": "@daily",
        "columns": {"customer_id": {"type": "int64", "nullable": False}, "clicks": {"type": "int32"},
                    "event_timestamp": {"type": "timestamp"}}}},
    "entities": {"customer": {"joinKeys": ["customer_id"]}},
    "featureViews": {"activity_stats": {"entities": ["customer"], "source": "activity",
                                        "timestampField": "event_timestamp", "ttl": "7d",
                                        "features": {"clicks": "int32"}}},
}

RUN = """
import faulthandler, importlib.util, json, sys
faulthandler.dump_traceback_later(240, exit=True)
spec = importlib.util.spec_from_file_location("mlspec_runtime", sys.argv[1])
runtime = importlib.util.module_from_spec(spec); spec.loader.exec_module(runtime)
config = json.loads(sys.argv[2])
context = {"run_id": "manual__test"}
applied = runtime.run_step("feast_apply", config, sys.argv[3], context)
materialized = runtime.run_step("feast_materialize", config, sys.argv[3], context)
with runtime.feast_environment(dict(config, dag_file=sys.argv[3])):
    store = runtime.feast_store(dict(config, dag_file=sys.argv[3]))
    online = store.get_online_features(features=["activity_stats:clicks"],
                                       entity_rows=[{"customer_id": 1}, {"customer_id": 2}]).to_dict()
print(json.dumps({"applied": applied, "materialized": materialized, "online": online}, default=str))
"""


@pytest.mark.slow
def test_the_feast_registry_and_offline_store_live_on_gcs(tmp_path):
    from mlspec.compiler.compile import compile_spec

    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    result = compile_spec(path, tmp_path / "generated", targets=["airflow", "feast"])
    assert result.ok, [d.message for d in result.diagnostics]
    system = tmp_path / "generated" / "shop"
    for name, text in result.files.items():
        (system / name).parent.mkdir(parents=True, exist_ok=True)
        (system / name).write_text(text)
    assert "registry: gs://feast/shop/registry.db" in (system / "feast" / "feature_store.yaml").read_text()
    dag = system / "airflow" / "dags" / "shop__feast.py"
    tree = ast.parse(dag.read_text())
    config = next(ast.literal_eval(node.value) for node in tree.body
                  if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "CONFIG")

    with gcs_emulator() as gcs:
        fs = gcs.fs()
        for bucket in ("feast", "lake"):
            fs.mkdir(bucket)
        day = NOW.date().isoformat()
        frame = pd.DataFrame({"customer_id": [1, 2], "clicks": pd.array([5, 9], dtype="int32"),
                              "event_timestamp": [NOW - timedelta(hours=2)] * 2})
        with fs.open(f"lake/activity.parquet/ds={day}/part-0.parquet", "wb") as handle:
            handle.write(frame.to_parquet(index=False))
        env = {"AIRFLOW_VAR_MLSPEC__SHOP__GCS_ENDPOINT": gcs.endpoint,
               "AIRFLOW_VAR_MLSPEC__SHOP__FEAST_REPO": str(system / "feast"),
               "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        ran = subprocess.run([sys.executable, "-c", RUN, str(dag.parent / "mlspec_runtime.py"), json.dumps(config),
                              str(dag)], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-5000:]
        out = json.loads(ran.stdout.strip().splitlines()[-1])
        assert out["applied"]["applied"] and out["materialized"]["materialized"] == ["activity_stats"]
        assert out["online"]["clicks"] == [5, 9]
        assert fs.isfile("feast/shop/registry.db")  # the registry Feast wrote on the store


@pytest.mark.slow
def test_the_feast_offline_store_reads_azure_blob_partitions(tmp_path):
    """The same on Azurite, with the registry in the repository (Feast has no Azure registry)."""
    from support.emulators import AZURITE_ACCOUNT, AZURITE_KEY, azurite

    from mlspec.compiler.compile import compile_spec

    document = json.loads(json.dumps(SPEC))
    document["platform"] = {"azure": {"account": AZURITE_ACCOUNT, "credentialsSecret": "azure-credentials"},
                            "feast": {"onlineStore": {"type": "sqlite", "path": "data/online.db"}}}
    document["datasets"]["activity"]["source"]["uri"] = "abfs://landing/activity/*.parquet"
    document["datasets"]["activity"]["storage"] = "abfs://lake/activity.parquet"
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(document))
    result = compile_spec(path, tmp_path / "generated", targets=["airflow", "feast"])
    assert result.ok, [d.message for d in result.diagnostics]
    system = tmp_path / "generated" / "shop"
    for name, text in result.files.items():
        (system / name).parent.mkdir(parents=True, exist_ok=True)
        (system / name).write_text(text)
    dag = system / "airflow" / "dags" / "shop__feast.py"
    tree = ast.parse(dag.read_text())
    config = next(ast.literal_eval(node.value) for node in tree.body
                  if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "CONFIG")
    with azurite(tmp_path / "azurite") as server:
        fs = server.fs()
        fs.mkdir("lake")
        frame = pd.DataFrame({"customer_id": [1, 2], "clicks": pd.array([5, 9], dtype="int32"),
                              "event_timestamp": [NOW - timedelta(hours=2)] * 2})
        with fs.open(f"lake/activity.parquet/ds={NOW.date().isoformat()}/part-0.parquet", "wb") as handle:
            handle.write(frame.to_parquet(index=False))
        # The account key only through the Airflow connection the spec names.
        env = {"AIRFLOW_CONN_AZURE-CREDENTIALS": json.dumps({"conn_type": "wasb", "login": AZURITE_ACCOUNT,
                                                             "password": AZURITE_KEY}),
               "AIRFLOW_VAR_MLSPEC__SHOP__AZURE_ENDPOINT": server.blob_endpoint,
               "AIRFLOW_VAR_MLSPEC__SHOP__FEAST_REPO": str(system / "feast"),
               "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        ran = subprocess.run([sys.executable, "-c", RUN, str(dag.parent / "mlspec_runtime.py"), json.dumps(config),
                              str(dag)], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-5000:]
        out = json.loads(ran.stdout.strip().splitlines()[-1])
        assert out["materialized"]["materialized"] == ["activity_stats"]
        assert out["online"]["clicks"] == [5, 9]
