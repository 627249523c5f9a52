"""The published JSON Schema: helpful in editors, and in agreement with the validator. (That the
committed file is fresh: tests/cli/test_schema_command.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import REPO, SPECS

SCHEMA_FILE = REPO / "schema" / "mlspec.schema.json"
INVALID = REPO / "tests" / "cases" / "invalid"
# Diagnostic codes for problems a JSON Schema can express: unknown/missing keys, wrong types,
# values outside an enum or range, header constants, and patterned names/durations.
SCHEMA_EXPRESSIBLE = {"E101", "E102", "E103", "E104", "E105", "E106", "E108", "E109"}


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_every_property_has_title_description_and_example():
    schema = json.loads(SCHEMA_FILE.read_text())
    missing = []
    for name, definition in [("<root>", schema), *schema["$defs"].items()]:
        for prop, body in definition.get("properties", {}).items():
            for key in ("title", "description", "examples"):
                if key not in body:
                    missing.append(f"{name}.{prop}: {key}")
    assert missing == []


@pytest.mark.parametrize("spec", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.name)
def test_schema_accepts_every_example_spec(validator, spec):
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(spec.read_text()))]
    assert errors == []


@pytest.mark.parametrize("spec", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.name)
def test_example_specs_carry_the_schema_modeline(spec):
    assert spec.read_text().startswith("# yaml-language-server: $schema=../schema/mlspec.schema.json\n")


def _schema_cases() -> list[Path]:
    cases = []
    for case in sorted(INVALID.iterdir()) if INVALID.is_dir() else []:
        expected = (case / "expected.txt").read_text(encoding="utf-8", errors="replace") \
            if (case / "expected.txt").exists() else ""
        codes = {line.split("[", 1)[1].split("]", 1)[0] for line in expected.splitlines() if line.startswith("error[")}
        # An environment's overrides are free-form in the schema: their values are checked by
        # mlspec on the overlaid spec, not by an editor.
        in_environment = "(in environment `" in expected
        if codes and codes <= SCHEMA_EXPRESSIBLE and not in_environment:
            cases.append(case)
    return cases


SCHEMA_CASES = _schema_cases()


def test_enough_corpus_cases_are_checked_against_the_schema():
    assert len(SCHEMA_CASES) >= 10


@pytest.mark.parametrize("case", SCHEMA_CASES, ids=lambda p: p.name)
def test_schema_rejects_corpus_cases_it_can_express(validator, case):
    document = yaml.safe_load((case / "spec.yaml").read_text())
    assert list(validator.iter_errors(document)), f"{case.name} passes the JSON Schema but mlspec rejects it"
