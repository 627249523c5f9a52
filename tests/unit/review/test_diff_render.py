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
        "Experiment": "rollout", "Metric": "rollout", "Application": "argocd", "Kustomization": "argocd"}
    run = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisRun\nmetadata: {name: a, namespace: models}\n"
    assert _guess_target("x.yaml", run) == "rollout"
    assert _guess_target("x.yaml", "kind: ConfigMap\nmetadata: {name: c}\n") == "other"
    assert _guess_target("x.txt", "") == "other"
