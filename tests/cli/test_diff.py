"""`mlspec diff`: what a spec change touches, against the generated tree on disk or the
deployments repository, as text, as a pull-request-ready Markdown comment, or as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import invoke_mlspec
from support.trees import snapshot
from support.git_repos import git_env, make_remote


@pytest.fixture
def project(compiled_project: Path) -> Path:
    """The example specs, compiled (once per session, copied for this test)."""
    return compiled_project


def _bump_replicas(project: Path) -> None:
    spec = project / "specs/customer-churn.yaml"
    spec.write_text(spec.read_text().replace("replicas: {min: 1, max: 5}", "replicas: {min: 1, max: 7}"))


def test_no_change_says_so_and_exit_code_stays_zero(project):
    result = invoke_mlspec("diff", "specs/customer-churn.yaml", "--exit-code", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("customer-churn: no changes")


def test_text_diff_against_disk_summarises_per_target_and_writes_nothing(project):
    _bump_replicas(project)
    before = snapshot(project / "generated")

    result = invoke_mlspec("diff", "specs/customer-churn.yaml", "--exit-code", cwd=project)

    assert result.returncode == 1  # --exit-code: there are changes
    lines = result.stdout.splitlines()
    # Only prod's InferenceService changes (dev overrides the replicas): one file, one object,
    # and the index; no other file names the spec's hash, so none shows up.
    assert lines[0].startswith("customer-churn: files 1 changed; Kubernetes objects 1 changed")
    (row,) = [line for line in lines if " / " in line]
    assert row.split() == ["prod", "/", "kserve", "files", "1", "changed;", "objects", "1", "changed"]
    assert "  manifest.json: the index records the new hashes" in lines
    assert "  changed  InferenceService models/customer-churn-churn  (k8s/prod/inferenceservice-churn.yaml)" in lines
    assert "-    maxReplicas: 5" in lines and "+    maxReplicas: 7" in lines
    assert [line for line in lines if line.startswith("--- a/")] == ["--- a/k8s/prod/inferenceservice-churn.yaml"]
    assert snapshot(project / "generated") == before


def test_markdown_against_the_deployments_repo_is_ready_for_a_pull_request(project, tmp_path):
    env = git_env(tmp_path / "home")
    remote = make_remote(tmp_path, env)
    assert invoke_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(remote), cwd=project,
                         env=env).returncode == 0
    assert invoke_mlspec("rollback", "churn", "--env", "prod", cwd=project).returncode == 0  # not published

    result = invoke_mlspec("diff", "specs/customer-churn.yaml", "--repo", str(remote), "--format", "markdown",
                           cwd=project, env={**env, "FORCE_COLOR": "1", "TERM": "xterm-256color"})

    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "\x1b" not in text
    assert text.startswith("## mlspec diff\n")
    # prod's InferenceService changes and its AnalysisRun goes away with the rollback; nothing
    # of dev changes, and the comment stays short enough to read
    assert "| prod | `kserve` | 1 changed | changed `InferenceService models/customer-churn-churn` |" in text
    assert "| prod | `rollout` | 1 removed | removed `AnalysisRun models/customer-churn-churn-v2` |" in text
    assert "| prod | `argocd` | 1 changed | none |" in text  # the kustomization lists one object less
    assert "| dev |" not in text
    assert text.count("<details>") == 3 and len(text.splitlines()) < 120
    section = text[text.index("<details><summary><code>deployments/customer-churn/prod/inferenceservice-churn.yaml"):]
    section = section[:section.index("</details>")]
    assert "```diff\n" in section and "+    canaryTrafficPercent: 0" in section
    assert text.count("<details>") == text.count("</details>")
    assert "changed `InferenceService models-dev/" not in text  # dev serves as before


def test_json_lists_files_and_objects(project):
    _bump_replicas(project)

    result = invoke_mlspec("diff", "specs/customer-churn.yaml", "--format", "json", cwd=project)

    data = json.loads(result.stdout)
    assert data["changed"] is True
    system = data["systems"][0]
    assert system["system"] == "customer-churn"
    assert {"id": "InferenceService models/customer-churn-churn", "status": "changed", "environment": "prod",
            "path": "k8s/prod/inferenceservice-churn.yaml", "target": "kserve"} in system["objects"]
    (row,) = system["summary"]
    assert (row["environment"], row["target"]) == ("prod", "kserve")
    assert row["objects"] == {"added": 0, "changed": 1, "removed": 0} and system["indexChanged"] is True

