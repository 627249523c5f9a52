"""The local run's sample data honours every rule a spec can state about a column: each type
over its whole range (unbounded floats and integers of every width included), bounds, value
sets, regexes, uniqueness, nulls, lengths, statistics and row counts. Each case runs the
Great Expectations suite the compiler writes for the spec on the sample, with GX itself."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mlspec.local.synth import synthesize
from mlspec.runtime.airflow_tasks import validate_frame
from support.sample_specs import one_dataset

ROWS = 120

CASES = {
    # every type, unbounded
    **{f"{t} unbounded": ({"x": {"type": t}}, []) for t in
       ("int8", "int16", "int32", "int64", "float32", "float64", "bool", "string", "timestamp", "bytes")},
    # every type, not nullable and unique
    **{f"{t} unique": ({"x": {"type": t, "nullable": False, "unique": True}}, []) for t in
       ("int8", "int16", "int32", "int64", "float32", "float64", "string", "timestamp", "bytes")},
    # bounds: one side, both, far from zero, at a type's edge, float32 rounding
    "float32 min only": ({"x": {"type": "float32", "min": 5}}, []),
    "float32 max only": ({"x": {"type": "float32", "max": -1e30}}, []),
    "float32 rounding": ({"x": {"type": "float32", "min": 0.1, "max": 0.3}}, []),
    "float32 a single value": ({"x": {"type": "float32", "min": 0.5, "max": 0.5}}, []),
    "float64 huge": ({"x": {"type": "float64", "min": -1e300, "max": 1e300}}, []),
    "int64 far below zero": ({"x": {"type": "int64", "min": -3_000_000, "max": -2_000_000}}, []),
    "int64 at its top": ({"x": {"type": "int64", "min": 2**62}}, []),
    "int8 at its bottom": ({"x": {"type": "int8", "max": -120}}, []),
    "int8 unique in bounds": ({"x": {"type": "int8", "min": -128, "max": 127, "unique": True}}, []),
    "timestamp in a past month": ({"x": {"type": "timestamp", "min": "2020-01-01", "max": "2020-02-01"}}, []),
    "timestamp in the future": ({"x": {"type": "timestamp", "min": "2090-01-01T00:00:00Z"}}, []),
    "timestamp before a date": ({"x": {"type": "timestamp", "max": "2001-09-09"}}, []),
    # value sets
    "in int": ({"x": {"type": "int32", "in": [3, 5, 8]}}, []),
    "in string": ({"x": {"type": "string", "in": ["a", "b"]}}, []),
    "in bool": ({"x": {"type": "bool", "in": [True]}}, []),
    "in set, expectation": ({"x": {"type": "string"}}, [{"expect": "column_values_to_be_in_set", "column": "x",
                                                         "values": ["p", "q"]}]),
    "distinct in set": ({"x": {"type": "int16"}}, [{"expect": "column_distinct_values_to_be_in_set", "column": "x",
                                                    "values": [1, 2, 3]}]),
    "not in set, numbers": ({"x": {"type": "int8", "min": 0, "max": 3}},
                            [{"expect": "column_values_to_not_be_in_set", "column": "x", "values": [0, 1]}]),
    "not in set, strings": ({"x": {"type": "string", "in": ["a", "b", "c"]}},
                            [{"expect": "column_values_to_not_be_in_set", "column": "x", "values": ["a"]}]),
    # regexes
    "regex": ({"x": {"type": "string"}}, [{"expect": "column_values_to_match_regex", "column": "x",
                                           "regex": r"^[A-Z]{2}-\d{3}$"}]),
    "regex unique": ({"x": {"type": "string", "unique": True}},
                     [{"expect": "column_values_to_match_regex", "column": "x", "regex": r"^id-[a-f0-9]{8}$"}]),
    "not regex": ({"x": {"type": "string"}}, [{"expect": "column_values_to_not_match_regex", "column": "x",
                                               "regex": "^x"}]),
    "not regex on letters": ({"x": {"type": "string"}}, [{"expect": "column_values_to_not_match_regex",
                                                          "column": "x", "regex": "[a-z]"}]),
    # nulls, uniqueness, lengths
    "not null": ({"x": {"type": "float64", "nullable": False}},
                 [{"expect": "column_values_to_not_be_null", "column": "x"}]),
    "all null": ({"x": {"type": "float64"}}, [{"expect": "column_values_to_be_null", "column": "x"}]),
    "all null string": ({"x": {"type": "string"}}, [{"expect": "column_values_to_be_null", "column": "x"}]),
    "unique, expectation": ({"x": {"type": "int32"}}, [{"expect": "column_values_to_be_unique", "column": "x"}]),
    "lengths": ({"x": {"type": "string", "unique": True}},
                [{"expect": "column_value_lengths_to_be_between", "column": "x", "min": 4, "max": 5}]),
    "long strings": ({"x": {"type": "string"}},
                     [{"expect": "column_value_lengths_to_be_between", "column": "x", "min": 40}]),
    "unique value count": ({"x": {"type": "string"}},
                           [{"expect": "column_unique_value_count_to_be_between", "column": "x", "min": 30,
                             "max": 40}]),
    "unique value count, numbers": ({"x": {"type": "float64"}},
                                    [{"expect": "column_unique_value_count_to_be_between", "column": "x", "max": 3}]),
    "proportion of unique": ({"x": {"type": "int64"}},
                             [{"expect": "column_proportion_of_unique_values_to_be_between", "column": "x",
                               "min": 0.5, "max": 0.6}]),
    # statistics
    "mean": ({"x": {"type": "float64"}}, [{"expect": "column_mean_to_be_between", "column": "x",
                                           "min": 1000, "max": 1001}]),
    "median and min": ({"x": {"type": "int32", "min": 0}},
                       [{"expect": "column_median_to_be_between", "column": "x", "min": 10, "max": 12},
                        {"expect": "column_min_to_be_between", "column": "x", "min": 2, "max": 3}]),
    "max and stdev": ({"x": {"type": "float32"}},
                      [{"expect": "column_max_to_be_between", "column": "x", "min": 7, "max": 8},
                       {"expect": "column_stdev_to_be_between", "column": "x", "min": 0.5, "max": 1}]),
    "sum": ({"x": {"type": "int64"}}, [{"expect": "column_sum_to_be_between", "column": "x", "min": -500,
                                        "max": -400}]),
    # table expectations
    "row count": ({"x": {"type": "int8"}}, [{"expect": "table_row_count_to_be_between", "min": 10, "max": 20}]),
    "more rows": ({"x": {"type": "int8"}}, [{"expect": "table_row_count_to_be_between", "min": 300}]),
    "columns": ({"x": {"type": "int8"}, "y": {"type": "string"}},
                [{"expect": "column_to_exist", "column": "y"},
                 {"expect": "table_column_count_to_be_between", "min": 2, "max": 2}]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_sample_passes_the_suite_of_its_spec(name):
    columns, expectations = CASES[name]
    system, dataset, suite = one_dataset(columns, expectations)
    frame = synthesize(system, rows=ROWS, seed=7).frames["d"]
    report = validate_frame(suite, frame)
    assert report["success"], report["failed"]
    assert len(frame) > 0


def test_unbounded_numbers_are_not_all_alike_and_stay_in_their_type():
    columns = {t: {"type": t} for t in ("int8", "int16", "int32", "int64", "float32", "float64")}
    system, _, _ = one_dataset(columns)
    frame = synthesize(system, rows=ROWS, seed=1).frames["d"]
    for name in columns:
        assert str(frame[name].dtype) == name
        assert frame[name].nunique() > 10, name
        assert np.isfinite(frame[name].astype("float64")).all()


def test_rules_shape_the_values_themselves():
    system, _, _ = one_dataset({"code": {"type": "string", "unique": True}, "n": {"type": "int64", "min": 2**62},
                                "t": {"type": "timestamp", "min": "2020-01-01", "max": "2020-01-02"}},
                               [{"expect": "column_values_to_match_regex", "column": "code", "regex": r"^[A-Z]{3}\d$"}])
    frame = synthesize(system, rows=50, seed=2).frames["d"]
    assert all(re.fullmatch(r"[A-Z]{3}\d", v) for v in frame["code"]) and frame["code"].is_unique
    assert (frame["n"] >= 2**62).all()
    assert frame["t"].between("2020-01-01", "2020-01-02").all()


def test_statistics_land_inside_their_bounds():
    system, _, _ = one_dataset({"x": {"type": "float64", "min": 0}},
                               [{"expect": "column_mean_to_be_between", "column": "x", "min": 40, "max": 41},
                                {"expect": "column_stdev_to_be_between", "column": "x", "min": 2, "max": 3}])
    values = synthesize(system, rows=101, seed=0).frames["d"]["x"]
    assert 40 <= values.mean() <= 41 and 2 <= values.std() <= 3 and values.min() >= 0


def test_rules_no_value_meets_are_an_error_naming_the_column():
    from mlspec.local.synth import UnsatisfiableRule

    system, _, _ = one_dataset({"x": {"type": "int8", "min": 0}},
                               [{"expect": "column_values_to_be_between", "column": "x", "min": -5, "max": -1}])
    with pytest.raises(UnsatisfiableRule) as caught:
        synthesize(system, rows=10)
    assert caught.value.key == "datasets.d.columns.x"
    assert "column `x` (int8): no value lies within" in str(caught.value)
