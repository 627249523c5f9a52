"""The `iter8` backend is kept for the Iter8 v2alpha2 API, which no released Iter8 acts on: every
compile (a cached one too) says so, pointing at `kserve-analysis`; `mlspec codes W411` says why
Iter8's last release (v1.1.2) cannot take its place."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from conftest import SPECS
from mlspec.cli import cli


def _run(*args: str, cwd: Path):
    import os

    here = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner(env={"NO_COLOR": "1"}).invoke(cli, list(args))
    finally:
        os.chdir(here)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_every_compile_of_an_iter8_rollout_warns_and_points_at_kserve_analysis(tmp_path):
    (tmp_path / "specs").mkdir()
    shutil.copy(SPECS / "payments-risk.yaml", tmp_path / "specs")
    for attempt in ("first", "cached"):
        result = _run("compile", "specs", "--out", "generated", cwd=tmp_path)
        assert result.exit_code == 0, (attempt, result.output)
        assert result.output.count("warning[W411]") == 1, (attempt, result.output)
        assert "use `backend: kserve-analysis`" in result.output
        assert "models.chargeback-loss.rollout.backend" in result.output
    # The objects are still written, for the API they were written for.
    assert list((tmp_path / "generated/payments-risk/k8s").glob("*/iter8-metrics-*.yaml"))


def test_a_kserve_analysis_rollout_does_not_warn(tmp_path):
    (tmp_path / "specs").mkdir()
    shutil.copy(SPECS / "customer-churn.yaml", tmp_path / "specs")
    result = _run("validate", "specs", cwd=tmp_path)
    assert result.exit_code == 0 and "W411" not in result.output, result.output


def test_the_code_explains_why_iter8_v1_cannot_replace_the_backend(tmp_path):
    result = _run("codes", "W411", cwd=tmp_path)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for fact in ("v1.1.2", "`release` chart", "Istio VirtualService", "assess", "iter8-tools/iter8#1565",
                 "backend: kserve-analysis"):
        assert fact in text, fact
