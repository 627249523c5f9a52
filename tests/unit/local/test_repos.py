"""The promote stage's repositories: mlspec's own publish and promote, called in-process (the
Deployer the CLI wires from gitops/), and git through mlspec.git.Git, committing as the local run."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from conftest import SPECS
from mlspec.cli.commands.run import local_deployer
from mlspec.local.repos import make_repos, published_object


def _git(repo, *args) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_the_spec_is_published_then_promoted_through_both_repositories(tmp_path):
    spec = tmp_path / "customer-churn.yaml"
    shutil.copyfile(SPECS / "customer-churn.yaml", spec)
    said = []
    repos = make_repos(tmp_path, spec, local_deployer(), said.append)
    assert _git(repos.spec_repo, "log", "--format=%an <%ae>|%s").splitlines() == [
        "mlspec run --local <mlspec-run-local@localhost>|customer-churn.yaml: the spec as the local run found it"]
    published = _git(repos.deployments, "log", "--format=%s").splitlines()
    assert len(published) == 2 and published[-1] == "deployments repository"  # the spec as it was, published

    deployer = local_deployer()
    deployer.promote(repos.spec, "churn", "prod", "7", "s3://models/churn/7", repos.generated,
                     str(repos.deployments), said.append)
    assert _git(repos.spec_repo, "log", "-1", "--format=%an|%s") == \
        "mlspec run --local|mlspec promote: churn version 7: canary started in prod (10% of traffic)\n"
    isvc = yaml.safe_load((repos.deployments / "deployments" / "customer-churn" / "prod" /
                           "inferenceservice-churn.yaml").read_text())
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == "s3://models/churn/7"
    assert published_object(repos, "deployments/customer-churn/prod", "InferenceService",
                            isvc["metadata"]["name"])[1] == isvc
    assert any("committed" in line for line in said)  # what the promotion said went to the stage's log
