"""Nothing in a spec is silently ignored.

Every value the example specs, `tests/cases/spec/every-field.yaml` (which writes every field of
the spec language at least once) and the realistic specs of tests/cases/spec/ write is changed, one at a time, and the spec
compiled again (`mlspec.review.feeds`): some generated file must change, or any other value
must be refused."""

from __future__ import annotations


import pytest

from conftest import REPO, SPECS
from mlspec.compiler.session import load_unit
from mlspec.review.feeds import files_fed_by

EVERY_FIELD = REPO / "tests/cases/spec/every-field.yaml"
RECOMMENDER = REPO / "tests/cases/spec/recommender.yaml"  # a ranking model: `group`
SPEC_FILES = [*sorted(SPECS.glob("*.yaml")), EVERY_FIELD, RECOMMENDER]


def _leaves(data, path=()):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _leaves(value, path + (index,))
    elif data is not None:
        yield path


def test_the_every_field_spec_writes_every_field_of_the_language():
    """Each field of the schema is written by one of the specs the next test walks."""
    import json
    import yaml

    schema = json.loads((REPO / "schema/mlspec.schema.json").read_text())
    written: set[tuple] = set()
    for spec in SPEC_FILES:
        written |= {_schema_path(schema, path) for path in _leaves(yaml.safe_load(spec.read_text()))}
    missing = sorted(".".join(p) for p in _all_fields(schema, schema) if not any(w[:len(p)] == p for w in written))
    assert missing == [], f"write these fields in {EVERY_FIELD.name}: {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.name)
def test_every_written_value_feeds_a_generated_file_or_is_checked(spec):
    unit = load_unit(spec)
    assert unit.ok, [d.message for d in unit.diagnostics]
    ignored = []
    for path in _leaves(unit.source.data):
        if path[:1] in (("apiVersion",), ("kind",)):
            continue  # fixed words: nothing else is allowed
        feeds = files_fed_by(unit, path)
        if feeds is not None and not feeds.used:
            ignored.append(".".join(map(str, path)))
    assert ignored == [], f"changing these values changes no generated file: {ignored}"


# --- walking the schema ------------------------------------------------------------------------


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _all_fields(schema: dict, node: dict, path: tuple = ()):
    node = _resolve(schema, node)
    for option in node.get("anyOf", []):
        if option.get("type") != "null":
            yield from _all_fields(schema, option, path)
    properties = node.get("properties")
    if properties:
        for key, child in properties.items():
            yield from _all_fields(schema, child, path + (key,))
        return
    if isinstance(node.get("additionalProperties"), dict) and node["additionalProperties"]:
        yield from _all_fields(schema, node["additionalProperties"], path + ("*",))
        return
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        yield from _all_fields(schema, node["items"], path + ("[]",))
        return
    if path and not node.get("anyOf"):
        yield path


def _schema_path(schema: dict, path: tuple) -> tuple:
    """A document path with map keys and list indexes as the schema names them (`*`, `[]`)."""
    node, out = schema, []
    for part in path:
        node = _resolve(schema, node)
        options = [node] + [_resolve(schema, o) for o in node.get("anyOf", []) if o.get("type") != "null"]
        step = None
        for option in options:
            if isinstance(part, int) and option.get("type") == "array":
                step, node = "[]", option.get("items", {})
                break
            if part in option.get("properties", {}):
                step, node = part, option["properties"][part]
                break
            if isinstance(option.get("additionalProperties"), dict):
                step, node = "*", option["additionalProperties"]
                break
        if step is None:
            break
        out.append(step)
    return tuple(out)

