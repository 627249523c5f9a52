"""Documents built to keep mlspec busy: a long string referenced by thousands of aliases.
(Alias bombs, deep nesting and huge files are tests/test_hostile_input.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEADER = "apiVersion: mlspec/v1alpha1\nkind: MLSystem\n"


def _validate(path: Path) -> subprocess.CompletedProcess:
    # No timing is asserted: a regression shows as this timeout, not as a slow pass.
    return subprocess.run([sys.executable, "-m", "mlspec", "validate", "--format", "json", str(path)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MLSPEC_NO_CACHE": "1", "NO_COLOR": "1"})


@pytest.mark.parametrize("where", ["labels", "list"])
def test_a_long_string_behind_thousands_of_aliases_is_refused_before_it_is_checked(tmp_path, where):
    """Attack: a 4 MB string and 4000 aliases to it: a few MB of YAML that expands to 16 GB
    of text, which every check then walks once per alias (validate stayed busy for hours,
    yet the value count was far under the alias-bomb limit). The loader also budgets the
    characters every expansion builds and refuses the document (E009) before building it."""
    long = "x" * (4 * 1024 * 1024)
    if where == "labels":
        body = f"metadata: {{name: churn, description: &d {long}}}\nlabels:\n" + "".join(
            f"  k{i}: *d\n" for i in range(4000))
    else:
        body = f"metadata: {{name: churn}}\nnotes: [&d {long}, " + ", ".join(["*d"] * 4000) + "]\n"
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEADER + body)

    result = _validate(spec)

    assert result.returncode == 1, result.stderr[-2000:]
    (diagnostic,) = json.loads(result.stdout)["diagnostics"]
    assert diagnostic["code"] == "E009" and "characters of text" in diagnostic["message"]


def _spec_with_shared_value(tmp_path: Path, value: str, aliases: int = 62) -> Path:
    """A valid spec whose description anchors `value`, and a model whose free-form training
    params hold `aliases` aliases of it (the loader's text budget allows 64 expansions of
    1 MB)."""
    params = "".join(f"        p{i}: *long\n" for i in range(aliases))
    text = HEADER + f"""metadata:
  name: churn
  description: &long "{value}"
platform:
  objectStore: {{endpoint: "http://minio:9000", credentialsSecret: minio-credentials}}
  mlflow: {{trackingUri: "http://mlflow:5000"}}
datasets:
  customers:
    source: {{uri: "s3://landing/customers.parquet", format: parquet}}
    storage: s3://raw-data/customers.parquet
    columns:
      customer_id: {{type: int64}}
      churn: {{type: int8, in: [0, 1]}}
      event_timestamp: {{type: timestamp}}
entities:
  customer: {{joinKeys: [customer_id]}}
featureViews:
  customer_features:
    entities: [customer]
    source: customers
    timestampField: event_timestamp
    ttl: 1d
    features: {{churn: int8}}
models:
  churn:
    task: binary_classification
    features: [customer_features.churn]
    label: customers.churn
    training:
      estimator: sklearn.ensemble.RandomForestClassifier
      params:
{params}"""
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    assert len(text) < 2 * len(value) + 10_000  # a 1 MB file, as the attack
    return spec


# The text that held the old scan longest: a URL scheme every 4 characters, and an `@` at
# the end, so that each scheme made the regex read 512 characters ahead (2-5 s per MB).
HOSTILE = "x://" * 250_000 + " @ ="


def test_a_1mb_value_behind_62_aliases_validates_in_seconds(tmp_path):
    """Attack: one 1 MB value, 62 aliases to it, in a 1 MB spec: the secrets scan read each
    alias again, at 2-5 s a megabyte, and held `validate` for minutes (74-154 s, 400 MB). The
    scan is linear in its text and reads a shared value once. No time is asserted: a
    regression shows as the timeout."""
    spec = _spec_with_shared_value(tmp_path, HOSTILE)

    result = subprocess.run([sys.executable, "-m", "mlspec", "validate", "--format", "json", str(spec)],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "MLSPEC_NO_CACHE": "1", "NO_COLOR": "1"})

    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["diagnostics"] == []


def test_a_secret_in_a_shared_value_is_reported_once_at_its_anchor(tmp_path):
    """The shared value is scanned once, and what it holds is reported once, where it is
    written (not 63 times, each quoting a 1 MB line)."""
    spec = _spec_with_shared_value(tmp_path, "x" * 1_000_000 + " redis://:hunter2@cache:6379")

    result = subprocess.run([sys.executable, "-m", "mlspec", "validate", "--format", "json", str(spec)],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "MLSPEC_NO_CACHE": "1", "NO_COLOR": "1"})

    assert result.returncode == 1, result.stderr[-2000:]
    (diagnostic,) = json.loads(result.stdout)["diagnostics"]
    assert diagnostic["code"] == "E301" and diagnostic["line"] == 5, diagnostic


def test_each_shared_value_is_scanned_once(tmp_path, monkeypatch):
    """The number of scans: one per distinct string object, however many aliases share it."""
    from mlspec.source.loader import load_spec_file
    from mlspec.spec import secrets

    scanned: list[int] = []
    real = secrets._secret_in_text
    monkeypatch.setattr(secrets, "_secret_in_text", lambda text: scanned.append(id(text)) or real(text))
    source, diagnostics = load_spec_file(_spec_with_shared_value(tmp_path, "y" * 100_000))
    assert source is not None and not diagnostics

    assert secrets.find_literal_secrets(source) == []
    assert len(scanned) == len(set(scanned))
    assert scanned.count(id(source.data["metadata"]["description"])) == 1
