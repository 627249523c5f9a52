"""`mlspec diff`: what a spec change touches, against the generated tree on disk or the
deployments repository, as text, as a pull-request-ready Markdown comment, or as JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import SPECS, run_mlspec
from support.trees import snapshot
from support.git_repos import git_env, make_remote


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(SPECS, root / "specs")
    run_mlspec("compile", "specs/customer-churn.yaml", cwd=root, check=True)
    return root



def _bump_replicas(project: Path) -> None:
    spec = project / "specs/customer-churn.yaml"
    spec.write_text(spec.read_text().replace("replicas: {min: 1, max: 5}", "replicas: {min: 1, max: 7}"))


def test_no_change_says_so_and_exit_code_stays_zero(project):
    result = run_mlspec("diff", "specs/customer-churn.yaml", "--exit-code", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("customer-churn: no changes")


def test_text_diff_against_disk_summarises_per_target_and_writes_nothing(project):
    _bump_replicas(project)
    before = snapshot(project / "generated")

    result = run_mlspec("diff", "specs/customer-churn.yaml", "--exit-code", cwd=project)

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
    assert run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(remote), cwd=project,
                      env=env).returncode == 0
    assert run_mlspec("rollback", "churn", "--env", "prod", cwd=project).returncode == 0  # not published

    result = run_mlspec("diff", "specs/customer-churn.yaml", "--repo", str(remote), "--format", "markdown",
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
    # the canary's decision job is suspended: nothing to decide after a rollback
    assert "| prod | `mlspec_operator` | 1 changed | changed `CronJob models/customer-churn-churn-decide` |" in text
    assert "| dev |" not in text
    assert text.count("<details>") == 4 and len(text.splitlines()) < 140
    section = text[text.index("<details><summary><code>deployments/customer-churn/prod/inferenceservice-churn.yaml"):]
    section = section[:section.index("</details>")]
    assert "```diff\n" in section and "+    canaryTrafficPercent: 0" in section
    assert text.count("<details>") == text.count("</details>")
    assert "changed `InferenceService models-dev/" not in text  # dev serves as before


def test_json_lists_files_and_objects(project):
    _bump_replicas(project)

    result = run_mlspec("diff", "specs/customer-churn.yaml", "--format", "json", cwd=project)

    data = json.loads(result.stdout)
    assert data["changed"] is True
    system = data["systems"][0]
    assert system["system"] == "customer-churn"
    assert {"id": "InferenceService models/customer-churn-churn", "status": "changed", "environment": "prod",
            "path": "k8s/prod/inferenceservice-churn.yaml", "target": "kserve"} in system["objects"]
    (row,) = system["summary"]
    assert (row["environment"], row["target"]) == ("prod", "kserve")
    assert row["objects"] == {"added": 0, "changed": 1, "removed": 0} and system["indexChanged"] is True


def test_markdown_fences_survive_files_that_contain_backticks():
    from mlspec.review.diff import FileChange, SystemDiff, render_markdown

    diff = SystemDiff("s", "specs/s.yaml", "generated/s",
                      files=[FileChange("docs/card.md", "changed", "model_card", "```\nold\n```\n", "```\nnew\n```\n")])

    text = render_markdown([diff])

    assert "````diff\n" in text and text.count("````") == 2


def test_an_object_without_a_manifest_entry_goes_to_the_target_that_declares_its_kind():
    """Files in the deployments repository carry no manifest: their objects' kinds say whose they are."""
    from mlspec.review.diff import _guess_target
    from mlspec.targets.registry import targets_by_kind

    assert targets_by_kind() == {
        "InferenceService": "kserve", "AnalysisTemplate": "rollout", "AnalysisRun": "rollout",
        "Experiment": "rollout", "Metric": "rollout", "Application": "argocd", "Kustomization": "argocd",
        **dict.fromkeys(("Deployment", "Service", "NetworkPolicy", "CronJob", "ServiceAccount", "Role",
                         "RoleBinding"), "mlspec_operator")}
    run = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisRun\nmetadata: {name: a, namespace: models}\n"
    assert _guess_target("x.yaml", run) == "rollout"
    assert _guess_target("x.yaml", "kind: ConfigMap\nmetadata: {name: c}\n") == "other"
    assert _guess_target("x.txt", "") == "other"


def test_names_from_committed_files_cannot_shape_the_comment():
    """A pull request controls the committed manifest and manifests: a target name that opens
    an HTML comment or ends the table, or a path with markup, stays inert text."""
    from mlspec.review.diff import FileChange, ObjectChange, SystemDiff, render_markdown

    hostile = "x` <!-- \n| All checks passed |"
    diff = SystemDiff("s", "specs/s.yaml", "generated/s",
                      files=[FileChange("k8s/<b>x</b>.yaml", "changed", hostile, "a\n", "b\n", "prod")],
                      objects=[ObjectChange(f"Kind ns/{hostile}", "changed", "k8s/<b>x</b>.yaml", hostile, "prod")])

    text = render_markdown([diff])
    import re

    text = re.sub(r"```diff\n.*?```", "", text, flags=re.S)  # fenced code shows markup as text

    # the comment opener only ever stands inside a code span, where Markdown shows it as text
    for line in text.splitlines():
        outside_code = line.split("`")[0::2]
        assert not any("<!--" in part for part in outside_code), line
    assert "<b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text
    assert all(line.count("|") - line.count("\\|") in (0, 5) for line in text.splitlines()
               if line.startswith("| prod"))
