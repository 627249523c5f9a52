"""The timestamp the point-in-time join stands on is the spec's to say when the label dataset
has several (E212), and what the spec says is what the training pipeline joins on."""

from __future__ import annotations

from conftest import REPO, invoke_mlspec

UNCLEAR = REPO / "tests/cases/invalid/check-label-timestamp-unclear/spec.yaml"


def _with(tmp_path, line: str):
    text = UNCLEAR.read_text(encoding="utf-8").replace("    label: outcomes.churned\n",
                                                       f"    label: outcomes.churned\n    {line}\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    return spec


def test_the_named_label_timestamp_is_the_column_the_training_pipeline_joins_on(tmp_path):
    spec = _with(tmp_path, "labelTimestamp: observed_at")
    invoke_mlspec("compile", str(spec), "--out", str(tmp_path / "out"), check=True)
    pipeline = (tmp_path / "out/churn/kfp/churn_training.py").read_text(encoding="utf-8")
    assert "timestamp_column='observed_at'," in pipeline


def test_a_label_timestamp_that_is_not_a_timestamp_column_is_located(tmp_path):
    spec = _with(tmp_path, "labelTimestamp: churned")
    result = invoke_mlspec("validate", str(spec), "--format", "json")
    assert result.returncode == 1
    import json

    [found] = json.loads(result.stdout)["diagnostics"]
    text = spec.read_text(encoding="utf-8").splitlines()
    assert (found["code"], text[found["line"] - 1].strip()) == ("E206", "labelTimestamp: churned")
    assert "`signed_up_at`, `observed_at`" in found["help"]
