"""The invalid-spec corpus: every folder under tests/cases/invalid/ holds a `spec.yaml` that
`mlspec validate` must refuse, and an `expected.txt` with the exact diagnostics it prints.

Each case runs from inside its own folder with the relative path `spec.yaml`, so the
goldens show `spec.yaml:LINE:COL` rather than a machine's path. A case is added by
creating its folder with a spec.yaml and running `make update-goldens`; review the new
expected.txt like code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO
from goldens import assert_golden, updating
from mlspec.cli import cli
from mlspec.errors import ExitCode

EXIT_SPEC_ERRORS = ExitCode.SPEC_ERRORS

CASES_DIR = REPO / "tests" / "cases" / "invalid"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "spec.yaml").is_file())
# Diagnostics that concern the file as a whole and so have no line and column.
POSITIONLESS_CODES = {"E000", "E004"}


def validate_in_process(case_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """`mlspec validate --format human spec.yaml` run in-process from inside the case folder."""
    monkeypatch.chdir(case_dir)
    # stdout and stderr are kept apart (click >= 8.2); the human format writes to stderr.
    result = CliRunner(env={"NO_COLOR": "1"}).invoke(cli, ["validate", "--format", "human", "spec.yaml"])
    # CliRunner turns an escaped exception into exit code 1, which would pass for "spec errors".
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_corpus_is_large_enough():
    assert len(CASES) >= 40, f"the invalid corpus has {len(CASES)} cases; the acceptance bar is 40"


@pytest.mark.parametrize("name", CASES)
def test_invalid_spec_diagnostics(name: str, monkeypatch: pytest.MonkeyPatch):
    case_dir = CASES_DIR / name
    result = validate_in_process(case_dir, monkeypatch)
    output = result.output  # stdout and stderr as a terminal shows them
    assert "Traceback" not in output and "internal error" not in output, output
    assert result.exit_code == EXIT_SPEC_ERRORS, f"exit code {result.exit_code}, want 1:\n{output}"
    assert result.stdout == "", "the human format writes diagnostics to stderr only"
    assert_golden(output, case_dir / "expected.txt")


@pytest.mark.skipif(updating(), reason="checks the goldens, which are being rewritten")
@pytest.mark.parametrize("name", CASES)
def test_expected_file_points_into_the_spec(name: str):
    """Every golden reports at least one error, and every error says where it is."""
    lines = (CASES_DIR / name / "expected.txt").read_text(encoding="utf-8").splitlines()
    errors = [i for i, line in enumerate(lines) if re.match(r"^error\[E\d{3}\]: ", line)]
    assert errors, "no `error[E...]` line"
    for index in errors:
        code = lines[index][6:10]
        location = lines[index + 1] if index + 1 < len(lines) else ""
        pattern = r"^\s*--> spec\.yaml$" if code in POSITIONLESS_CODES else r"^\s*--> spec\.yaml:\d+:\d+$"
        assert re.match(pattern, location), f"{lines[index]!r} is followed by {location!r}, not a location"


@pytest.mark.parametrize("name", CASES)
def test_compile_refuses_with_exactly_what_validate_reports(name: str, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path):
    """One front end: what `validate` (and so the pre-commit hook) reports about a spec is
    exactly what `compile` reports before generating anything, environments included."""
    monkeypatch.chdir(CASES_DIR / name)
    runner = CliRunner(env={"NO_COLOR": "1"})
    validate = runner.invoke(cli, ["validate", "--format", "json", "spec.yaml"])
    compiled = runner.invoke(cli, ["compile", "--format", "json", "--out", str(tmp_path / "out"), "spec.yaml"])
    assert validate.exit_code == compiled.exit_code == EXIT_SPEC_ERRORS, compiled.output
    assert compiled.stdout == validate.stdout
    assert not (tmp_path / "out").exists(), "nothing is written when a spec has errors"
