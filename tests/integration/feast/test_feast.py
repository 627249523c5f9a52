"""The generated Feast repo works with the real Feast: `feast apply` accepts it, and after
materializing synthetic data the online store serves the current feature values."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from mlspec.compiler.compile import compile_spec
from conftest import REPO, SPECS
from support.churn_data import AS_OF, churn_frames, feast_repo_copy

FEAST = str(Path(sys.executable).with_name("feast"))


def _compile(spec: str) -> dict[str, str]:
    result = compile_spec(SPECS / spec, REPO / "generated", targets=["feast"])
    assert result.ok, [d.message for d in result.diagnostics]
    return result.files


def test_feature_store_yaml_defaults_to_local_provider():
    files = _compile("customer-churn.yaml")
    config = yaml.safe_load(files["feast/feature_store.yaml"])
    assert config["project"] == "customer_churn"
    assert config["provider"] == "local"
    assert config["online_store"] == {"type": "sqlite", "path": "data/online_store.db"}
    assert config["offline_store"] == {"type": "file"}


def test_environment_override_gets_its_own_store_config(tmp_path):
    spec = (SPECS / "customer-churn.yaml").read_text()
    spec = spec.replace(
        "      models.churn.rollout.canaryTrafficPercent: 50\n",
        "      models.churn.rollout.canaryTrafficPercent: 50\n"
        "      platform.feast.onlineStore: {type: redis, connection_string: 'redis.feast.svc:6379'}\n")
    path = tmp_path / "customer-churn.yaml"
    path.write_text(spec)
    result = compile_spec(path, tmp_path / "generated", targets=["feast"])
    assert result.ok, [d.message for d in result.diagnostics]
    dev = yaml.safe_load(result.files["feast/feature_store.dev.yaml"])
    assert dev["online_store"] == {"type": "redis", "connection_string": "redis.feast.svc:6379"}
    assert "feast/feature_store.prod.yaml" not in result.files  # prod keeps the base config
    assert yaml.safe_load(result.files["feast/feature_store.yaml"])["online_store"]["type"] == "sqlite"


@pytest.mark.slow
def test_apply_materialize_and_serve_online(tmp_path):
    repo = feast_repo_copy(_compile("customer-churn.yaml"), tmp_path / "feast")
    data = tmp_path / "data"
    data.mkdir()
    customers, activity = churn_frames(n=50)
    activity.to_parquet(data / "customer_activity.parquet", index=False)
    env = {**os.environ, "MLSPEC_FEAST_DATA_DIR": str(data)}

    applied = subprocess.run([FEAST, "apply"], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "customer_features" in applied.stdout

    from feast import FeatureStore

    store = FeatureStore(repo_path=str(repo))
    assert sorted(fv.name for fv in store.list_feature_views()) == ["customer_features"]
    service = store.get_feature_service("churn")
    assert [p.name for p in service.feature_view_projections] == ["customer_features"]
    store.materialize(start_date=AS_OF - timedelta(days=3), end_date=AS_OF + timedelta(minutes=1))

    online = store.get_online_features(
        features=service, entity_rows=[{"customer_id": 7}, {"customer_id": 42}]).to_dict()
    current = activity[activity["event_timestamp"] == activity["event_timestamp"].max()].set_index("customer_id")
    assert online["customer_id"] == [7, 42]
    assert online["support_tickets_count"] == [int(current.loc[7, "support_tickets_count"]),
                                               int(current.loc[42, "support_tickets_count"])]
    assert online["total_purchases"] == pytest.approx([float(current.loc[7, "total_purchases"]),
                                                       float(current.loc[42, "total_purchases"])])


@pytest.mark.slow
def test_payments_repo_applies_with_partial_feature_services(tmp_path):
    repo = feast_repo_copy(_compile("payments-risk.yaml"), tmp_path / "feast")
    applied = subprocess.run([FEAST, "plan"], cwd=repo, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "MLSPEC_FEAST_DATA_DIR": str(tmp_path)})
    assert applied.returncode == 0, applied.stdout + applied.stderr
    applied = subprocess.run([FEAST, "apply"], cwd=repo, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "MLSPEC_FEAST_DATA_DIR": str(tmp_path)})
    assert applied.returncode == 0, applied.stdout + applied.stderr

    from feast import FeatureStore

    store = FeatureStore(repo_path=str(repo))
    services = {s.name: s for s in store.list_feature_services()}
    assert sorted(services) == ["chargeback_loss", "fraud_score"]
    fraud = {p.name: [f.name for f in p.features] for p in services["fraud_score"].feature_view_projections}
    assert fraud == {"card_activity": ["txn_count_24h", "txn_amount_24h", "distinct_merchants_7d"],
                     "merchant_risk": ["fraud_rate_30d"]}
