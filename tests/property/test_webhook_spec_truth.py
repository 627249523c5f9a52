"""The webhook keeps the spec repository the source of truth (issue 14).

Against real git repositories (a bare spec remote and a bare deployments remote on disk),
random sequences of what happens around a running receiver: MLflow alias events handled by
`Receiver.handle` (with --commit: edit, commit, push, publish), a person's spec edit pushed
from another clone (and published by the spec repository's CI), `mlspec publish` from
another clone between the receiver's steps, and events whose push or publish the server
refuses. (Publishes running at the same moment are the second test's subject.) After every step the deployments repository's HEAD
holds exactly what the spec remote's HEAD compiles to, and the version the last alias
event promoted is in the spec remote (a publish from the spec repository never reverts a
promotion). The registry is a loopback stand-in for MLflow's two REST endpoints, so the
receiver's real registry client runs.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from conftest import SPECS, invoke_mlspec
from support.fake_registry import fake_registry, storage_of
from support.git_repos import clone, files_at, git, git_env, make_remote

SPEC = "specs/customer-churn.yaml"
REGISTERED = "ChurnModel"  # models.churn.registry.name in specs/customer-churn.yaml
ALIAS = "champion"  # its registry.alias
SERVICE = "deployments/customer-churn/{env}/inferenceservice-churn.yaml"


def _event(version: str, name: str = REGISTERED, alias: str = ALIAS) -> dict:
    return {"entity": "model_version_alias", "action": "created", "timestamp": "2026-01-01T00:00:00Z",
            "data": {"name": name, "alias": alias, "version": version}}


class World:
    """A spec remote seeded with the example spec and its compiled output, a deployments
    remote holding its publish, and clones of the spec remote for receivers and people."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root, self.env = root, env
        root.mkdir(parents=True, exist_ok=True)
        self.specs = root / "specs.git"
        git(root, "init", "--quiet", "--bare", "-b", "main", str(self.specs), env=env)
        seed = clone(self.specs, root / "spec-seed", env)
        (seed / "specs").mkdir()
        shutil.copy(SPECS / "customer-churn.yaml", seed / SPEC)
        invoke_mlspec("compile", "specs", cwd=seed, check=True)
        git(seed, "add", "-A", env=env)
        git(seed, "commit", "--quiet", "-m", "the spec and its output", env=env)
        git(seed, "push", "--quiet", "origin", "HEAD:refs/heads/main", env=env)
        (root / "deployments").mkdir()
        self.deployments = make_remote(root / "deployments", env)
        self.person = clone(self.specs, root / "person", env)
        self.ci = clone(self.specs, root / "ci", env)  # the spec repository's CI: publishes what is pushed
        self.publish_from(self.ci)

    def checkout(self, name: str) -> Path:
        return clone(self.specs, self.root / name, self.env)

    def publish_from(self, checkout: Path) -> None:
        """`mlspec publish` from a clone of the spec remote, as the spec repository's CI does."""
        git(checkout, "pull", "--quiet", "--ff-only", env=self.env)
        invoke_mlspec("publish", "specs", "--repo", str(self.deployments), cwd=checkout, check=True)

    def person_edits(self, replicas: int) -> None:
        """A person changes the spec (serving.replicas.max, in every environment without an
        override), recompiles its output and pushes; the spec repository's CI publishes it."""
        git(self.person, "pull", "--quiet", "--ff-only", env=self.env)
        spec = self.person / SPEC
        text = spec.read_text()
        start = text.index("replicas: {min: 1, max: ")
        end = text.index("}", start)
        spec.write_text(text[:start] + f"replicas: {{min: 1, max: {replicas}" + text[end:])
        invoke_mlspec("compile", "specs", cwd=self.person, check=True)
        git(self.person, "add", "-A", env=self.env)
        if git(self.person, "status", "--porcelain", env=self.env).strip():
            git(self.person, "commit", "--quiet", "-m", f"replicas max {replicas}", env=self.env)
            git(self.person, "push", "--quiet", "origin", "HEAD:refs/heads/main", env=self.env)
        self.publish_from(self.ci)

    def spec_head_compiles_to(self) -> tuple[dict[str, str], tuple[str, ...]]:
        """What the spec remote's HEAD compiles to in the deployments repository: (files, owned folders)."""
        from mlspec.compiler.deployments import compile_plans

        scratch = Path(tempfile.mkdtemp(dir=self.root, prefix="scratch-"))
        try:
            checkout = clone(self.specs, scratch / "specs", self.env)
            plans, results = compile_plans([checkout / SPEC], checkout / "generated")
            assert plans is not None, [d.message for r in results for d in r.diagnostics]
            return ({p: t for plan in plans for p, t in plan.files.items()},
                    tuple(r for plan in plans for r in plan.roots))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def deployed(self, roots: tuple[str, ...]) -> dict[str, str]:
        return {path: text for path, text in files_at(self.deployments, "main", self.env).items()
                if path.startswith(tuple(r + "/" for r in roots))}

    def check_published_equals_spec_head(self) -> dict[str, str]:
        expected, roots = self.spec_head_compiles_to()
        deployed = self.deployed(roots)
        assert sorted(deployed) == sorted(expected), "the deployments repository holds other files than the spec's"
        different = [p for p in expected if deployed[p] != expected[p]]
        assert not different, f"the deployments repository differs from the spec remote's HEAD in {different}"
        return deployed

    def serving(self, deployed: dict[str, str], env: str) -> str:
        service = yaml.safe_load(deployed[SERVICE.format(env=env)])
        return service["spec"]["predictor"]["model"]["storageUri"]

    def refuse_pushes(self, remote: Path, message: str) -> Path:
        hook = remote / "hooks/pre-receive"
        hook.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
        hook.chmod(0o755)
        return hook


@pytest.fixture
def git_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """git in this process (the receiver's) and in the tests' git calls: hermetic config."""
    env = git_env(tmp_path / "home")
    for key in [k for k in list(__import__("os").environ) if k.startswith("GIT_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("GIT_"):
            monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def captured_log(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The receiver's log lines (mlspec.gitops.webhook.log), kept for the test to read."""
    import mlspec.gitops.webhook as webhook

    lines: list[str] = []
    original = webhook.log

    def keep(message: str) -> None:
        lines.append(message)
        original(message)

    monkeypatch.setattr(webhook, "log", keep)
    return lines


def _receiver(world: World, checkout: Path, env: str, tracking_uri: str):
    from mlspec.gitops.webhook import Receiver

    return Receiver([checkout / SPEC], env, str(world.deployments), out=str(checkout / "generated"),
                    tracking_uri=tracking_uri, commit=True)


def test_the_deployments_repository_always_holds_what_the_spec_remote_compiles_to(tmp_path, git_environment,
                                                                                   captured_log):
    with fake_registry() as tracking_uri:

        class Loop(RuleBasedStateMachine):
            def __init__(self):
                super().__init__()
                self.root = Path(tempfile.mkdtemp(dir=tmp_path, prefix="world-"))
                self.world = World(self.root, git_environment)
                self.checkout = self.world.checkout("webhook")
                self.receiver = _receiver(self.world, self.checkout, "prod", tracking_uri)
                self.promoted = None  # the version the last successful alias event promoted in prod

            def teardown(self):
                shutil.rmtree(self.root, ignore_errors=True)

            @rule(version=st.sampled_from(["3", "4", "5"]))
            def alias_event(self, version):
                status, message = self.receiver.handle(_event(version))
                assert status == 200, message
                self.promoted = version

            @rule(replicas=st.integers(min_value=2, max_value=9))
            def person_pushes_a_spec_edit(self, replicas):
                self.world.person_edits(replicas)

            @rule()
            def a_publish_from_another_clone(self):
                self.world.publish_from(self.world.ci)

            @rule(version=st.sampled_from(["6", "7"]))
            def alias_event_while_the_spec_remote_refuses_pushes(self, version):
                """The spec push fails: the spec commit is undone, nothing is published."""
                before = git(self.world.specs, "rev-parse", "main", env=git_environment)
                published = git(self.world.deployments, "rev-parse", "main", env=git_environment)
                hook = self.world.refuse_pushes(self.world.specs, "the spec repository is frozen")
                try:
                    status, message = self.receiver.handle(_event(version))
                finally:
                    hook.unlink()
                assert status == 422 and "frozen" in message, message
                assert git(self.world.specs, "rev-parse", "main", env=git_environment) == before
                assert git(self.world.deployments, "rev-parse", "main", env=git_environment) == published

            @rule(version=st.sampled_from(["8", "9"]))
            def alias_event_while_the_deployments_remote_refuses_pushes(self, version):
                """The spec commit is pushed, the publish fails: the log names the retry, which
                (run from the spec repository, as its CI would) publishes the promotion."""
                hook = self.world.refuse_pushes(self.world.deployments, "deployments are frozen")
                try:
                    del captured_log[:]
                    status, message = self.receiver.handle(_event(version))
                finally:
                    hook.unlink()
                if version == self.promoted:  # already in canary there: nothing to publish, nothing refused
                    assert status == 200, message
                    return
                assert status == 422 and "frozen" in message, message
                retry = [line for line in captured_log if "committed but not published" in line]
                assert retry and "mlspec publish" in retry[0], captured_log
                self.world.publish_from(self.world.ci)  # the retry the log names
                self.promoted = version

            @invariant()
            def deployments_hold_what_the_spec_remote_head_compiles_to(self):
                deployed = self.world.check_published_equals_spec_head()
                if self.promoted is not None:
                    assert self.world.serving(deployed, "prod") == storage_of(REGISTERED, self.promoted)

            @invariant()
            def the_receivers_checkout_is_clean(self):
                assert git(self.checkout, "status", "--porcelain", env=git_environment).strip() == ""

        run_state_machine_as_test(Loop, settings=settings(
            max_examples=8, stateful_step_count=5, deadline=None, derandomize=False,
            suppress_health_check=list(HealthCheck)))


def test_two_receivers_promoting_at_the_same_moment_both_land(tmp_path, git_environment):
    """Two receivers in two checkouts of the same spec remote (one promoting in dev, the other
    in prod: two edits of the same spec file) get their alias events at the same moment; both
    promotions end up in the spec remote and in the deployments repository, whichever push
    loses the race (it is rebased and retried)."""
    with fake_registry() as tracking_uri:
        world = World(tmp_path / "world", git_environment)
        receivers = {env: _receiver(world, world.checkout(f"webhook-{env}"), env, tracking_uri)
                     for env in ("dev", "prod")}
        for round_, (dev, prod) in enumerate([("11", "21"), ("12", "22"), ("13", "23")]):
            start = threading.Barrier(2)
            answers: dict[str, tuple[int, str]] = {}

            def deliver(env: str, version: str) -> None:
                start.wait()
                answers[env] = receivers[env].handle(_event(version))

            threads = [threading.Thread(target=deliver, args=("dev", dev)),
                       threading.Thread(target=deliver, args=("prod", prod))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            assert answers == {"dev": (200, f"promoted churn version {dev} in dev"),
                               "prod": (200, f"promoted churn version {prod} in prod")}, (round_, answers)
            deployed = world.check_published_equals_spec_head()
            assert world.serving(deployed, "dev") == storage_of(REGISTERED, dev)
            assert world.serving(deployed, "prod") == storage_of(REGISTERED, prod)
