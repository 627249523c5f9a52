"""The spec's column types, mapped once to every tool that needs them (SPEC.md: "a small
closed set mapped once to Feast, Great Expectations, pandas and OpenLineage types").

OpenLineage schema facets carry the spec's own type names, so they need no table here.
"""

from __future__ import annotations

from typing import NamedTuple


class ColumnTypeMapping(NamedTuple):
    feast_dtype: str  # feast.types member
    feast_value_type: str  # feast.ValueType member, for entity join keys
    pandas_dtypes: tuple[str, ...]  # dtypes the data may have after ingestion (GX `type_list`)
    numerical: bool  # compared as numbers (Evidently drift), else as categories


COLUMN_TYPES: dict[str, ColumnTypeMapping] = {
    # Feast has no 8/16-bit integers; numpy dtypes because GX's type checks do not recognise
    # pandas extension dtypes such as `Int32`.
    "int8": ColumnTypeMapping("Int32", "INT32", ("int8",), True),
    "int16": ColumnTypeMapping("Int32", "INT32", ("int16",), True),
    "int32": ColumnTypeMapping("Int32", "INT32", ("int32",), True),
    "int64": ColumnTypeMapping("Int64", "INT64", ("int64",), True),
    "float32": ColumnTypeMapping("Float32", "FLOAT", ("float32",), True),
    "float64": ColumnTypeMapping("Float64", "DOUBLE", ("float64",), True),
    "bool": ColumnTypeMapping("Bool", "BOOL", ("bool",), False),
    "string": ColumnTypeMapping("String", "STRING", ("str",), False),
    "bytes": ColumnTypeMapping("Bytes", "BYTES", ("bytes",), False),
    "timestamp": ColumnTypeMapping("UnixTimestamp", "UNIX_TIMESTAMP", ("datetime64[ns]", "datetime64[us]"), False),
}


def pandas_dtypes(column_type: str, nullable: bool) -> list[str]:
    """The dtypes a column may have; a nullable integer column holding nulls is float64 in pandas."""
    types = list(COLUMN_TYPES[column_type].pandas_dtypes)
    if nullable and column_type.startswith("int"):
        types.append("float64")
    return types


def timestamp_text(value: str) -> str:
    """An ISO 8601 date or time of the spec (a timestamp column's bound) as the validated data
    holds it: naive UTC, `YYYY-MM-DDTHH:MM:SS` (the ingestion's cast_columns stores timestamps
    so). Great Expectations compares a timestamp column with such a string; a date alone, or a
    time with an offset, fails against the naive column."""
    import datetime

    from mlspec.spec.models import timestamp_value

    return timestamp_value(value).astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat()
