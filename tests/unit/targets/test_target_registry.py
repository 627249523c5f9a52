"""The target registry in this process: `register` adds a target that compiles, and the
Kubernetes objects a registered target writes are deployed with the others. (A target installed
as a package, found through its entry point: tests/cli/test_target_plugins.py.)"""

from __future__ import annotations

from conftest import SPECS


def test_register_adds_a_target_in_process(tmp_path):
    from mlspec.compiler.compile import compile_spec
    from mlspec.targets import Target, available_targets, register, unregister

    class Echo(Target):
        name = "echo-test"
        description = "test"

        def generate(self, project):
            return [self.artifact("echo.txt", project.base.name + "\n")]

    register(Echo)
    try:
        assert "echo-test" in available_targets()
        result = compile_spec(SPECS / "minimal.yaml", tmp_path / "generated", targets=["echo-test"])
        assert result.ok and result.files["echo.txt"].endswith("web-events\n")
    finally:
        unregister("echo-test")
    assert "echo-test" not in available_targets()


def test_a_plugins_kubernetes_objects_are_deployed_with_the_others(tmp_path):
    """A deployable file a plugin writes under k8s/<env>/ is listed in that environment's
    kustomization, and the kind it declares is attributed to it."""
    import yaml

    from mlspec.compiler.compile import compile_spec
    from mlspec.targets import Target, dump_yaml, register, unregister
    from mlspec.targets.registry import targets_by_kind

    class Quota(Target):
        name = "quota-test"
        description = "test"
        kinds = ("ResourceQuota",)

        def generate(self, project):
            return [self.artifact(f"k8s/{env.name}/resourcequota.yaml",
                                  dump_yaml({"apiVersion": "v1", "kind": "ResourceQuota",
                                             "metadata": {"name": "models", "namespace": env.namespace}}),
                                  deployable=True, environment=env.name)
                    for env in project.environments]

    register(Quota)
    try:
        assert targets_by_kind()["ResourceQuota"] == "quota-test"
        result = compile_spec(SPECS / "customer-churn.yaml", tmp_path / "generated",
                              targets=["kserve", "rollout", "argocd", "quota-test"])
        assert result.ok, [d.message for d in result.diagnostics]
        for env in ("dev", "prod"):
            resources = yaml.safe_load(result.files[f"k8s/{env}/kustomization.yaml"])["resources"]
            assert resources == ["analysisrun-churn.yaml", "analysistemplate-churn.yaml", "churn-decide.yaml",
                                 "customer-churn-mlspec-decide-rbac.yaml", "customer-churn-mlspec-webhook.yaml",
                                 "inferenceservice-churn.yaml", "resourcequota.yaml"]
    finally:
        unregister("quota-test")
    assert "ResourceQuota" not in targets_by_kind()
