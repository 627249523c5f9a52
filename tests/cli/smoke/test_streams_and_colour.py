"""The real executable, `python -m mlspec`, in a subprocess: which stream the diagnostics go
to, the exit status, and colour only on a terminal. The CLI tests run in-process
(tests/cli/), so these keep them honest about what users see."""

from __future__ import annotations

import pytest

from conftest import REPO, run_mlspec
from goldens import updating
from mlspec.errors import ExitCode

EXIT_SPEC_ERRORS = ExitCode.SPEC_ERRORS
CASES_DIR = REPO / "tests" / "cases" / "invalid"


# A few cases of the invalid corpus through the real executable too, so the in-process runs of
# tests/cli/test_invalid_corpus.py cannot drift from what users see (stream choice, exit status).
@pytest.mark.skipif(updating(), reason="compares with the goldens, which are being rewritten")
@pytest.mark.parametrize("name", ["yaml-non-utf8-latin1", "yaml-alias-bomb", "ref-unknown-feature",
                                  "inject-model-name-newline"])
def test_subprocess_matches_golden(name: str):
    case_dir = CASES_DIR / name
    result = run_mlspec("validate", "--format", "human", "spec.yaml", cwd=case_dir)
    assert result.returncode == EXIT_SPEC_ERRORS, result.stderr
    assert result.stdout == ""
    assert result.stderr == (case_dir / "expected.txt").read_text(encoding="utf-8")


def test_colour_only_on_a_terminal_and_never_with_no_color():
    import os
    import shutil
    import subprocess
    import sys

    import pytest

    if shutil.which("script") is None:
        pytest.skip("util-linux `script` (a pseudo-terminal) is not installed")
    case = "tests/cases/invalid/ref-unknown-slo/spec.yaml"
    command = f"{sys.executable} -m mlspec validate {case}"
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    on_tty = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=REPO, env={**env, "TERM": "xterm"},
                            capture_output=True, text=True, timeout=120)
    assert "\x1b[1;31merror[E207]" in on_tty.stdout
    no_color = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=REPO,
                              env={**env, "TERM": "xterm", "NO_COLOR": "1"}, capture_output=True, text=True, timeout=120)
    assert "error[E207]" in no_color.stdout and "\x1b[" not in no_color.stdout


@pytest.mark.parametrize("args", [("lineage", "emit", "specs/customer-churn.yaml", "--file", "-"),
                                  ("validate", "specs", "--format", "json"), ("--help",)],
                         ids=["lineage-emit", "validate-json", "help"])
def test_a_reader_that_closes_the_pipe_ends_the_run_quietly_not_as_a_bug(args):
    """`mlspec lineage emit --file - | head`: the reader is gone before mlspec writes; mlspec
    stops quietly with exit 1 (click's own answer, for --help too), and never calls it an
    internal error (exit 3) with a traceback's worth of advice."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to stdout now fails with EPIPE
    try:
        result = subprocess.run([sys.executable, "-m", "mlspec", *args], cwd=REPO, stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (1, "")
