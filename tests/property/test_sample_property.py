"""Property: for any valid set of typed columns (every type, with or without bounds, value
sets, uniqueness, nullability, regex, length and between expectations, a row count), the local
run's sample of the dataset passes the Great Expectations suite the compiler writes for it, run
with GX itself."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspec.local.synth import synthesize
from mlspec.runtime.airflow_tasks import validate_frame
from support.sample_specs import one_dataset

INT_TOPS = {"int8": 2**7, "int16": 2**15, "int32": 2**31, "int64": 2**63}
ROWS = 60


@st.composite
def number_bounds(draw, column_type: str):
    """min and/or max, each a whole number inside the type (float32 holds such bounds exactly
    when they are small enough)."""
    top = INT_TOPS.get(column_type, 2**24)
    low, high = draw(st.integers(-top, top - 1)), draw(st.integers(-top, top - 1))
    low, high = min(low, high), max(low, high)
    kept = draw(st.sampled_from(["min", "max", "both"]))
    return {**({"min": low} if kept != "max" else {}), **({"max": high} if kept != "min" else {})}


@st.composite
def column(draw, name: str):
    column_type = draw(st.sampled_from(["int8", "int16", "int32", "int64", "float32", "float64", "bool", "string",
                                        "timestamp", "bytes"]))
    spec = {"type": column_type, "nullable": draw(st.booleans())}
    extras = []
    shape = draw(st.sampled_from(["plain", "unique", "bounded", "in"]))
    if shape == "unique" and column_type != "bool":
        spec["unique"] = True
    elif shape == "bounded" and column_type.startswith(("int", "float")):
        spec.update(draw(number_bounds(column_type)))
    elif shape == "bounded" and column_type == "timestamp":
        day = draw(st.dates(dt.date(1990, 1, 1), dt.date(2090, 1, 1)))
        spec.update({"min": day.isoformat(), "max": (day + dt.timedelta(days=draw(st.integers(1, 400)))).isoformat()})
    elif shape == "in" and column_type in ("int8", "int16", "int32", "string", "bool"):
        pool = ([True, False] if column_type == "bool" else
                draw(st.lists(st.integers(-100, 100), min_size=1, max_size=5, unique=True))
                if column_type.startswith("int") else
                draw(st.lists(st.text("abcXYZ-", min_size=1, max_size=4), min_size=1, max_size=5, unique=True)))
        spec["in"] = pool
    if column_type == "string" and "in" not in spec and draw(st.booleans()):
        extras.append(draw(st.sampled_from([
            {"expect": "column_values_to_match_regex", "column": name, "regex": r"^[a-z]{2,6}\d{2}$"},
            {"expect": "column_value_lengths_to_be_between", "column": name, "min": 3, "max": 12},
            {"expect": "column_values_to_not_match_regex", "column": name, "regex": "^[0-9]"}])))
    if column_type.startswith(("int", "float")) and shape == "plain" and draw(st.booleans()):
        low = draw(st.integers(-100, 77))
        extras.append({"expect": "column_values_to_be_between", "column": name, "min": low,
                       "max": low + draw(st.integers(0, 50))})
    return spec, extras


@st.composite
def dataset(draw):
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=4, unique=True))
    columns, expectations = {}, []
    for name in names:
        spec, extras = draw(column(name))
        columns[name] = spec
        expectations += extras
    if draw(st.booleans()):
        expectations.append({"expect": "table_row_count_to_be_between", "min": draw(st.integers(1, ROWS))})
    return columns, expectations


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=dataset(), seed=st.integers(0, 2**16))
def test_the_sample_of_any_valid_columns_passes_their_suite(data, seed):
    columns, expectations = data
    system, _, suite = one_dataset(columns, expectations)
    frame = synthesize(system, rows=ROWS, seed=seed).frames["d"]
    report = validate_frame(suite, frame)
    assert report["success"], (columns, expectations, report["failed"])
