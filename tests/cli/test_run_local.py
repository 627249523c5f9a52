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
    # the OpenLineage provider is Airflow's too (a local run's lineage events)
    assert "missing: apache-airflow, apache-airflow-providers-openlineage, feast." in result.stderr
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


# --- the report: every way out of a run writes it, with the reason --------------------------------


def _report(path):
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def test_a_spec_refused_before_any_stage_still_writes_the_report_with_its_diagnostics(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("apiVersion: mlspec/v1alpha1\nkind: MLSystem\nmetadata: {name: x}\nmodels:\n  m: {task: nope}\n",
                    encoding="utf-8")
    report = tmp_path / "out" / "report.json"
    result = invoke_mlspec("run", str(spec), "--local", "--workdir", str(tmp_path / "work"), "--report", str(report))
    assert result.returncode == 1
    written = _report(report)
    assert (written["status"], written["exitCode"], written["stages"]) == ("stopped", 1, [])
    assert "nothing was run" in written["reason"]
    assert any(d["code"] == "E104" and d["line"] == 5 for d in written["diagnostics"])
    assert not (tmp_path / "work").exists()


def test_a_missing_spec_file_and_a_unknown_model_are_in_the_report(tmp_path):
    report = tmp_path / "report.json"
    result = invoke_mlspec("run", str(tmp_path / "none.yaml"), "--local", "--report", str(report))
    assert result.returncode == 2
    assert _report(report)["exitCode"] == 2 and "no spec file at" in _report(report)["reason"]
    result = invoke_mlspec("run", "specs/customer-churn.yaml", "--local", "--model", "nope",
                           "--workdir", str(tmp_path / "work"), "--report", str(report))
    assert result.returncode == 2
    assert "has no model `nope`" in _report(report)["reason"]


def test_a_bug_during_preparation_is_reported_as_one_with_exit_3(tmp_path, monkeypatch):
    import mlspec.local.run

    def broken(*args, **kwargs):
        raise OverflowError("high - low range exceeds valid bounds")

    monkeypatch.setattr(mlspec.local.run, "start_local_run", broken)
    report = tmp_path / "report.json"
    try:
        invoke_mlspec("run", "specs/customer-churn.yaml", "--local", "--workdir", str(tmp_path / "work"),
                      "--report", str(report))
    except OverflowError:
        pass  # CliRunner hands the escaped exception back; the real CLI prints "internal error" (exit 3)
    written = _report(report)
    assert (written["status"], written["exitCode"]) == ("stopped", 3)
    assert written["reason"] == "internal error (a bug in mlspec): OverflowError: high - low range exceeds valid bounds"
