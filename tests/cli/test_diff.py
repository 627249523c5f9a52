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
    kserve = next(line for line in lines if line.strip().startswith("kserve "))
    # both files change (their header names the new spec hash) but only prod's object does:
    # dev overrides the replicas
    assert "files   0 added   1 changed   0 removed" in kserve
    assert any(line.endswith("changed only in the header that names the spec's sha256.") for line in lines)
    assert "objects   0 added   1 changed   0 removed" in kserve
    assert "  changed  InferenceService models/customer-churn-churn  (k8s/prod/inferenceservice-churn.yaml)" in lines
    assert "-    maxReplicas: 5" in lines and "+    maxReplicas: 7" in lines
    assert "--- a/k8s/prod/inferenceservice-churn.yaml" in lines
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
    # every file's header names the new spec hash, but only prod's InferenceService changes:
    # the others are summed up in one line instead of listed
    assert "| `kserve` | 0 | 1 | 0 | 0 | 1 | 0 |" in text
    assert "5 more files changed only in the header that names the spec's sha256." in text
    # prod's AnalysisRun goes away with the rollback
    assert "| `rollout` | 0 | 0 | 1 | 0 | 0 | 1 |" in text
    assert "- removed `AnalysisRun models/customer-churn-churn-v2`" in text
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
    assert {"id": "InferenceService models/customer-churn-churn", "status": "changed",
            "path": "k8s/prod/inferenceservice-churn.yaml", "target": "kserve"} in system["objects"]
    assert system["summary"]["kserve"]["objects"] == {"added": 0, "changed": 1, "removed": 0}
