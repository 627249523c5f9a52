"""The arguments each expectation takes in the spec (check/references.EXPECTATION_FIELDS) are
the ones Great Expectations 1.x declares for it: a suite written with every argument an
expectation takes loads in GX, and no argument the table refuses is one GX would accept. GX
refuses a whole suite for one unknown keyword, so this table is what keeps a suite loadable."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from mlspec.check.references import ARGUMENT_FIELDS, EXPECTATION_FIELDS
from mlspec.targets.great_expectations import KWARG_OF, KWARGS
from support.sample_specs import one_dataset

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

COLUMNS = {"a": {"type": "int64"}, "b": {"type": "string"}}
# A plausible value of each argument field, for column `a` (an int64) or the table.
SAMPLE = {"min": 0, "max": 100, "value": 2, "values": [1, 2, 3], "regex": "^[0-9]+$", "mostly": 0.9}


def _expectation(kind: str, fields) -> dict:
    column, _, _ = EXPECTATION_FIELDS[kind]
    written = {"expect": kind, **({"column": "a"} if column else {})}
    for field in fields:
        written[field] = ["a", "b"] if (kind, field) == ("table_columns_to_match_set", "values") else SAMPLE[field]
    return written


def _gx_class(kind: str):
    import great_expectations.expectations as gxe

    return getattr(gxe, "Expect" + "".join(part.capitalize() for part in kind.split("_")))


@pytest.mark.parametrize("kind", sorted(EXPECTATION_FIELDS))
def test_every_argument_an_expectation_takes_is_one_gx_declares_and_the_others_are_not(kind):
    import great_expectations as gx

    _, takes, _ = EXPECTATION_FIELDS[kind]
    _, _, suite = one_dataset(COLUMNS, [_expectation(kind, sorted(takes))])
    loaded = gx.ExpectationSuite(**suite)  # raises on a keyword the expectation's class does not declare
    written = loaded.expectations[-1]
    assert written.expectation_type == f"expect_{kind}"
    declared = set(_gx_class(kind).__fields__)
    kwarg = dict(KWARGS)
    for field in ARGUMENT_FIELDS:
        name = KWARG_OF.get((kind, field), kwarg[field])
        assert (name in declared) == (field in takes), (
            f"{kind}: GX {'declares' if name in declared else 'does not declare'} `{name}`, the spec field `{field}`")


def _run(suite: dict, frame: pd.DataFrame) -> list[str]:
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_pandas("t").add_dataframe_asset("f").add_batch_definition_whole_dataframe("all"))
    definition = context.validation_definitions.add(gx.ValidationDefinition(
        name="t", data=batch, suite=context.suites.add(gx.ExpectationSuite(**suite))))
    result = definition.run(batch_parameters={"dataframe": frame})
    return sorted(r.expectation_config.type for r in result.results if not r.success)


def test_the_exact_row_count_and_the_column_set_are_checked_on_data():
    _, _, suite = one_dataset(COLUMNS, [{"expect": "table_row_count_to_equal", "value": 3},
                                        {"expect": "table_columns_to_match_set", "values": ["a", "b"]},
                                        {"expect": "table_column_count_to_equal", "value": 2}])
    good = pd.DataFrame({"a": pd.Series([1, 2, 3], dtype="int64"), "b": ["x", "y", "z"]})
    assert _run(suite, good) == []
    extra_row = pd.DataFrame({"a": pd.Series([1, 2, 3, 4], dtype="int64"), "b": ["x", "y", "z", "w"]})
    assert _run(suite, extra_row) == ["expect_table_row_count_to_equal"]
    extra_column = good.assign(c=1.0)
    assert _run(suite, extra_column) == ["expect_table_column_count_to_equal", "expect_table_columns_to_match_set"]


def test_every_suite_of_the_corpus_specs_loads_in_gx(tmp_path):
    """Not only the examples: the suites of the specs nobody tuned the compiler to load in GX."""
    import json

    import great_expectations as gx

    from mlspec.compiler.compile import compile_spec
    from support.corpus import CORPUS

    loaded = 0
    for spec in CORPUS:
        result = compile_spec(spec, tmp_path / spec.stem)
        assert result.ok, spec
        for path, text in sorted(result.files.items()):
            if path.startswith("great_expectations/") and path.endswith(".json"):
                gx.ExpectationSuite(**json.loads(text))
                loaded += 1
    assert loaded >= len(CORPUS)
