"""The registry of diagnostic codes (`mlspec.diagnostics.codes`): every code is defined once
with a severity, a stage and a doc, every code the source reports is defined, and every
defined code is reported somewhere. (`mlspec codes`: tests/cli/test_codes.py.)"""

from __future__ import annotations

import re

from conftest import REPO
from mlspec.diagnostics import Diagnostic, Severity, codes

SRC = REPO / "src" / "mlspec"
CODE_LITERAL = re.compile(r"""["']([EW]\d{3})["']""")


def _codes_in_source() -> set[str]:
    found = set()
    for path in SRC.rglob("*.py"):
        if path == SRC / "diagnostics" / "codes.py":
            continue
        found |= set(CODE_LITERAL.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_code_is_defined_once_with_a_doc():
    ids = [code.id for code in codes._TABLE]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    for code in codes._TABLE:
        assert re.fullmatch(r"[EW]\d{3}", code.id)
        assert code.stage in codes.STAGES, code
        assert (code.severity is Severity.WARNING) == code.id.startswith("W"), code
        assert code.summary and len(code.doc) > 20, f"{code.id} needs a summary and a doc"


def test_every_reported_code_is_defined_and_every_defined_code_is_reported():
    used = _codes_in_source()
    assert used - set(codes.CODES) == set(), "reported but not defined in diagnostics/codes.py"
    assert set(codes.CODES) - used == set(), "defined but never reported"


def test_an_undefined_code_cannot_be_reported():
    try:
        Diagnostic("E999", "no such code", "spec.yaml")
    except KeyError:
        return
    raise AssertionError("a diagnostic with an unregistered code was created")


def test_a_diagnostic_takes_its_codes_severity():
    assert Diagnostic("W701", "caveat", "spec.yaml").severity is Severity.WARNING
    assert Diagnostic("E201", "unknown dataset", "spec.yaml").severity is Severity.ERROR
    assert codes.exit_code({"E604"}) == 2 and codes.exit_code({"E604", "E201"}) == 1
    assert codes.exit_code({"E902", "E201"}) == 3 and codes.exit_code(set()) == 0
