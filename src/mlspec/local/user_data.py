"""Your own data for `mlspec run SPEC --local --data DIR`, checked before anything runs.

DIR holds, directly inside it (no subfolder, no link):

- `<dataset>.parquet` or `<dataset>.csv`: the rows of one dataset with a source, a file source's
  or a SQL source's (its query's tables are then filled so that the query returns these rows,
  as for the sample: mlspec.local.database). A CSV file of a CSV source is read with the
  source's delimiter, header and encoding, any other CSV file with a comma, a header line and
  UTF-8;
- `<connection>.sql`: a SQL dump for one Airflow connection the SQL sources name: CREATE SCHEMA,
  CREATE TABLE (column definitions, no `AS SELECT`) and INSERT ... VALUES of constant values,
  nothing else. It is untrusted input: each statement is parsed with sqlglot (the dialect of
  the connection's tables), refused unless it is one of those with constants only (no function
  call, no subquery: no ATTACH, COPY, INSTALL, LOAD, PRAGMA, SET or file-reading function gets
  through), and written anew as DuckDB SQL, which runs on a DuckDB database with external access
  off and its configuration locked (DUCKDB_CONFIG). Every source of that connection then reads
  the dump's tables.

Names match exactly (a dataset's or a connection's name, a lower-case suffix); any other file
is an error, so a misspelled file never passes silently for the sample. A dataset with a source
and no file (nor dump) keeps its synthetic sample: the run's notes name those datasets.

Each dataset's rows (a file's, or what its query returns from a dump on the run's logical date)
are checked against what its spec says before anything is written or run: every declared column
present, of a compatible type (values the ingestion's cast turns into the column's type without
loss), and every rule of the suite the compiler writes (see RULES). Each broken rule is reported
at the rows that break it (`DIR/customers.csv:14`, the CSV line, or the Parquet row) and the
spec's `spec.yaml:LINE:COL` of the rule; a DataError (exit 1) lists them all.

The run's logical date (a query's `{{ ds }}`): with a dump whose queries use Airflow's date
variables, the earliest day among the dump's dates and timestamps on which each of them returns
rows; else the earliest timestamp of all the data, as for the sample (mlspec.local.data).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mlspec.errors import ExitCode, MlspecError, UsageError

MAX_FILE_BYTES = 512 * 1024 * 1024  # a Parquet or CSV file
MAX_DUMP_BYTES = 16 * 1024 * 1024  # a SQL dump: parsing costs about 3 seconds a megabyte
MAX_ROWS = 5_000_000  # of one dataset: a local run on one machine
MAX_PARQUET_BYTES = 4 * MAX_FILE_BYTES  # uncompressed, as the file's metadata says
MAX_DAYS = 1000  # days of a dump tried as the run's logical date
ROWS_SHOWN = 3  # rows named per broken rule
MAX_PROBLEMS = 50  # problems listed (the count says how many more)
FILE_SUFFIXES = ("parquet", "csv")

# Every rule the check applies: the column's own keys (as the compiler's GX suite derives them)
# and each expectation the spec language accepts (mlspec.check.references.EXPECTATION_FIELDS).
COLUMN_RULES = ("column_to_exist", "type", "nullable", "unique", "min/max", "in")
MAP_RULES = ("column_values_to_not_be_null", "column_values_to_be_null", "column_values_to_be_unique",
             "column_values_to_be_between", "column_values_to_be_in_set", "column_values_to_not_be_in_set",
             "column_values_to_match_regex", "column_values_to_not_match_regex",
             "column_value_lengths_to_be_between")
AGGREGATE_RULES = ("column_mean_to_be_between", "column_median_to_be_between", "column_min_to_be_between",
                   "column_max_to_be_between", "column_stdev_to_be_between", "column_sum_to_be_between",
                   "column_unique_value_count_to_be_between", "column_proportion_of_unique_values_to_be_between",
                   "column_distinct_values_to_be_in_set")
TABLE_RULES = ("table_row_count_to_be_between", "table_row_count_to_equal", "table_column_count_to_equal",
               "table_column_count_to_be_between", "table_columns_to_match_set", "column_to_exist")
RULES = MAP_RULES + AGGREGATE_RULES + TABLE_RULES


class DataError(MlspecError):
    """The data of --data does not fit the spec, or is refused (exit 1, nothing run)."""

    exit_code = ExitCode.SPEC_ERRORS

    def __init__(self, folder: Path, problems: list[str]):
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        lines = "\n".join(f"  {p}" for p in shown) + (f"\n  ... and {more} more" if more else "")
        super().__init__(f"--data {folder}: the data does not fit the spec ({len(problems)} problem"
                         f"{'s' if len(problems) != 1 else ''}); nothing was run:\n{lines}")
        self.problems = problems


@dataclass(frozen=True)
class DatasetData:
    """One dataset's rows from --data."""

    dataset: str
    origin: Path  # the file in DIR (a dump, for a SQL source reading one)
    frame: object  # the rows, each declared column cast to its type (as the extract task casts them)
    file: Path | None = None  # the Parquet or CSV file given for the dataset (None: from a dump)


@dataclass(frozen=True)
class UserData:
    folder: Path
    datasets: dict[str, DatasetData]  # dataset -> its rows
    dumps: dict[str, tuple[str, ...]]  # connection -> its dump's statements, checked, as DuckDB SQL
    dump_files: dict[str, Path]  # connection -> its dump in DIR
    synthetic: tuple[str, ...]  # datasets with a source that keep the synthetic sample
    day: dt.date | None = None  # the ingestion runs' logical date (None: from the data, as for the sample)
    notes: tuple[str, ...] = field(default=())

    def frames(self) -> dict:
        return {name: data.frame for name, data in self.datasets.items()}


# --- reading DIR ---------------------------------------------------------------------------------


def read_user_data(folder: Path, system, spec_place: Callable[[tuple], str]) -> UserData:
    """The data in `folder` for `system` (an IRSystem), checked; `spec_place` turns a spec key path
    into `spec.yaml:LINE:COL`. A UsageError when `folder` is no folder; a DataError listing every
    problem found otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--data {folder}: no folder there (it holds one file per dataset,"
                         f" <dataset>.parquet or <dataset>.csv, or a SQL dump per connection, <connection>.sql)")
    sourced = {d.name: d for d in system.datasets if d.source is not None}
    connections = {}
    for d in sourced.values():
        if d.source.kind == "sql":
            connections.setdefault(d.source.connection, []).append(d)
    problems: list[str] = []
    files, dump_files = _entries(folder, sourced, connections, problems)
    for name, path in files.items():
        source = sourced[name].source
        if source.kind == "sql" and source.connection in dump_files:
            problems.append(f"{path}: dataset `{name}` reads the connection `{source.connection}`, whose dump"
                            f" {dump_files[source.connection]} is given too: give one or the other")
    if not files and not dump_files and not problems:
        problems.append(f"{folder}: no data file in it ({_expected(sourced, connections)})")
    datasets: dict[str, DatasetData] = {}
    for name, path in sorted(files.items()):
        frame = _read_file(path, sourced[name], problems)
        if frame is None:
            continue
        cast = check_frame(frame, sourced[name], str(path), _file_rows(path, sourced[name]), spec_place, problems)
        if cast is not None:
            datasets[name] = DatasetData(name, path, cast, path)
    dumps, day, notes = {}, None, []
    if dump_files:
        dumps, day, from_dumps = _read_dumps(dump_files, connections, spec_place, problems)
        datasets.update(from_dumps)
    dump_day = day is not None
    if day is None and datasets:
        day = _first_day([data.frame for data in datasets.values()])
    if not problems:
        _check_sql_files(system, {n: d for n, d in datasets.items() if d.file is not None
                                  and sourced[n].source.kind == "sql"}, day, spec_place, problems)
    if problems:
        raise DataError(folder, problems)
    synthetic = tuple(sorted(n for n in sourced if n not in datasets))
    for name, data in sorted(datasets.items()):
        notes.append(f"data: {name} from {data.origin} ({len(data.frame):,} rows, checked against the spec)")
    if synthetic:
        notes.append(f"data: synthetic sample for {', '.join(synthetic)} (no file for them in {folder})")
    if day is not None and dump_day:
        notes.append(f"data: logical date {day.isoformat()}, the earliest day of the dumps' data on which every"
                     f" query of theirs returns rows")
    elif day is not None:
        notes.append(f"data: logical date {day.isoformat()}, the day of the data's earliest timestamp")
    return UserData(folder, datasets, dumps, dump_files, synthetic, day, tuple(notes))


def _expected(sourced: dict, connections: dict) -> str:
    files = [f"{n}.parquet or {n}.csv" for n in sorted(sourced)]
    dumps = [f"{c}.sql" for c in sorted(connections)]
    return "expected: " + "; ".join(files + dumps)


def _entries(folder: Path, sourced: dict, connections: dict, problems: list[str]
             ) -> tuple[dict[str, Path], dict[str, Path]]:
    """dataset -> file and connection -> dump in `folder`; a problem for every other entry (a
    link, a subfolder, a name that matches nothing, two files for one dataset). Names starting
    with `.` are left alone."""
    from mlspec.diagnostics import did_you_mean

    files: dict[str, Path] = {}
    dumps: dict[str, Path] = {}
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    for entry in entries:
        path = folder / entry.name
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            problems.append(f"{path}: a link; --data reads only files directly inside its folder, never through"
                            f" a link (copy the file there)")
            continue
        if entry.is_dir(follow_symlinks=False):
            problems.append(f"{path}: a folder; --data reads only files directly inside its folder")
            continue
        if not entry.is_file(follow_symlinks=False):
            problems.append(f"{path}: not a regular file")
            continue
        stem, dot, suffix = entry.name.rpartition(".")
        if not dot or suffix not in (*FILE_SUFFIXES, "sql"):
            problems.append(f"{path}: not a data file of --data ({_expected(sourced, connections)})")
        elif suffix == "sql":
            if stem in connections:
                dumps[stem] = path
            else:
                hint = did_you_mean(stem, sorted(connections))
                problems.append(f"{path}: no SQL source reads a connection `{stem}`"
                                f" ({'its connections: ' + ', '.join(sorted(connections)) if connections else 'the spec has no SQL source'})"
                                + (f"; {hint}" if hint else ""))
        elif stem in sourced:
            if stem in files:
                problems.append(f"{path}: a second file for dataset `{stem}` (with {files[stem]}): keep one")
            else:
                files[stem] = path
        else:
            hint = did_you_mean(stem, sorted(sourced))
            problems.append(f"{path}: no dataset with a source is named `{stem}`"
                            f" ({_expected(sourced, connections)})" + (f"; {hint}" if hint else ""))
    return files, dumps


def _open(path: Path, limit: int, problems: list[str]):
    """`path` opened for reading without following a link, if it is a regular file of at most
    `limit` bytes (else None, and a problem)."""
    try:
        # never through a link, and never waiting on a FIFO put there after the listing
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        problems.append(f"{path}: cannot be opened: {error.strerror or error}")
        return None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        problems.append(f"{path}: not a regular file")
        return None
    if info.st_size > limit:
        os.close(fd)
        problems.append(f"{path}: {info.st_size:,} bytes; a file of --data is at most {limit:,} bytes")
        return None
    return os.fdopen(fd, "rb")


def _csv_options(dataset) -> dict:
    source = dataset.source
    if source.kind == "file" and source.format == "csv":
        return {"sep": source.delimiter, "encoding": source.encoding, "header": 0 if source.header else None,
                "names": None if source.header else [c.name for c in dataset.columns] or None}
    return {"sep": ",", "encoding": "utf-8", "header": 0, "names": None}


def _read_file(path: Path, dataset, problems: list[str]):
    import pandas as pd

    handle = _open(path, MAX_FILE_BYTES, problems)
    if handle is None:
        return None
    with handle:
        try:
            if path.suffix == ".parquet":
                import pyarrow.parquet as pq

                parquet = pq.ParquetFile(handle)
                meta = parquet.metadata
                size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
                if meta.num_rows > MAX_ROWS or size > MAX_PARQUET_BYTES:
                    problems.append(f"{path}: {meta.num_rows:,} rows, {size:,} bytes uncompressed; a dataset of"
                                    f" --data has at most {MAX_ROWS:,} rows and {MAX_PARQUET_BYTES:,} bytes")
                    return None
                frame = parquet.read().to_pandas()
                # an index pandas wrote into the file is a column of the data again; a plain one goes
                frame = frame.reset_index(drop=isinstance(frame.index, pd.RangeIndex))
            else:
                texts = {c.name: str for c in dataset.columns if c.type == "string"}  # as the extract task reads them
                frame = pd.read_csv(handle, dtype=texts or None, nrows=MAX_ROWS + 1, **_csv_options(dataset))
        except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            what = "Parquet" if path.suffix == ".parquet" else "CSV"
            problems.append(f"{path}: cannot be read as {what}: {first}")
            return None
        except Exception as error:  # noqa: BLE001 - pyarrow's own errors (ArrowInvalid is a ValueError, not all are)
            if type(error).__module__.startswith("pyarrow"):
                problems.append(f"{path}: cannot be read as Parquet: {str(error).splitlines()[0]}")
                return None
            raise
    if len(frame) > MAX_ROWS:
        problems.append(f"{path}: more than {MAX_ROWS:,} rows; a dataset of --data has at most {MAX_ROWS:,}")
        return None
    return frame


def _file_rows(path: Path, dataset) -> Callable[[int], str]:
    """Where a row of a file stands: the CSV line (after the header line), the Parquet row."""
    if path.suffix == ".csv":
        first = 2 if _csv_options(dataset)["header"] == 0 else 1
        return lambda index: f"{path}:{index + first}"
    return lambda index: f"{path}:{index + 1}"


# --- checking rows against the spec --------------------------------------------------------------


def check_frame(frame, dataset, whole: str, row_place: Callable[[int], str], spec_place: Callable[[tuple], str],
                problems: list[str]):
    """`frame` with each declared column cast to its type, and a problem (appended) for each rule
    of `dataset` it breaks, at the rows that break it (`whole` names the rows' file, `row_place`
    one row of it); None when any rule is broken (every rule is checked all the same)."""
    import pandas as pd

    base = ("datasets", dataset.name)
    found = len(problems)
    cast = frame.copy()
    broken: set[str] = set()
    for column in dataset.columns:
        where = base + ("columns", column.name)
        if column.name not in frame.columns:
            problems.append(f"{whole}: dataset `{dataset.name}` has no column `{column.name}` (declared at"
                            f" {spec_place(where)}; its columns: {', '.join(map(str, frame.columns)) or 'none'})")
            broken.add(column.name)
            continue
        values, bad = _cast(frame[column.name], column.type)
        if bad is not None and bad.any():
            words = _type_words(column.type)
            if column.type == "timestamp" and any(_one_time(v) is not pd.NaT for v in frame[column.name][bad][:10]):
                words = ("a date or time in the format of the column's first value (the extract task reads a column"
                         " with pandas.to_datetime, which takes one format for all its values)")
            _report_rows(problems, bad.to_numpy(), whole, row_place, frame[column.name],
                         f"dataset `{dataset.name}`, column `{column.name}`: not {words}",
                         spec_place(where + ("type",)))
            broken.add(column.name)
            continue
        cast[column.name] = values
    for rule in _rules(dataset):
        if rule.column is not None and rule.column in broken:
            continue
        if rule.column is not None and rule.column not in cast.columns:
            if rule.kind != "column_to_exist" and dataset.column(rule.column) is None:
                problems.append(f"{whole}: dataset `{dataset.name}` has no column `{rule.column}`, which"
                                f" {rule.name} at {spec_place(rule.path)} checks")
            elif rule.kind == "column_to_exist":
                problems.append(f"{whole}: dataset `{dataset.name}` has no column `{rule.column}`"
                                f" ({rule.name} at {spec_place(rule.path)})")
            continue
        _apply(rule, cast, dataset, row_place, whole, spec_place, problems)
    return cast if len(problems) == found else None


@dataclass(frozen=True)
class Rule:
    kind: str  # an expectation (without `expect_`): a column's own keys are read as the suite reads them
    column: str | None
    path: tuple  # where the spec states it
    name: str  # how a message names it
    low: object = None
    high: object = None
    values: tuple | None = None
    regex: str | None = None
    value: int | None = None
    mostly: float | None = None


def _rules(dataset) -> list[Rule]:
    rules = []
    for column in dataset.columns:
        where = ("datasets", dataset.name, "columns", column.name)
        if not column.nullable:
            rules.append(Rule("column_values_to_not_be_null", column.name, where + ("nullable",), "`nullable: false`"))
        if column.unique:
            rules.append(Rule("column_values_to_be_unique", column.name, where + ("unique",), "`unique: true`"))
        if column.min is not None or column.max is not None:
            bound = where + (("min",) if column.min is not None else ("max",))
            rules.append(Rule("column_values_to_be_between", column.name, bound,
                              _bounds_words(column.min, column.max), column.min, column.max))
        if column.allowed is not None:
            rules.append(Rule("column_values_to_be_in_set", column.name, where + ("in",), "`in`",
                              values=tuple(column.allowed)))
    for index, expectation in enumerate(dataset.expectations):
        kind = expectation.expect.removeprefix("expect_")
        rules.append(Rule(kind, expectation.column, ("datasets", dataset.name, "expectations", index),
                          f"`{kind}`", expectation.min, expectation.max,
                          tuple(expectation.values) if expectation.values is not None else None,
                          expectation.regex, expectation.value, expectation.mostly))
    return rules


def _bounds_words(low, high) -> str:
    parts = ([f"`min: {_shown(low)}`"] if low is not None else []) + ([f"`max: {_shown(high)}`"] if high is not None else [])
    return " and ".join(parts)


def _shown(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _type_words(column_type: str) -> str:
    return {"bool": "a boolean (true or false)", "timestamp": "a date or time", "bytes": "bytes (Parquet binary)",
            "string": "text"}.get(column_type, f"a number that fits {column_type}" if column_type.startswith("float")
                                  else f"a whole number that fits {column_type}")


def _cast(series, column_type: str):
    """(the values as the extract task's cast leaves them, a mask of the rows that do not fit
    the type, or None when all do)."""
    import numpy as np
    import pandas as pd

    present = series.notna()
    if column_type.startswith("int") or column_type.startswith("float"):
        if series.dtype == bool:
            return series, present
        numbers = pd.to_numeric(series.map(lambda v: v if not isinstance(v, bool) else None)
                                if series.dtype == object else series, errors="coerce")
        bad = present & numbers.isna()
        finite = numbers.where(present & ~bad)
        if column_type.startswith("int"):
            info = np.iinfo(column_type)
            bad |= finite.notna() & ((finite % 1 != 0) | (finite < info.min) | (finite > info.max))
            if bad.any():
                return series, bad
            return (numbers.astype("float64") if numbers.isna().any() else numbers.astype(column_type)), None
        top = float(np.finfo(column_type).max)
        bad |= finite.notna() & (finite.abs() > top)
        if bad.any():
            return series, bad
        return numbers.astype(column_type), None
    if column_type == "bool":
        ok = series.map(lambda v: isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, np.integer)) and v in (0, 1)))
        bad = present & ~ok.astype(bool)
        if bad.any():
            return series, bad
        if series.isna().any():
            return series.astype(object).map(lambda v: None if v is None or v != v else bool(v)), None
        return series.astype(bool), None
    if column_type == "timestamp":
        try:
            values = pd.to_datetime(series, utc=True, errors="coerce")
        except (TypeError, ValueError, OverflowError):
            values = series.map(lambda v: _one_time(v))
            values = pd.to_datetime(values, utc=True, errors="coerce")
        bad = present & values.isna()
        if bad.any():
            return series, bad
        return values.dt.tz_localize(None).astype("datetime64[ns]"), None
    if column_type == "bytes":
        bad = present & ~series.map(lambda v: isinstance(v, (bytes, bytearray))).astype(bool)
        return (series, bad) if bad.any() else (series, None)
    return series.astype(object).map(lambda v: None if v is None or v is pd.NA or v != v else str(v)), None


def _one_time(value):
    import pandas as pd

    try:
        return pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):
        return pd.NaT


def _report_rows(problems: list[str], bad, whole: str, row_place, shown_values, what: str, rule_place: str,
                 extra: str = "") -> None:
    """A problem for each of the first ROWS_SHOWN rows `bad` (a boolean array) marks, and one
    counting the others."""
    rows = [int(i) for i in bad.nonzero()[0][:ROWS_SHOWN]]
    count = int(bad.sum())
    for position in rows:
        value = shown_values.iloc[position]
        problems.append(f"{row_place(position)}: {what}: {_value_words(value)}{extra} (rule at {rule_place})")
    if count > len(rows):
        problems.append(f"{whole}: ... {count - len(rows):,} more row(s) break the"
                        f" same rule ({rule_place})")


def _value_words(value) -> str:
    value = value.item() if hasattr(value, "item") and not hasattr(value, "isoformat") else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an integer column holding nulls is float64 once cast
    text = repr(value)
    if isinstance(value, str) or hasattr(value, "isoformat"):
        text = repr(str(value))
    if value is None or (isinstance(value, float) and value != value):
        text = "null"
    return "found " + (text if len(text) <= 60 else text[:57] + "...")


def _number_bound(value, column_type: str):
    """A bound as the column's values compare with it: a timestamp bound as naive UTC."""
    import pandas as pd

    if value is None:
        return None
    if column_type == "timestamp" or isinstance(value, str):
        from mlspec.spec.models import timestamp_value

        parsed = timestamp_value(value) if isinstance(value, str) else None
        if parsed is None:
            return None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return pd.Timestamp(parsed)
    return float(value)


def _apply(rule: Rule, frame, dataset, row_place, whole: str, spec_place, problems: list[str]) -> None:
    """Append the problems of one rule on the cast rows."""
    import re

    import numpy as np

    place = spec_place(rule.path)
    kind = rule.kind
    what = f"dataset `{dataset.name}`" + (f", column `{rule.column}`" if rule.column else "")
    if kind.startswith("table_"):
        rows, columns = len(frame), len(frame.columns)
        low, high = rule.low, rule.high
        failed = None
        if kind == "table_row_count_to_be_between" and not _within(rows, low, high):
            failed = f"{rows:,} rows, where {rule.name} asks for {_range_words(low, high)}"
        elif kind == "table_row_count_to_equal" and rows != rule.value:
            failed = f"{rows:,} rows, where {rule.name} asks for {rule.value}"
        elif kind == "table_column_count_to_equal" and columns != rule.value:
            failed = f"{columns} columns, where {rule.name} asks for {rule.value}"
        elif kind == "table_column_count_to_be_between" and not _within(columns, low, high):
            failed = f"{columns} columns, where {rule.name} asks for {_range_words(low, high)}"
        elif kind == "table_columns_to_match_set" and set(map(str, frame.columns)) != set(map(str, rule.values or ())):
            have, want = set(map(str, frame.columns)), set(map(str, rule.values or ()))
            failed = (f"its columns differ from the set {rule.name} names (missing: {', '.join(sorted(want - have)) or 'none'};"
                      f" extra: {', '.join(sorted(have - want)) or 'none'})")
        if failed:
            problems.append(f"{whole}: {what}: {failed} (rule at {place})")
        return
    if kind == "column_to_exist":
        return
    series = frame[rule.column]
    column = dataset.column(rule.column)
    column_type = column.type if column is not None else ""
    present = series.notna()
    if kind in MAP_RULES:
        if kind == "column_values_to_not_be_null":
            bad, base = ~present, len(series)
        elif kind == "column_values_to_be_null":
            bad, base = present, len(series)
        else:
            base = int(present.sum())
            values = series[present]
            if kind == "column_values_to_be_unique":
                failing = values.duplicated(keep=False)
            elif kind == "column_values_to_be_between":
                low, high = _number_bound(rule.low, column_type), _number_bound(rule.high, column_type)
                try:
                    failing = values.map(lambda v: not _within(v, low, high)).astype(bool)
                except TypeError:
                    failing = values.map(lambda v: True).astype(bool)
            elif kind in ("column_values_to_be_in_set", "column_values_to_not_be_in_set"):
                inside = values.isin(list(rule.values or ()))
                failing = ~inside if kind == "column_values_to_be_in_set" else inside
            elif kind in ("column_values_to_match_regex", "column_values_to_not_match_regex"):
                try:
                    matched = values.astype(str).str.contains(rule.regex, regex=True)
                except re.error as error:
                    problems.append(f"{whole}: {what}: the regular expression of {rule.name} at {place} does not"
                                    f" compile: {error}")
                    return
                failing = ~matched if kind == "column_values_to_match_regex" else matched
            else:  # column_value_lengths_to_be_between
                lengths = values.astype(str).str.len()
                failing = lengths.map(lambda n: not _within(n, rule.low, rule.high)).astype(bool)
            bad = np.zeros(len(series), dtype=bool)
            bad[present.to_numpy()] = failing.to_numpy(dtype=bool)
        bad = np.asarray(bad, dtype=bool)
        count = int(bad.sum())
        if count == 0:
            return
        if rule.mostly is not None and base and 1 - count / base >= rule.mostly:
            return
        allowed = int(base - np.ceil(rule.mostly * base - 1e-9)) if rule.mostly is not None else 0
        extra = f" ({count:,} of {base:,} rows break it; `mostly: {rule.mostly}` allows {allowed:,})" \
            if rule.mostly is not None else ""
        _report_rows(problems, bad, whole, row_place, series, f"{what} breaks {_rule_words(rule)}", place, extra)
        return
    values = series[present]
    observed = None
    if kind == "column_unique_value_count_to_be_between":
        observed = int(values.nunique())
    elif kind == "column_proportion_of_unique_values_to_be_between":
        observed = float(values.nunique() / len(values)) if len(values) else 0.0
    elif kind == "column_distinct_values_to_be_in_set":
        outside = sorted({str(v) for v in values.unique() if v not in set(rule.values or ())})
        if outside:
            problems.append(f"{whole}: {what}: distinct values outside the set {rule.name} names:"
                            f" {', '.join(outside[:5])}{' ...' if len(outside) > 5 else ''} (rule at {place})")
        return
    else:
        statistic = kind.removeprefix("column_").removesuffix("_to_be_between")
        if column_type == "timestamp":
            if statistic not in ("min", "max"):
                return
            observed = getattr(values, statistic)() if len(values) else None
            low, high = _number_bound(rule.low, column_type), _number_bound(rule.high, column_type)
        else:
            numbers = values.astype("float64")
            if not len(numbers):
                observed = None
            elif statistic == "stdev":
                observed = float(numbers.std())
            else:
                observed = float(getattr(np, {"mean": "mean", "median": "median", "min": "min", "max": "max",
                                              "sum": "sum"}[statistic])(numbers))
            low, high = rule.low, rule.high
        if observed is None or not _within(observed, low, high):
            problems.append(f"{whole}: {what}: the {statistic} is {observed}, where {rule.name} asks for"
                            f" {_range_words(rule.low, rule.high)} (rule at {place})")
        return
    if not _within(observed, rule.low, rule.high):
        problems.append(f"{whole}: {what}: observed {observed}, where {rule.name} asks for"
                        f" {_range_words(rule.low, rule.high)} (rule at {place})")


def _within(value, low, high) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return False
    if low is not None and value < low:
        return False
    return not (high is not None and value > high)


def _range_words(low, high) -> str:
    if low is not None and high is not None:
        return f"{_shown(low)} to {_shown(high)}"
    return f"at least {_shown(low)}" if low is not None else f"at most {_shown(high)}"


def _rule_words(rule: Rule) -> str:
    if rule.kind == "column_values_to_be_between":
        return f"{rule.name} ({_range_words(rule.low, rule.high)})" if rule.name.startswith("`column") else rule.name
    if rule.kind in ("column_values_to_be_in_set", "column_values_to_not_be_in_set") and rule.values is not None:
        shown = ", ".join(map(str, rule.values[:6])) + (" ..." if len(rule.values) > 6 else "")
        return f"{rule.name} [{shown}]"
    if rule.regex is not None:
        return f"{rule.name} ({rule.regex})"
    if rule.kind == "column_value_lengths_to_be_between":
        return f"{rule.name} ({_range_words(rule.low, rule.high)} characters)"
    return rule.name


def _first_day(frames: list) -> dt.date | None:
    """The day of the earliest timestamp of `frames` (as mlspec.local.data.first_day reads the sample)."""
    import pandas as pd

    earliest = [frame[c].min() for frame in frames for c in frame.columns
                if pd.api.types.is_datetime64_any_dtype(frame[c]) and frame[c].notna().any()]
    return min(earliest).date() if earliest else None


def _check_sql_files(system, given: dict[str, DatasetData], day: dt.date | None, spec_place,
                     problems: list[str]) -> None:
    """A file given for a SQL source's dataset fills the tables its query reads, as the sample
    does (mlspec.local.database.fill_sql_sources), and the query must return the file's rows as
    they are on the run's logical date: the filler replaces a value that breaks one of the
    query's conditions, which would ingest other rows than the user's. Checked on an in-memory
    database, before anything is written."""
    import duckdb

    from mlspec.errors import SpecError
    from mlspec.local.database import fill_sql_sources
    from mlspec.runtime.airflow_tasks import DUCKDB_CONFIG

    if not given:
        return
    frames = {name: data.frame for name, data in given.items()}
    when = day or dt.date.today()
    try:
        samples = fill_sql_sources(system, frames, when, lambda name, offset: spec_place(
            ("datasets", name, "source", "sql")))
    except SpecError as error:
        problems += [f"{given[line.split('dataset `')[1].split('`')[0]].file}: {line}" if "dataset `" in line else line
                     for line in str(error).splitlines()[1:]]
        return
    for name, sample in sorted(samples.items()):
        data, dataset = given[name], system.dataset(name)
        with duckdb.connect(":memory:", config=dict(DUCKDB_CONFIG)) as db:
            for table, frame in sample.frames.items():
                if table.schema:
                    db.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(table.schema)}")
                db.register("given", frame)
                db.execute(f"CREATE TABLE {table.qualified} AS SELECT * FROM given")
                db.unregister("given")
            try:
                result = db.execute(sample.rendered.strip().rstrip(";")).df()
            except duckdb.Error as error:
                result, failure = None, str(error).splitlines()[0]
        differs = _differing_column(result, data.frame, dataset) if result is not None else failure
        if differs:
            problems.append(f"{data.file}: dataset `{name}`: its query (at {spec_place(('datasets', name, 'source', 'sql'))})"
                            f" cannot return the file's rows as they are on the logical date {when.isoformat()}"
                            f" ({differs}): some rows break its conditions. Give the rows the query returns on that"
                            f" date, or a dump of the tables it reads ({dataset.source.connection}.sql)")


def _differing_column(result, frame, dataset) -> str | None:
    """Why the rows a query returned are not `frame`'s (None: the same rows, in any order)."""
    if len(result) != len(frame):
        return f"it returns {len(result):,} rows of {len(frame):,}"
    for column in dataset.columns:
        if column.name not in result.columns or column.name not in frame.columns:
            continue
        returned, _ = _cast(result[column.name], column.type)
        returned, given = (sorted(map(str, values)) for values in (returned, frame[column.name]))
        if returned != given:
            return f"column `{column.name}` holds other values"
    return None


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- SQL dumps -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    line: int
    sql: str  # as DuckDB SQL, made anew from the parsed statement


def parse_dump(path: Path, text: str, dialect: str | None, problems: list[str]) -> list[Statement]:
    """The statements of a dump, each checked (see the module docstring) and written anew as
    DuckDB SQL; a problem, at the statement's line, for each one refused."""
    import sqlglot
    from sqlglot.errors import SqlglotError
    from sqlglot.tokens import TokenType

    from mlspec.spec.sql import _quiet_sqlglot

    try:
        with _quiet_sqlglot():
            tokens = sqlglot.tokenize(text, read=dialect)
    except (SqlglotError, ValueError, RecursionError) as error:
        problems.append(f"{path}: cannot be read as SQL: {str(error).splitlines()[0] if str(error) else error}")
        return []
    chunks, current = [], []
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if current:
                chunks.append(current)
            current = []
        else:
            current.append(token)
    if current:
        chunks.append(current)
    parser = sqlglot.Dialect.get_or_raise(dialect).parser()
    statements = []
    for chunk in chunks:
        line = chunk[0].line
        try:
            with _quiet_sqlglot():
                parsed = [e for e in parser.parse(chunk, text) if e is not None]
        except (SqlglotError, ValueError, RecursionError) as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            problems.append(f"{path}:{line}: {_refused(chunk)}: cannot be parsed ({first}); {DUMP_HELP}")
            continue
        for statement in parsed:
            why = _refusal(statement)
            if why:
                problems.append(f"{path}:{line}: {_refused(chunk)}: {why}; {DUMP_HELP}")
                continue
            statements.append(Statement(line, statement.sql(dialect="duckdb")))
    return statements


DUMP_HELP = ("a dump of --data holds only CREATE SCHEMA, CREATE TABLE (column definitions) and INSERT ... VALUES"
             " with constant values")


def _refused(chunk) -> str:
    words = " ".join(t.text for t in chunk[:3])
    return f"`{words if len(words) <= 40 else words[:37] + '...'}`"


def _refusal(statement) -> str | None:
    """Why a dump statement is refused (None: it is a plain CREATE TABLE, CREATE SCHEMA or INSERT
    of constants)."""
    from sqlglot import exp

    allowed_create = (exp.Create, exp.Schema, exp.Table, exp.Identifier, exp.ColumnDef, exp.DataType,
                      exp.DataTypeParam, exp.ColumnConstraint, exp.NotNullColumnConstraint,
                      exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint, exp.DefaultColumnConstraint,
                      exp.PrimaryKey, exp.IndexParameters, exp.Literal, exp.Null, exp.Boolean, exp.Neg, exp.Cast,
                      exp.Var)
    allowed_insert = (exp.Insert, exp.Schema, exp.Table, exp.Identifier, exp.Values, exp.Tuple, exp.Literal,
                      exp.Null, exp.Boolean, exp.Neg, exp.Cast, exp.DataType, exp.DataTypeParam, exp.Var)
    if isinstance(statement, exp.Create):
        kind = str(statement.args.get("kind") or "").upper()
        extra = sorted(k for k, v in statement.args.items() if v not in (None, False, [], "")
                       and k not in ("this", "kind", "exists"))
        if kind not in ("TABLE", "SCHEMA"):
            return f"CREATE {kind or '?'} is not a table or a schema"
        if extra:
            return f"CREATE {kind} with {', '.join(extra)} (only plain column definitions)"
        if kind == "TABLE" and not isinstance(statement.this, exp.Schema):
            return "CREATE TABLE without column definitions"
        allowed = allowed_create
    elif isinstance(statement, exp.Insert):
        extra = sorted(k for k, v in statement.args.items() if v not in (None, False, [], "")
                       and k not in ("this", "expression"))
        if extra:
            return f"INSERT with {', '.join(extra)} (only INSERT INTO table VALUES (...))"
        if not isinstance(statement.expression, exp.Values):
            return "INSERT of something other than VALUES (a query, a function)"
        allowed = allowed_insert
    else:
        return f"{type(statement).__name__.upper()} statement"
    for node in statement.walk():
        if not isinstance(node, allowed) or isinstance(node, exp.Func) and not isinstance(node, exp.Cast):
            return f"it holds {_node_words(node)}, not only constants"
        if isinstance(node, exp.Table) and node.catalog:
            return f"`{node.sql()}` names a database (catalog): a dump fills one database"
    return None


def _node_words(node) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Func):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        return f"a function call (`{name.lower()}`)"
    if isinstance(node, (exp.Query, exp.Subquery)):
        return "a query"
    return f"`{type(node).__name__}`"


def _read_dumps(dump_files: dict[str, Path], connections: dict, spec_place, problems: list[str]):
    """(connection -> its statements, the run's logical date or None, dataset -> the rows its
    query returns from the dump on that date, checked)."""
    from mlspec.spec.sql import dialect_for

    loaded: dict[str, tuple[str, ...]] = {}
    earlier = len(problems)
    for connection, path in sorted(dump_files.items()):
        handle = _open(path, MAX_DUMP_BYTES, problems)
        if handle is None:
            continue
        with handle:
            raw = handle.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})")
            continue
        tables = [t for d in connections[connection] for t in d.source.tables]
        before = len(problems)
        statements = parse_dump(path, text, dialect_for(tables), problems)
        if len(problems) == before:
            database = _load(statements, path, problems)
            if database is not None:
                database.close()
                loaded[connection] = tuple(s.sql for s in statements)
    if len(problems) > earlier:
        return loaded, None, {}
    day = _dump_day(loaded, dump_files, connections, spec_place, problems)
    if len(problems) > earlier:
        return loaded, day, {}
    frames = {}
    for connection, statements in loaded.items():
        database = _load([Statement(0, s) for s in statements], dump_files[connection], problems)
        for dataset in connections[connection]:
            frame, why = _query_rows(database, dataset, day)
            if why:
                problems.append(f"{dump_files[connection]}: dataset `{dataset.name}`: its query {why}"
                                f" (query at {spec_place(('datasets', dataset.name, 'source', 'sql'))})")
                continue
            origin = dump_files[connection]
            cast = check_frame(frame, dataset, f"{origin} (`{dataset.name}`'s query)",
                               lambda i, o=origin, n=dataset.name: f"{o} (`{n}`'s query, row {i + 1})",
                               spec_place, problems)
            if cast is not None:
                frames[dataset.name] = DatasetData(dataset.name, origin, cast)
        database.close()
    return loaded, day, frames


def _load(statements: list[Statement], path: Path, problems: list[str], database=None):
    """An in-memory DuckDB database (or `database`, a path) holding the dump, contained as the
    run's databases are (DUCKDB_CONFIG); None, and a problem, when DuckDB refuses a statement."""
    import duckdb

    from mlspec.runtime.airflow_tasks import DUCKDB_CONFIG

    db = duckdb.connect(str(database) if database else ":memory:", config=dict(DUCKDB_CONFIG))
    for statement in statements:
        try:
            db.execute(statement.sql)
        except duckdb.Error as error:
            where = f"{path}:{statement.line}" if statement.line else str(path)
            problems.append(f"{where}: DuckDB refuses the statement: {str(error).splitlines()[0]}")
            db.close()
            return None
    return db


def _query_rows(database, dataset, day: dt.date | None):
    """(the rows the dataset's query returns on `day`, None) or (None, why not)."""
    import duckdb

    from mlspec.spec.sql import airflow_date_values, render_with

    values = airflow_date_values(dt.datetime.combine(day or dt.date.today(), dt.time()))
    rendered, _ = render_with(dataset.source.sql, values)
    try:
        frame = database.execute(rendered.strip().rstrip(";")).df()
    except duckdb.Error as error:
        return None, f"fails on the dump's tables: {str(error).splitlines()[0]}"
    if frame.empty:
        when = f" on the logical date {day.isoformat()}" if day is not None and rendered != dataset.source.sql else ""
        return None, f"returns no row from the dump's tables{when}"
    return frame, None


def _dump_day(loaded: dict, dump_files: dict, connections: dict, spec_place, problems: list[str]) -> dt.date | None:
    """The earliest day of the dumps' dates and timestamps on which every query of theirs that
    uses Airflow's date variables returns rows (None when none uses them)."""
    from mlspec.spec.sql import template_variables

    dated = {c: [d for d in connections[c] if template_variables(d.source.sql)] for c in loaded}
    if not any(dated.values()):
        return None
    databases = {c: _load([Statement(0, s) for s in loaded[c]], dump_files[c], problems) for c in loaded}
    try:
        days: set[dt.date] = set()
        for db in databases.values():
            days |= _days(db)
        candidates = sorted(days)[:MAX_DAYS]
        for day in candidates:
            if all(_query_rows(databases[c], d, day)[1] is None for c in dated for d in dated[c]):
                return day
        tried = f"{candidates[0].isoformat()} to {candidates[-1].isoformat()}" if candidates else "none: no date" \
            " or timestamp column in the dumps"
        for connection, datasets in dated.items():
            for dataset in datasets:
                problems.append(f"{dump_files[connection]}: dataset `{dataset.name}`: its query returns no row on any"
                                f" day of the dumps' data as logical date (tried {tried}) (query at"
                                f" {spec_place(('datasets', dataset.name, 'source', 'sql'))})")
        return None
    finally:
        for db in databases.values():
            db.close()


def _days(database) -> set[dt.date]:
    """The distinct days of every DATE and TIMESTAMP column of the database's tables."""
    found: set[dt.date] = set()
    columns = database.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns"
        " WHERE data_type = 'DATE' OR data_type LIKE 'TIMESTAMP%'").fetchall()
    for schema, table, column in columns:
        name = ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))
        quoted = '"' + column.replace('"', '""') + '"'
        rows = database.execute(f"SELECT DISTINCT CAST({quoted} AS DATE) FROM {name} WHERE {quoted} IS NOT NULL"
                                f" LIMIT {MAX_DAYS * 10}").fetchall()
        found |= {row[0] for row in rows if isinstance(row[0], dt.date)}
    return found


def copy_as_is(data: DatasetData, path: Path, source) -> bool:
    """The user's file copied byte for byte to `path` when it has the format the file source
    declares (a CSV file was checked as read with the source's own options); False when it has
    not, and the caller writes the checked rows in that format (mlspec.local.data.write_file)."""
    import shutil

    if data.file is None or data.file.suffix != f".{source.format}":
        return False
    problems: list[str] = []
    handle = _open(data.file, MAX_FILE_BYTES, problems)
    if handle is None:
        raise DataError(data.file.parent, problems)
    with handle, open(path, "wb") as out:
        shutil.copyfileobj(handle, out)
    return True


def write_dumps(user: UserData, folder: Path) -> dict[str, Path]:
    """Each dump loaded anew into its connection's DuckDB file under `folder` (the run's
    databases): connection -> file."""
    from mlspec.local.database import database_path

    written = {}
    folder.mkdir(parents=True, exist_ok=True)
    for connection, statements in sorted(user.dumps.items()):
        path = database_path(folder, connection)
        path.unlink(missing_ok=True)
        Path(f"{path}.wal").unlink(missing_ok=True)
        problems: list[str] = []
        db = _load([Statement(0, s) for s in statements], user.dump_files[connection], problems, database=path)
        if db is None:
            raise DataError(user.folder, problems)
        db.close()
        written[connection] = path
    return written


# --- what the run says about the data it ran on ----------------------------------------------------


def model_datasets(model) -> list[str]:
    """The datasets a model's training reads: its label's and its features' sources."""
    names = [model.label_dataset.name] + [d.name for d in model.feature_sources]
    return list(dict.fromkeys(names))


def synthetic_note(system, model, own: tuple[str, ...] | None) -> str:
    """For a failed gate: which of the datasets the model learns from held mlspec's synthetic
    sample (all of them without --data; `own`: those --data gave), and how to bring real data.
    Empty when every one of them came from --data."""
    own = set(own or ())
    synthetic = [n for n in model_datasets(model) if n not in own]
    if not synthetic:
        return ""
    datasets = {d.name: d for d in system.datasets}
    wanted = []
    for name in synthetic:
        source = datasets[name].source if name in datasets else None
        files = f"{name}.parquet or {name}.csv"
        if source is not None and source.kind == "sql":
            files += f" (or {source.connection}.sql, a dump of the tables its query reads)"
        wanted.append(files)
    return (f". The gate measured the model on synthetic data (mlspec's sample for {', '.join(synthetic)}), whose"
            f" relation between features and label is made up: to train on real data, run again with `--data DIR`,"
            f" DIR holding {'; '.join(wanted)}")
