"""Property tests on the front end: whatever a user (or an attacker) writes, mlspec answers
with a spec or with diagnostics, never with an uncaught exception."""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SPECS
from pathlib import Path

from mlspec.compiler.session import load_text
from mlspec.diagnostics import Diagnostic

EXAMPLES = {p.name: yaml.safe_load(p.read_text()) for p in sorted(SPECS.glob("*.yaml"))}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_front_end(text: str) -> list[Diagnostic]:
    """The whole front end, environments and resolve included, as every command runs it."""
    unit = load_text(Path("fuzz.yaml"), text)
    if unit.project is None:
        assert unit.has_errors, "a rejected document must say why"
    for d in unit.diagnostics:
        assert d.code and d.message and d.file == "fuzz.yaml"
    return unit.diagnostics


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False),
                    st.text(max_size=30))
documents = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=5)), max_leaves=25)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#\t\n ,?%@`01.") + ["\u00e9", "\x00", "\ufeff"]),
               max_size=200))
def test_arbitrary_text_gives_a_spec_or_diagnostics(text):
    run_front_end(text)


@FUZZ
@given(documents)
def test_arbitrary_yaml_documents_give_a_spec_or_diagnostics(document):
    run_front_end(yaml.safe_dump(document))


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


@st.composite
def mutated_examples(draw):
    name = draw(st.sampled_from(sorted(EXAMPLES)))
    document = copy.deepcopy(EXAMPLES[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(document) if p]
        path = draw(st.sampled_from(paths))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "rename", "duplicate-into"]))
        last = path[-1]
        if action == "replace":
            parent[last] = draw(documents)
        elif action == "delete":
            del parent[last]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = parent.pop(last)
        elif action == "duplicate-into" and isinstance(parent, dict):
            parent[last] = copy.deepcopy(document.get("metadata"))
    return document


@FUZZ
@given(mutated_examples())
def test_mutated_example_specs_give_a_spec_or_diagnostics(document):
    run_front_end(yaml.safe_dump(document, sort_keys=False))


def test_deeply_nested_and_huge_documents_are_bounded():
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    assert run_front_end(deep)[0].code in ("E009", "E001")
    wide = "apiVersion: mlspec/v1alpha1\nkind: MLSystem\nmetadata: {name: x}\nlabels:\n" + "".join(
        f"  k{i}: v\n" for i in range(50_000))
    assert any(d.code == "E101" for d in run_front_end(wide))
