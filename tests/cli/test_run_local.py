"""`mlspec run --local` without the tools of the `local` extra names the extra and exits 2,
before any work (nothing compiled, no work folder)."""

from __future__ import annotations

import importlib.util

from conftest import invoke_mlspec


def test_missing_tools_name_the_extra(monkeypatch, tmp_path):
    real = importlib.util.find_spec

    def without_airflow_and_feast(name, *args, **kwargs):
        if name.split(".")[0] in ("airflow", "feast"):
            return None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", without_airflow_and_feast)
    workdir = tmp_path / "work"
    result = invoke_mlspec("run", "specs/customer-churn.yaml", "--local", "--workdir", str(workdir))
    assert result.returncode == 2
    assert "missing: apache-airflow, feast." in result.stderr
    assert "pip install 'mlspec[local]'" in result.stderr
    assert not workdir.exists()


def test_run_needs_local(tmp_path):
    result = invoke_mlspec("run", "specs/customer-churn.yaml", "--workdir", str(tmp_path / "work"))
    assert result.returncode == 2
    assert "only --local runs exist so far" in result.stderr


def test_help_names_every_stage():
    result = invoke_mlspec("run", "--help", check=True)
    for stage in ("ingest, validate, version", "materialize", "train, register", "promote", "serve", "drift",
                  "retrain"):
        assert f"  {stage} " in result.stdout
    assert "NOT IMPLEMENTED" not in result.stdout


def test_an_unknown_model_is_a_usage_error_before_airflow_starts(tmp_path):
    workdir = tmp_path / "work"
    result = invoke_mlspec("run", "specs/customer-churn.yaml", "--local", "--model", "nope", "--workdir", str(workdir))
    assert result.returncode == 2
    assert "has no model `nope` (its models: churn)" in result.stderr
    assert not (workdir / "airflow").exists()
