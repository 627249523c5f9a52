"""Fixtures shared by the whole suite: repository paths, the CLI, and CRD validators.

The suite is layered by folder, and each folder's tests get its marker here, so
`pytest -m unit`, `-m "cli and not smoke"` or `-m "not integration"` pick a layer:

    tests/unit/<stage>/     one stage of the compiler, in this process         unit
    tests/cli/              each command in this process (CliRunner)           cli
    tests/cli/smoke/        the real `python -m mlspec` executable             cli, smoke
    tests/property/         hypothesis property and fuzz tests                 property
    tests/integration/<tool>/  generated files with the real tools             integration
    tests/security/         the security layer                                 security

`slow` (a real tool end to end, minutes) is marked by hand and cuts across layers. Every
folder under these is a package (`__init__.py`), so test module names need not be unique.
Shared helpers live in tests/support/, goldens.py and golden_tree.py; tests/ is on sys.path
(pyproject's `pythonpath`), so `from conftest import REPO` works from any folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# The key that authenticates the result cache's entries (mlspec/integrity.py) is this
# session's own, never the developer's ~/.config/mlspec/cache.key.
os.environ["MLSPEC_CACHE_KEY"] = os.path.join(tempfile.mkdtemp(prefix="mlspec-test-key-"), "cache.key")

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
VENDOR = REPO / "vendor"  # upstream schemas the tests validate against (vendor/README.md)
SPECS = REPO / "specs"


def invoke_mlspec(*args: str, cwd: Path | None = None, env: dict | None = None,
                  check: bool = False) -> subprocess.CompletedProcess:
    """Run the CLI in this process through click's CliRunner, from `cwd` (the repository by
    default) with `env` over the environment: what `run_mlspec` gives (returncode, stdout,
    stderr, kept apart), without starting an interpreter. For every test of what a command
    does; a test about the process itself (signals, a lock between two processes, what a fresh
    interpreter imports, the installed entry point) uses `run_mlspec`."""
    from click.testing import CliRunner

    from mlspec.cli import cli

    runner = CliRunner(env={"NO_COLOR": "1", **(env or {})})  # click >= 8.2 keeps stderr apart
    previous = os.getcwd()
    os.chdir(cwd or REPO)
    try:
        result = runner.invoke(cli, list(args), prog_name="mlspec")
    finally:
        os.chdir(previous)
    # CliRunner turns an escaped exception into exit code 1, which would pass for "spec errors".
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    completed = subprocess.CompletedProcess(["mlspec", *args], result.exit_code, result.stdout, result.stderr)
    if check and completed.returncode != 0:
        raise AssertionError(f"mlspec {' '.join(args)} exited {completed.returncode}:\n"
                             f"{completed.stdout}\n{completed.stderr}")
    return completed


def run_mlspec(*args: str, cwd: Path | None = None, env: dict | None = None,
               check: bool = False) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess (as users and CI do): for tests about the process."""
    merged = {**os.environ, "NO_COLOR": "1", **(env or {})}
    result = subprocess.run([sys.executable, "-m", "mlspec", *args], cwd=cwd or REPO, env=merged,
                            capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"mlspec {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def compiled_examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder holding a copy of specs/ and the generated/ that `mlspec compile specs`
    writes from it, compiled once per session. Read it only: a test that changes the project
    takes `compiled_project`, its own copy."""
    root = tmp_path_factory.mktemp("compiled-examples")
    shutil.copytree(SPECS, root / "specs")
    cache = tmp_path_factory.mktemp("compiled-examples-cache")  # no test's cache folder
    invoke_mlspec("compile", "specs", cwd=root, env={"MLSPEC_CACHE_DIR": str(cache)}, check=True)
    return root


@pytest.fixture
def compiled_project(compiled_examples: Path, tmp_path: Path) -> Path:
    """tmp_path/project: a fresh copy of the compiled example project (specs/ and generated/),
    for a test that edits a spec or the output of a compile it did not have to run itself."""
    root = tmp_path / "project"
    shutil.copytree(compiled_examples, root, symlinks=True)
    return root


@pytest.fixture(scope="session")
def vendor_dir() -> Path:
    """vendor/: the strict CRD schemas (crds/) and other upstream schemas (schemas/), kept in the
    repository with their provenance, so a clone needs nothing beside it."""
    return VENDOR


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """mlspec's result cache (mlspec/compiler/cache.py) in a folder of this test's own, so a test
    neither reads a developer's cache nor what an earlier test left (order never matters), and
    the CLI it runs, in this process or a child, sees the same folder. (Not under tmp_path, which
    some tests expect to hold only what the command under test wrote.)"""
    folder = tmp_path_factory.mktemp("mlspec-cache")
    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(folder))
    # The jinja2 environment is built once per process and keeps compiled templates in the
    # cache folder it was built with: build it again for this test's folder.
    templating = sys.modules.get("mlspec.targets.templating")
    if templating is not None:
        templating.environment.cache_clear()
    return folder


# Top-level folder under tests/ -> the marker of its layer; a test module elsewhere is an error.
LAYERS = {"unit": "unit", "cli": "cli", "property": "property", "integration": "integration", "security": "security"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            parts = item.path.resolve().relative_to(TESTS).parts
        except ValueError:
            continue  # a test outside tests/, named on the command line
        layer = LAYERS.get(parts[0]) if len(parts) > 1 else None
        if layer is None:
            raise pytest.UsageError(f"{item.path} is in no layer folder: move it under tests/<layer>/, "
                                    f"one of {', '.join(sorted(LAYERS))} (see tests/conftest.py)")
        item.add_marker(layer)
        if parts[:2] == ("cli", "smoke"):
            item.add_marker("smoke")
    if getattr(config.option, "dist", "no") != "no":  # under pytest-xdist (`-n`)
        _schedule_for_xdist(items)


def _schedule_for_xdist(items: list[pytest.Item]) -> None:
    """How `make test` shares the suite between pytest-xdist's workers (`--dist loadgroup`).

    A module is one unit, run by one worker, so its module-scoped fixtures (a compiled
    corpus, a server) are built once. A slow parametrized test (a whole local run per spec)
    is a unit per case instead, so the long runs are shared between the workers. Units are
    handed out in order, so the ones holding slow tests go first: the run does not end with
    one worker on a long tail while the other idles."""
    def group(index: int, item: pytest.Item) -> str:
        # xdist reads the group after the last `@` of a node id that ends in no `]`: a
        # group name holds neither (a case's id may hold both).
        module = item.nodeid.split("::", 1)[0].replace("@", "_").replace("]", "_")
        if item.get_closest_marker("slow") and getattr(item, "callspec", None) is not None:
            return f"{module}#{index}"
        return module

    groups = [group(index, item) for index, item in enumerate(items)]
    first: dict[str, int] = {}
    slow: set[str] = set()
    for index, (item, name) in enumerate(zip(items, groups)):
        first.setdefault(name, index)
        if item.get_closest_marker("slow"):
            slow.add(name)
        item.add_marker(pytest.mark.xdist_group(name))
    order = sorted(range(len(items)), key=lambda i: (groups[i] not in slow, first[groups[i]], i))
    items[:] = [items[i] for i in order]
