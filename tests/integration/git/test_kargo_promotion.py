"""Kargo promotion (`deploy.promotion: kargo`): a published version walks dev -> staging -> prod
through the Stages mlspec generates, their promotion steps run the way Kargo v1.11 runs them
(tests/support/kargo_steps.py) on real git repositories: a bare deployments repository that
`mlspec publish` writes to, and the Stages' branches the Argo CD Applications watch."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import SPECS, run_mlspec
from support.git_repos import files_at, git, git_env, make_remote
from support.kargo_steps import Kargo, PromotionFailed, with_staging

SYSTEM = "customer-churn"
REPO_URL = "https://github.com/myorg/ml-deployments"
ENVIRONMENTS = ("dev", "staging", "prod")


def _compile(project: Path, env: dict) -> Path:
    result = run_mlspec("compile", "specs", "--out", "generated", cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    return project / "generated" / SYSTEM


def _kargo(project: Path, remote: Path, env: dict, work: Path) -> Kargo:
    out = _compile(project, env)
    load = lambda name: yaml.safe_load((out / "kargo" / name).read_text())  # noqa: E731
    applications = {}
    for name in ENVIRONMENTS:
        app = yaml.safe_load((out / "argocd" / name / "application.yaml").read_text())
        applications[f"{app['metadata']['namespace']}/{app['metadata']['name']}"] = app
    work.mkdir()
    return Kargo(project=load("project.yaml")["metadata"]["name"], warehouse=load("warehouse.yaml"),
                 stages={name: load(f"stage-{name}.yaml") for name in ENVIRONMENTS}, applications=applications,
                 url_map={REPO_URL: remote}, env=env, work=work)


def _published(remote: Path, env: dict, commit: str, environment: str) -> dict[str, str]:
    prefix = f"deployments/{SYSTEM}/{environment}/"
    return {p[len(prefix):]: text for p, text in files_at(remote, commit, env).items() if p.startswith(prefix)}


def _live(kargo: Kargo, environment: str) -> dict[str, str]:
    return kargo.live(f"argocd/{SYSTEM}-{environment}")


def _isvc_version(files: dict[str, str]) -> str:
    return yaml.safe_load(files["inferenceservice-churn.yaml"])["metadata"]["annotations"]["mlspec.dev/model-version"]


@pytest.fixture
def walk(tmp_path: Path):
    """customer-churn with dev, staging and prod, published once to a fresh deployments repository."""
    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    (project / "specs" / f"{SYSTEM}.yaml").write_text(with_staging((SPECS / f"{SYSTEM}.yaml").read_text()))
    env = git_env(tmp_path / "home")
    remote = make_remote(tmp_path, env)
    assert run_mlspec("publish", "specs", "--repo", str(remote), cwd=project, env=env).returncode == 0
    return project, remote, env, _kargo(project, remote, env, tmp_path / "kargo")


def test_a_version_goes_live_in_each_environment_only_after_the_one_before_verified_it(walk):
    project, remote, env, kargo = walk
    assert kargo.discover()  # the first publish is Freight 0: the deployments repository's commit
    first = kargo.freight[0][REPO_URL]
    assert first == git(remote, "rev-parse", "main", env=env).strip()

    # Only dev takes Freight from the Warehouse; the others wait for the Stage before them.
    for later in ("staging", "prod"):
        with pytest.raises(PromotionFailed, match="not available"):
            kargo.promote(later, 0)
    kargo.promote("dev", 0)
    assert _live(kargo, "dev") == _published(remote, env, first, "dev")
    assert _isvc_version(_live(kargo, "dev")) == "2"
    # A failed analysis in dev keeps the version out of staging.
    assert kargo.verify("dev", passed=False) == [f"{SYSTEM}-churn-slo-dev"]
    with pytest.raises(PromotionFailed, match="not available"):
        kargo.promote("staging", 0)
    kargo.verify("dev", passed=True)
    kargo.promote("staging", 0)
    with pytest.raises(PromotionFailed, match="not available"):
        kargo.promote("prod", 0)
    assert kargo.verify("staging", passed=True) == [f"{SYSTEM}-churn-slo-staging"]
    outputs = kargo.promote("prod", 0)
    for name in ENVIRONMENTS:
        assert _live(kargo, name) == _published(remote, env, first, name)
    # What Argo CD deploys is the commit the prod Stage pushed to its own branch.
    assert outputs["push"] == {"branch": f"stage/{SYSTEM}/prod",
                               "commit": git(remote, "rev-parse", f"stage/{SYSTEM}/prod", env=env).strip()}
    assert git(remote, "log", "--format=%s", f"stage/{SYSTEM}/prod", env=env).splitlines() == [
        f"Promote deployments/{SYSTEM}/prod to prod from {first}", "Initial commit"]
    # The Stage's branch holds the environment's folder and nothing else.
    assert set(files_at(remote, f"stage/{SYSTEM}/prod", env)) == {
        f"deployments/{SYSTEM}/prod/{name}" for name in _published(remote, env, first, "prod")}

    # Version 3 is published, promoted in place (its analysis run goes): Freight 1.
    spec = project / "specs" / f"{SYSTEM}.yaml"
    text = spec.read_text()
    text = text.replace('modelVersion: "2"', 'modelVersion: "3"').replace("abc123", "def456")
    text = text.replace("      slo: churn-api\n", "      slo: churn-api\n      phase: promoted\n", 1)
    spec.write_text(text)
    assert run_mlspec("publish", "specs", "--repo", str(remote), cwd=project, env=env).returncode == 0
    assert kargo.discover()
    second = kargo.freight[1][REPO_URL]
    assert "analysisrun-churn.yaml" not in _published(remote, env, second, "dev")

    kargo.promote("dev", 1)
    assert _isvc_version(_live(kargo, "dev")) == "3"
    assert "analysisrun-churn.yaml" not in _live(kargo, "dev")  # git-clear: a file the commit dropped goes
    assert _isvc_version(_live(kargo, "staging")) == "2" and _isvc_version(_live(kargo, "prod")) == "2"
    with pytest.raises(PromotionFailed, match="not available"):
        kargo.promote("staging", 1)
    kargo.verify("dev", passed=True)
    kargo.promote("staging", 1)
    kargo.verify("staging", passed=True)
    kargo.promote("prod", 1)
    for name in ENVIRONMENTS:
        assert _live(kargo, name) == _published(remote, env, second, name)

    # Promoting again what a Stage already runs changes nothing (git-commit makes no commit).
    head = git(remote, "rev-parse", f"stage/{SYSTEM}/prod", env=env).strip()
    assert kargo.promote("prod", 1)["push"]["commit"] == head


def test_commits_that_leave_the_systems_folder_alone_make_no_freight(walk, tmp_path):
    project, remote, env, kargo = walk
    assert kargo.discover()
    seed = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(remote), str(seed), env=env)
    (seed / "deployments" / "another-system").mkdir(parents=True)
    (seed / "deployments" / "another-system" / "x.yaml").write_text("a: 1\n")
    (seed / "README.md").write_text("changed\n")
    git(seed, "add", "-A", env=env)
    git(seed, "commit", "--quiet", "-m", "another system", env=env)
    git(seed, "push", "--quiet", "origin", "HEAD:refs/heads/main", env=env)
    assert not kargo.discover()
    assert len(kargo.freight) == 1


def test_a_stage_may_sync_only_the_application_that_authorizes_it(walk):
    _, _, _, kargo = walk
    kargo.discover()
    # The dev Application names the dev Stage; swap it for prod's and Kargo's check refuses.
    dev, prod = f"argocd/{SYSTEM}-dev", f"argocd/{SYSTEM}-prod"
    kargo.applications[dev]["metadata"]["annotations"] = dict(kargo.applications[prod]["metadata"]["annotations"])
    with pytest.raises(PromotionFailed, match="does not permit mutation by Stage dev"):
        kargo.promote("dev", 0)
