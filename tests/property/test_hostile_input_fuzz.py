"""Random and damaged documents through the front end: whatever arrives, `mlspec validate`
answers with diagnostics, never a crash. (Hand-made hostile input:
tests/unit/source/test_hostile_input.py.)"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SPECS
from support.hostile import front_end
from support.mangle import mangled_spec
from mlspec.source.loader import load_spec_text

SPEC_KEYS = ["apiVersion", "kind", "metadata", "name", "datasets", "columns", "type", "models", "features",
             "label", "training", "estimator", "serving", "replicas", "min", "max", "rollout", "slo", "slos",
             "environments", "namespace", "featureViews", "entities", "joinKeys", "source", "password"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(SPEC_KEYS + ["customers.churn", "@daily", "1d"]))
keys = st.one_of(st.sampled_from(SPEC_KEYS), st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=5)), max_leaves=30)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.dictionaries(keys, values, max_size=8))
def test_random_documents_give_diagnostics_not_crashes(document: dict):
    # JSON is YAML, so any JSON value is a document the loader must handle.
    body = json.dumps({"apiVersion": "mlspec/v1alpha1", "kind": "MLSystem", **document})
    front_end(body.encode())


def _paths(value, prefix=()):
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _paths(item, prefix + (key,))


@FUZZ
@given(st.data())
def test_example_specs_with_a_value_replaced_give_diagnostics_not_crashes(data: st.DataObject):
    # Reach the later stages (checks, cross-references) by keeping the rest of a valid spec.
    source, _ = load_spec_text((SPECS / "customer-churn.yaml").read_text(), "spec.yaml")
    document = source.data
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(sorted((p for p in _paths(document) if p), key=repr)))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            parent[data.draw(keys)] = parent.pop(path[-1])  # rename the key
        else:
            parent[path[-1]] = data.draw(values)
    front_end(json.dumps(document).encode())


@FUZZ
@given(st.data())
def test_mangled_example_specs_give_diagnostics_not_crashes(data: st.DataObject):
    # Damage a valid spec line by line: delete, duplicate, re-indent or splice in text.
    text = mangled_spec(data, SPECS, max_edits=4, indents=[" ", "\t", "  - "], splice=st.text(max_size=6))
    front_end(text.encode("utf-8", "surrogatepass"))
