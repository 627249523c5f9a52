"""Spec file names and paths are written by whoever opens the pull request. The front-end
fuzzers (tests/test_frontend_fuzz.py, tests/test_hostile_input.py) generate spec contents;
this one generates the names: line breaks, control and escape characters, `..`, a leading
`-`, names at the file system's length limit, bytes that are not UTF-8. Whatever the
name, `mlspec validate` and `mlspec compile` answer with diagnostics or a usage error,
never a traceback, and write nothing outside the output folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import SPECS
from support.trees import tree_state

SPEC_TEXT = (SPECS / "minimal.yaml").read_text()
FUZZ = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters a name may hold (all but `/` and NUL, which no file name can), weighted
# towards the ones that break things.
hostile_chars = st.one_of(
    st.sampled_from(list("\n\r\t\x1b\x07\x08\x7f\x85\u2028\u202e -.:*?[]!@{}'\"`$;|&<>%\\#~")),
    st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)),
)
plain = st.text(alphabet="abcxyz019_", min_size=1, max_size=8)
segment = st.one_of(
    st.text(alphabet=hostile_chars, min_size=1, max_size=12),
    st.sampled_from(["..", ".", "-", "--force", "-x", ".git", ".mlspec-new-web-events.1", "generated",
                     ":!nothing", "~"]),
    st.builds(lambda n: "n" * n, st.integers(200, 260)),  # at and past NAME_MAX
    st.builds(lambda b: os.fsdecode(b), st.binary(min_size=1, max_size=6).filter(
        lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b".."))),  # not UTF-8
    plain,
)


@st.composite
def spec_paths(draw) -> list[str]:
    """A path under specs/: folders then a file name, often ending in .yaml."""
    parts = draw(st.lists(segment, min_size=0, max_size=2)) + [draw(segment)]
    if draw(st.booleans()):
        parts[-1] += draw(st.sampled_from([".yaml", ".yml"]))
    return parts


def _run(cwd: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlspec", *args], cwd=cwd, capture_output=True, timeout=300,
                          env={**os.environ, "NO_COLOR": "1"})


def _place(project: Path, parts: list[str]) -> Path | None:
    """Write the spec at specs/<parts>, or None when the file system refuses the name or
    the path would leave specs/ (`..` past its top)."""
    relative = Path(*parts)
    depth = 0
    for part in parts[:-1]:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return None
    if parts[-1] in (".", ".."):
        return None
    target = project / "specs" / relative
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(SPEC_TEXT)
    except (OSError, UnicodeEncodeError, ValueError):
        return None
    return target


@FUZZ
@given(spec_paths())
def test_hostile_spec_file_names_get_diagnostics_or_usage_errors_and_write_only_the_output(parts):
    with tempfile.TemporaryDirectory(prefix="mlspec-names-") as tmp:
        root = Path(tmp)
        project = root / "project"
        (project / "specs").mkdir(parents=True)
        spec = _place(project, parts)
        assume(spec is not None)
        before = tree_state(root)

        named = os.fsencode(spec.relative_to(project))
        results = [_run(project, "validate", named), _run(project, "validate", "specs"),
                   _run(project, "compile", "specs"), _run(project, "compile", named, "--check")]

        for result in results:
            assert result.returncode in (0, 1, 2), result.stderr.decode(errors="replace")
            assert b"Traceback" not in result.stderr and b"internal error" not in result.stderr, result.stderr
            assert b"\x1b" not in result.stdout + result.stderr
        after = {path: value for path, value in tree_state(root).items()
                 if not path.startswith("project/generated/") and path != "project/generated"}
        assert after == before, "a command wrote outside the output folder"
        generated = project / "generated"
        if generated.exists():
            for path in generated.rglob("*"):
                assert generated in path.resolve().parents or path.resolve() == generated
        shutil.rmtree(root, ignore_errors=True)
