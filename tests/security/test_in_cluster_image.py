"""The image of the pods that hold the git push credentials (the webhook and the decision
jobs of `deploy.operator`): named by digest in the spec and the manifests, and built from a
base image pinned by digest with hashed requirements."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO, run_mlspec

SPEC = "specs/customer-churn.yaml"
DIGEST_RE = re.compile(r"@sha256:[0-9a-f]{64}$")


def _set_image(project: Path, line: str | None) -> None:
    spec = project / SPEC
    text = spec.read_text()
    current = re.search(r"\n    image: ghcr\.io/myorg/mlspec:0\.1\.0@sha256:[0-9a-f]{64}\n", text)
    assert current, "the example spec pins its operator image"
    spec.write_text(text.replace(current.group(0), "\n" if line is None else f"\n    image: {line}\n"))


@pytest.mark.parametrize("image", ["ghcr.io/myorg/mlspec:0.1.0", "ghcr.io/myorg/mlspec:latest", None])
def test_an_operator_image_without_a_digest_is_refused(project, image):
    """Attack: whoever can push `ghcr.io/myorg/mlspec:0.1.0` (or a default tag) again runs
    their code in the pods that hold the git credentials, at their next start; with
    `IfNotPresent`, nodes even disagree on what runs. A tag without a digest, or no image,
    is a located E313 at validate, and compile writes nothing."""
    _set_image(project, image)

    validated = run_mlspec("validate", SPEC, cwd=project)
    compiled = run_mlspec("compile", SPEC, "--out", "generated", cwd=project)

    for result in (validated, compiled):
        assert result.returncode == 1, result.stdout + result.stderr
        assert "error[E313]" in result.stderr
        assert re.search(rf"--> {re.escape(SPEC)}:\d+:\d+", result.stderr)
    assert not (project / "generated").exists()


def test_the_operator_manifests_run_the_image_by_digest(compiled_examples):
    """Every container of the generated webhook Deployment and decision CronJobs names its
    image by digest, and pulls it only when the node lacks exactly that content."""
    containers = []
    for path in sorted((compiled_examples / "generated").glob("*/k8s/*/*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not document or document.get("kind") not in ("Deployment", "CronJob"):
                continue
            pod = document["spec"]["template"]["spec"] if document["kind"] == "Deployment" else \
                document["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            containers += pod.get("initContainers", []) + pod["containers"]
    assert containers
    for container in containers:
        assert DIGEST_RE.search(container["image"]), container
        assert container["imagePullPolicy"] == "IfNotPresent"


def test_the_image_is_built_from_a_base_pinned_by_digest_and_hashed_requirements():
    """The Dockerfile's base image is a digest, and pip installs only what the hashed
    requirements file names (`--require-hashes`), each pin with at least one hash."""
    text = (REPO / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert bases and all(DIGEST_RE.search(base) for base in bases), bases
    commands = [command.strip() for line in re.sub(r"\\\n\s*", " ", text).splitlines() for command in line.split("&&")]
    installs = [command for command in commands if "pip install" in command]
    # Requirements only with their hashes; mlspec itself from the build context, fetching nothing.
    assert len(installs) == 3, installs
    for command in installs:
        assert ("--require-hashes" in command and "--no-deps" in command) or \
            (command.endswith(" .") and "--no-index" in command and "--no-deps" in command), command
    for name in ("image.txt", "image-build.txt"):
        pins = re.sub(r"\\\n\s*", " ", (REPO / "constraints" / name).read_text())
        entries = [line for line in pins.splitlines() if line.strip() and not line.startswith("#")]
        assert len(entries) > 5
        for entry in entries:
            assert re.match(r"^[A-Za-z0-9_.-]+==\S+\s+--hash=sha256:[0-9a-f]{64}", entry), entry
