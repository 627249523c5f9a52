"""The diff renderings (mlspec.review.diff) on hand-made changes: Markdown fences that survive
backticks, and objects attributed to the target that declares their kind. (`mlspec diff`
itself: tests/cli/test_diff.py.)"""

from __future__ import annotations


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
        "Project": "kargo", "Warehouse": "kargo", "Stage": "kargo",
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
