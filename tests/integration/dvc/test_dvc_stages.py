"""The generated `dvc.yaml` and remote config work with the real DVC: `dvc stage list` in a
temporary git repository, the remote carries the object-store endpoint but no credentials,
and a stage really re-runs the dataset's Great Expectations suite on a versioned file."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, SPECS
from support.mlspec_data import compile_data_targets

GENERATED = REPO / "generated"


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    # The stage's `python` is the one of the environment DVC runs in (this virtualenv).
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "GX_ANALYTICS_ENABLED": "false"}
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=300, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    return path


@pytest.mark.parametrize("system", ["customer-churn", "payments-risk"])
def test_dvc_yaml_and_remote_config_load_in_dvc(tmp_path, system):
    repo = git_repo(tmp_path / "repo")
    dvc("init", "-q", cwd=repo)
    shutil.copy(GENERATED / system / "dvc" / "dvc.yaml", repo / "dvc.yaml")
    shutil.copy(GENERATED / system / "dvc" / "config", repo / ".dvc" / "config")
    stages = dvc("stage", "list", cwd=repo).stdout.split()
    expected = {"customer-churn": ["validate_customers", "validate_customer_activity"],
                "payments-risk": ["validate_transactions"]}[system]
    assert [s for s in stages if s.startswith("validate_")] == expected
    assert dvc("remote", "list", cwd=repo).stdout.split() == ["dvc-storage", "s3://dvc-storage", "(default)"]
    assert dvc("config", "remote.dvc-storage.endpointurl", cwd=repo).stdout.strip() == \
        "http://minio.minio.svc.cluster.local:9000"
    assert dvc("config", "core.remote", cwd=repo).stdout.strip() == "dvc-storage"
    config = configparser.ConfigParser()
    config.read(repo / ".dvc" / "config")
    keys = {key for section in config.sections() for key in config[section]}
    assert not keys & {"access_key_id", "secret_access_key", "session_token", "credentialpath"}


@pytest.mark.slow
def test_validation_stage_reruns_the_suite_on_a_versioned_file(tmp_path):
    """`dvc repro` of the generated stage, in place (generated/<system>/dvc as a DVC subdir
    project of a git repository): passes on good data, fails on bad, report as a metric."""
    repo = git_repo(tmp_path / "repo")
    system = compile_data_targets(SPECS / "customer-churn.yaml", repo / "generated")
    project = system / "dvc"
    dvc("init", "--subdir", "-q", cwd=project)
    shutil.copy(project / "config", project / ".dvc" / "config")
    groups = ["18-29", "30-44", "45-64", "65+"]
    n = 1500
    good = pd.DataFrame({
        "customer_id": pd.Series(range(n), dtype="int64"),
        "age": pd.Series([18 + i % 70 for i in range(n)], dtype="int32"),
        "age_group": [groups[i % 4] for i in range(n)],
        "churn": pd.Series([i % 2 for i in range(n)], dtype="int8"),
        "event_timestamp": pd.date_range("2026-01-01", periods=n, freq="min"),
    })
    (project / "data").mkdir()
    good.to_parquet(project / "data" / "customers.parquet", index=False)
    dvc("add", "-q", "data/customers.parquet", cwd=project)
    dvc("repro", "validate_customers", cwd=project)
    metrics = dvc("metrics", "show", "--json", cwd=project).stdout
    assert '"success": true' in metrics

    good.assign(churn=pd.Series([3] * n, dtype="int8")).to_parquet(project / "data" / "customers.parquet", index=False)
    dvc("add", "-q", "data/customers.parquet", cwd=project)
    failed = dvc("repro", "validate_customers", cwd=project, check=False)
    assert failed.returncode != 0
    assert "expect_column_values_to_be_in_set(column='churn', value_set=[0, 1])" in failed.stderr + failed.stdout
