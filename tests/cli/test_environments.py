"""Environment overlays and `mlspec explain`: the effective value per environment and
where it came from; broken overlays get diagnostics, not crashes."""

from __future__ import annotations

import shutil

import pytest
import yaml

from conftest import REPO, SPECS, invoke_mlspec

CHURN = "specs/customer-churn.yaml"


def test_explain_shows_the_overlay_value_and_its_line():
    result = invoke_mlspec("explain", "models.churn.serving.replicas.max", CHURN, "--env", "dev", check=True)
    line = next(i for i, text in enumerate((SPECS / "customer-churn.yaml").read_text().splitlines(), 1)
                if "models.churn.serving.replicas:" in text)
    assert result.stdout.startswith("models.churn.serving.replicas.max = 1 in environment `dev`")
    assert f"{CHURN}:{line}:" in result.stdout and "environment `dev` override" in result.stdout


def test_explain_shows_the_base_value_where_the_environment_does_not_override():
    result = invoke_mlspec("explain", "models.churn.serving.replicas.max", CHURN, "--env", "prod", check=True)
    line = next(i for i, text in enumerate((SPECS / "customer-churn.yaml").read_text().splitlines(), 1)
                if "replicas: {min: 1, max: 5}" in text)
    assert "= 5 in environment `prod`" in result.stdout and f"{CHURN}:{line}:" in result.stdout


def test_explain_names_defaults_and_unknown_keys():
    result = invoke_mlspec("explain", "models.chargeback-loss.training.retries", "specs/payments-risk.yaml", check=True)
    assert result.stdout == ("models.chargeback-loss.training.retries = 0\n"
                             "  from default (not written in the spec)\n"
                             # retries act inside the Kubeflow run only (the DAG's are `submitRetries`)
                             "  feeds kfp/chargeback_loss_training.py, kfp/chargeback_loss_training.yaml\n")
    # A value no output uses is never reported as in effect.
    result = invoke_mlspec("explain", "platform.feast.registry", "specs/minimal.yaml", check=True)
    assert result.stdout.endswith("  feeds no generated file: changing it changes nothing\n")
    result = invoke_mlspec("explain", "models.churn.serving.replicas.maximum", CHURN)
    assert result.returncode == 2 and "no `maximum`" in result.stderr and "max, min" in result.stderr
    # a bad environment is a usage error too, like a bad key
    result = invoke_mlspec("explain", "models.churn.serving.replicas.max", CHURN, "--env", "qa")
    assert result.returncode == 2 and "environment `qa` is not defined" in result.stderr


def test_overlays_change_only_their_environment():
    dev = yaml.safe_load((REPO / "generated/customer-churn/k8s/dev/inferenceservice-churn.yaml").read_text())
    prod = yaml.safe_load((REPO / "generated/customer-churn/k8s/prod/inferenceservice-churn.yaml").read_text())
    assert (dev["spec"]["predictor"]["maxReplicas"], prod["spec"]["predictor"]["maxReplicas"]) == (1, 5)
    assert (dev["spec"]["predictor"]["canaryTrafficPercent"], prod["spec"]["predictor"]["canaryTrafficPercent"]) == (50, 10)
    assert (dev["metadata"]["namespace"], prod["metadata"]["namespace"]) == ("models-dev", "models")


@pytest.mark.parametrize("edit,code,message", [
    (("models.churn.serving.replicas: {min: 1, max: 1}", "models.churnn.serving.replicas: {min: 1, max: 1}"),
     "E601", "override targets `models.churnn`, which the spec does not define"),
    (("models.churn.serving.replicas: {min: 1, max: 1}", "models.churn.serving.replicas: {min: 1, mx: 1}"),
     "E101", "unknown key `mx`"),
    (("models.churn.serving.replicas: {min: 1, max: 1}", "models.churn.serving.replicas: {min: 3, max: 1}"),
     "E111", "replicas `min` (3) is greater than `max` (1)"),
    (("models.churn.serving.replicas: {min: 1, max: 1}", "datasets.customers.schedule: '@hourly'"),
     "E603", "cannot differ per environment"),
    (("namespace: models-dev", "namespace: Models_Dev"), "E107", "not a valid Kubernetes name"),
    (("models.churn.rollout.canaryTrafficPercent: 50", "models.churn.serving.format: custom"),
     "E405", "serving format `custom` needs a `runtime`"),
    (("models.churn.rollout.canaryTrafficPercent: 50", "models.churn.rollout.canaryTrafficPercent: 101"),
     "E108", "must be at most 100"),
])
def test_broken_overlays_get_diagnostics_at_the_overlay_line(tmp_path, edit, code, message):
    shutil.copytree(SPECS, tmp_path / "specs")
    spec = tmp_path / CHURN
    old, new = edit
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new, 1))
    line = next(i for i, t in enumerate(spec.read_text().splitlines(), 1) if new in t)
    result = invoke_mlspec("compile", CHURN, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"[{code}]" in result.stderr and message in result.stderr, result.stderr
    assert f"{CHURN}:{line}:" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_an_override_may_set_part_of_a_section_the_base_leaves_to_its_defaults(tmp_path):
    """`serving.replicas` left out of the base is `{min: 1, max: 1}`: an environment may
    raise `max` alone (it is not "an override of something the spec does not define")."""
    shutil.copytree(SPECS, tmp_path / "specs")
    spec = tmp_path / CHURN
    text = spec.read_text()
    text = text.replace("      replicas: {min: 1, max: 5}\n", "", 1)
    text = text.replace("models.churn.serving.replicas: {min: 1, max: 1}", "models.churn.serving.replicas.max: 3", 1)
    spec.write_text(text)
    result = invoke_mlspec("compile", CHURN, "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    k8s = tmp_path / "out/customer-churn/k8s"
    dev = yaml.safe_load((k8s / "dev/inferenceservice-churn.yaml").read_text())["spec"]["predictor"]
    prod = yaml.safe_load((k8s / "prod/inferenceservice-churn.yaml").read_text())["spec"]["predictor"]
    assert (dev["minReplicas"], dev["maxReplicas"]) == (1, 3)
    assert (prod["minReplicas"], prod["maxReplicas"]) == (1, 1)


def test_an_override_of_a_misspelled_base_key_points_at_the_misspelling(tmp_path):
    shutil.copytree(SPECS, tmp_path / "specs")
    spec = tmp_path / CHURN
    spec.write_text(spec.read_text().replace("      replicas: {min: 1, max: 5}\n", "      replica: {min: 1, max: 5}\n", 1))
    result = invoke_mlspec("validate", CHURN, cwd=tmp_path)
    assert result.returncode == 1
    assert "unknown key `replica`" in result.stderr and "did you mean `replicas`?" in result.stderr
    # the correct override in `dev` is not reported, and nothing suggests the misspelling
    assert "E601" not in result.stderr and "did you mean `replica`?" not in result.stderr, result.stderr
