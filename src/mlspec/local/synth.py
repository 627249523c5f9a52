"""Sample data for a spec, made from what the spec says about its data.

`mlspec run --local` needs tables to ingest before any real data exists: each dataset with
typed columns gets rows that its own Great Expectations suite accepts (types, ranges, value
sets, nullability, uniqueness, row counts), that join (every entity's join keys come from one
pool, and a feature row stands an hour before the label row it explains, or half its view's
TTL when that is shorter), and that teach something: each model's label is a function of its features
plus a little noise, so a reasonable estimator passes reasonable gates, while the sensitive
columns a fairness gate compares carry no signal. A fairness gate measures a rate per group on
the test split, and a rate measured on few rows is noisy: a sensitive column takes few values,
each spread evenly over the labels, and a model with a fairness gate gets enough rows that
each group's rate is measured on hundreds of test rows (see "sensitive columns" below).

Deterministic: the same spec and seed give the same frames. `drift` shifts every numeric
feature by that many standard deviations, for the drifted traffic of the drift stage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlspec.errors import SpecError
from mlspec.ir.model import IRColumn, IRDataset, IRModel, IRSystem

INT_RANGES = {"int8": (-128, 127), "int16": (-32768, 32767), "int32": (-(2**31), 2**31 - 1),
              "int64": (-(2**63), 2**63 - 1)}
NUMPY_TYPES = {"int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64", "float32": "float32",
               "float64": "float64", "bool": "bool"}
REGEX_POOL = 4  # draws of distinct strings for a non-unique column with a regex expectation
LABEL_NOISE = 0.1  # standard deviation of the noise added to a label's score (a sum of standardized features)
RELEVANT_SHARE = 0.3  # of a ranking label's rows, those above the lowest grade: see `_labels`
GROUP_ROWS = 10  # rows of each group (query, session) of a ranking model: see `_groups`
POSITIVE_SHARE = 0.2  # of a binary label's rows, as in most binary tasks (fraud, churn): see `_labels`
SENSITIVE_GROUPS = 2  # values of a sensitive column that declares none: see `_sensitive_groups`
MAX_SENSITIVE_GROUPS = 4  # of the values a sensitive column declares, the first so many are used
TEST_ROWS_PER_GROUP = 500  # rows of each sensitive group in a model's test split, at least
# The day the first label is observed; features stand an hour before (less when a view's TTL is
# shorter: see `_lead`).
LABEL_TIME = dt.datetime(2024, 1, 8, 12, 0, 0)
FEATURE_LEAD = dt.timedelta(hours=1)


class UnsatisfiableRule(SpecError):
    """A column whose rules no value meets (`int8` with `min: 200`): `key` is the spec key of
    the column, for the caller to turn into a spec line."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key, self.reason = key, message


@dataclass(frozen=True)
class Sample:
    frames: dict[str, pd.DataFrame]  # dataset name -> rows
    keys: dict[str, np.ndarray]  # join key column -> the entity values every dataset shares


def synthesize(system: IRSystem, rows: int = 1000, seed: int = 0, when: dt.datetime = LABEL_TIME) -> Sample:
    """A frame per dataset with columns (datasets without columns have nothing to make): `rows`
    each, or more when a fairness gate needs them to measure its groups (`_rows_for_fairness`),
    within what the dataset's row-count expectations allow."""
    rng = np.random.default_rng(seed)
    datasets = [d for d in system.datasets if d.columns]
    groups = _sensitive_groups(system, datasets, rng)
    rows = max(rows, _rows_for_fairness(system, groups))
    counts = {d.name: _row_count(d, rows) for d in datasets}
    # A view's source has a row for every key its models' label rows hold: a label dataset whose
    # row-count expectation asks for more rows than the others (`min: 5000`) has no row without
    # its features.
    views = {v.name: v for v in system.feature_views}
    for model in system.models:
        wanted = counts.get(model.label_dataset.name, 0)
        for source in {views[name].source.name for name in model.feature_views if name in views}:
            if source in counts and counts[source] < wanted:
                counts[source] = _row_count(next(d for d in datasets if d.name == source), wanted)
    keys = _key_pools(system, datasets, max(counts.values(), default=rows))
    label_columns = {(m.label_dataset.name, m.label_column) for m in system.models}
    frames: dict[str, pd.DataFrame] = {}
    # Feature sources first: labels are computed from the features they explain.
    order = sorted(datasets, key=lambda d: any(d.name == ds for ds, _ in label_columns))
    slots = max(counts.values(), default=rows)
    for dataset in order:
        count = counts[dataset.name]
        timestamp = when if any(dataset.name == ds for ds, _ in label_columns) else when - _lead(system, dataset)
        frames[dataset.name] = _frame(dataset, count, keys, timestamp, _rng(rng, dataset.name), groups, slots)
    for model in system.models:
        dataset = model.label_dataset
        if dataset.name not in frames or dataset.column(model.label_column) is None:
            continue
        # Models that share a label learn it from what they all read: a label made from one
        # model's features is, for another that lacks some of them, partly unexplained noise.
        sharing = [m for m in system.models
                   if m.label_dataset.name == dataset.name and m.label_column == model.label_column]
        common = [f for f in model.features if all(any(g.name == f.name and g.view == f.view for g in m.features)
                                                     for m in sharing)]
        score = _score(model, frames, keys, _rng(rng, model.name), common or None)
        frames[dataset.name][model.label_column] = _labels(model, score)
        if model.group is not None and dataset.column(model.group) is not None:
            frames[dataset.name][model.group] = _groups(dataset.column(model.group), len(score))
        for (name, column), (owner, values) in groups.items():
            if name == dataset.name and owner == model.name:
                frames[dataset.name][column] = _balanced(values, score, _rng(rng, f"{model.name}.{column}"))
    return Sample(frames, keys)


def _lead(system: IRSystem, dataset: IRDataset) -> dt.timedelta:
    """How long before its label row a feature row stands: FEATURE_LEAD, or half the shortest TTL
    of the views over the dataset when that is shorter (a feature older than its view's TTL is
    no feature at all in Feast's point-in-time join)."""
    ttls = [v.ttl_seconds for v in system.feature_views if v.source.name == dataset.name and v.ttl_seconds]
    return min([FEATURE_LEAD, *(dt.timedelta(seconds=ttl / 2) for ttl in ttls)])


def drifted(frame: pd.DataFrame, columns: list[IRColumn], shift: float) -> pd.DataFrame:
    """`frame` with every numeric column moved by `shift` standard deviations (kept in range)."""
    moved = frame.copy()
    for column in columns:
        if column.name not in moved or column.type not in NUMPY_TYPES or column.type == "bool":
            continue
        values = moved[column.name].astype("float64")
        spread = float(values.std() or 1.0)
        low, high = _bounds(column)
        moved[column.name] = _as_type(np.clip(values + shift * spread, low, high), column.type)
    return moved


# --- keys ------------------------------------------------------------------------------------


def _key_pools(system: IRSystem, datasets: list[IRDataset], rows: int) -> dict[str, np.ndarray]:
    """One pool of values per join key column, shared by every dataset that has the column."""
    pools: dict[str, np.ndarray] = {}
    for entity in system.entities:
        for key in entity.join_keys:
            column = next((d.column(key) for d in datasets if d.column(key) is not None), None)
            if column is None or key in pools:
                continue
            pools[key] = _distinct_values(column, rows)
    return pools


def _distinct_values(column: IRColumn, count: int) -> np.ndarray:
    if column.type.startswith("int") or column.type.startswith("float"):
        low, high = _bounds(column)
        start, _ = _window(column.type, max(low, 1.0) if high >= 1 + count else low, high, count)
        return _as_type(np.arange(start, start + count), column.type)
    if column.type == "bytes":
        return np.array([f"{column.name}-{i:06d}".encode() for i in range(count)], dtype=object)
    return np.array([f"{column.name}-{i:06d}" for i in range(count)], dtype=object)


# --- one dataset ---------------------------------------------------------------------------------


def _row_count(dataset: IRDataset, rows: int) -> int:
    """`rows`, or what the dataset's row-count expectations ask for."""
    count = rows
    for expectation in dataset.expectations:
        kind = expectation.expect.removeprefix("expect_")
        if kind == "table_row_count_to_equal" and expectation.value is not None:
            count = int(expectation.value)
        elif kind == "table_row_count_to_be_between":
            if expectation.min is not None:
                count = max(count, int(expectation.min))
            if expectation.max is not None:
                count = min(count, int(expectation.max))
    return count


def _frame(dataset: IRDataset, count: int, keys: dict[str, np.ndarray], when: dt.datetime,
           rng: np.random.Generator, groups: dict[tuple[str, str], tuple[str, np.ndarray]],
           slots: int | None = None) -> pd.DataFrame:
    data = {}
    for column in dataset.columns:
        rules = column_rules(dataset, column)
        if column.name in keys:
            data[column.name] = keys[column.name][:count]
        elif (dataset.name, column.name) in groups:  # each value in turn until `_balanced` spreads them
            values = groups[dataset.name, column.name][1]
            data[column.name] = values[np.arange(count) % len(values)]
        elif rules.null:
            data[column.name] = _nulls(column, count)
        else:
            _check_satisfiable(dataset, column, rules)
            data[column.name] = _column(column, rules, count, when, rng, slots)
    return pd.DataFrame(data)


@dataclass(frozen=True)
class Rules:
    """Everything the spec says about one column's values: the column's own keys and the
    dataset's extra expectations on it, intersected (two `between`s keep the narrower range)."""

    low: float = -np.inf  # bounds of every value (numbers; timestamps as epoch seconds)
    high: float = np.inf
    allowed: tuple | None = None  # `in`, `column_values_to_be_in_set`, `column_distinct_values_to_be_in_set`
    forbidden: tuple = ()  # `column_values_to_not_be_in_set`
    regex: str | None = None
    not_regex: tuple = ()
    unique: bool = False
    null: bool = False  # `column_values_to_be_null`
    lengths: tuple[float, float] = (0, np.inf)  # `column_value_lengths_to_be_between`
    distinct: tuple[float, float] | None = None  # how many distinct values (count or proportion, as a count)
    stats: tuple = ()  # (statistic, low, high) of `column_{mean,median,min,max,stdev,sum}_to_be_between`


STATISTICS = ("mean", "median", "min", "max", "stdev", "sum")


def column_rules(dataset: IRDataset, column: IRColumn, rows: int | None = None) -> Rules:
    low, high = _type_range(column.type)
    low, high = max(low, _number(column.min, -np.inf)), min(high, _number(column.max, np.inf))
    allowed = column.allowed
    forbidden: list = []
    not_regex: list[str] = []
    regex, unique, null, lengths, distinct, stats = None, column.unique, False, (0, np.inf), None, []
    for expectation in dataset.expectations:
        if expectation.column != column.name:
            continue
        kind = expectation.expect.removeprefix("expect_")
        lo, hi = _number(expectation.min, -np.inf), _number(expectation.max, np.inf)
        if kind == "column_values_to_be_between":
            low, high = max(low, lo), min(high, hi)
        elif kind in ("column_values_to_be_in_set", "column_distinct_values_to_be_in_set") and expectation.values:
            values = tuple(expectation.values)
            allowed = values if allowed is None else tuple(v for v in allowed if v in values)
        elif kind == "column_values_to_not_be_in_set" and expectation.values:
            forbidden += expectation.values
        elif kind == "column_values_to_match_regex" and expectation.regex:
            regex = expectation.regex
        elif kind == "column_values_to_not_match_regex" and expectation.regex:
            not_regex.append(expectation.regex)
        elif kind == "column_values_to_be_unique":
            unique = True
        elif kind == "column_values_to_be_null":
            null = True
        elif kind == "column_value_lengths_to_be_between":
            lengths = (max(lengths[0], lo), min(lengths[1], hi))
        elif kind == "column_unique_value_count_to_be_between":
            distinct = (lo, hi)
        elif kind == "column_proportion_of_unique_values_to_be_between" and rows:
            distinct = (np.ceil(lo * rows) if np.isfinite(lo) else -np.inf, np.floor(hi * rows) if np.isfinite(hi) else np.inf)
        elif kind.removeprefix("column_").removesuffix("_to_be_between") in STATISTICS:
            stats.append((kind.removeprefix("column_").removesuffix("_to_be_between"), lo, hi))
    if allowed is not None and forbidden:
        allowed = tuple(v for v in allowed if v not in forbidden)
    return Rules(float(low), float(high), allowed, tuple(forbidden), regex, tuple(not_regex), unique, null,
                 lengths, distinct, tuple(stats))


def _check_satisfiable(dataset: IRDataset, column: IRColumn, rules: Rules) -> None:
    key = f"datasets.{dataset.name}.columns.{column.name}"
    what = f"dataset `{dataset.name}`: column `{column.name}` ({column.type})"
    if rules.low > rules.high or (column.type.startswith("int") and np.ceil(rules.low) > np.floor(rules.high)):
        raise UnsatisfiableRule(key, f"{what}: no value lies within its type's range, its `min`/`max` and its"
                                     f" `column_values_to_be_between` expectations together")
    if rules.allowed is not None and not rules.allowed:
        raise UnsatisfiableRule(key, f"{what}: no value is in every value set its `in` and its expectations"
                                     f" name and outside those `column_values_to_not_be_in_set` names")


def _number(value, default: float) -> float:
    """A bound as a number: a timestamp bound (ISO text) as epoch seconds, UTC."""
    if value is None:
        return default
    if isinstance(value, str):
        from mlspec.spec.models import timestamp_value

        parsed = timestamp_value(value)
        return parsed.timestamp() if parsed is not None else default
    return float(value)


def _type_range(column_type: str) -> tuple[float, float]:
    if column_type in INT_RANGES:
        return tuple(float(v) for v in INT_RANGES[column_type])
    if column_type == "float32":
        top = float(np.finfo(np.float32).max)
        return -top, top
    return -np.inf, np.inf


def _nulls(column: IRColumn, count: int) -> np.ndarray:
    if column.type.startswith("int") or column.type.startswith("float"):
        return np.full(count, np.nan, dtype="float32" if column.type == "float32" else "float64")
    if column.type == "timestamp":
        return np.full(count, np.datetime64("NaT"), dtype="datetime64[ns]")
    return np.array([None] * count, dtype=object)


def _column(column: IRColumn, rules: Rules, count: int, when: dt.datetime, rng: np.random.Generator,
            slots: int | None = None) -> np.ndarray:
    if column.type == "timestamp":
        return _timestamps(rules, count, when, slots or count)
    if rules.allowed:
        return _from_pool(list(rules.allowed), column, rules, count, rng)
    if column.type == "bool":
        return _from_pool([False, True], column, rules, count, rng)
    if column.type in ("string", "bytes"):
        return _texts(column, rules, count, rng)
    return _numbers(column, rules, count, rng)


def _pool_size(rules: Rules, count: int, default: int) -> int:
    """How many distinct values a column of `count` rows takes: every row its own when unique."""
    if rules.unique:
        return count
    size = default
    if rules.distinct is not None:
        low, high = rules.distinct
        size = int(max(low, 1)) if np.isfinite(low) and low > 0 else min(default, int(high) if np.isfinite(high) else default)
        size = max(1, min(size, int(high) if np.isfinite(high) else size))
    return max(1, min(size, count))


def _from_pool(pool: list, column: IRColumn, rules: Rules, count: int, rng: np.random.Generator) -> np.ndarray:
    pool = pool[:_pool_size(rules, count, len(pool))]
    if rules.unique:
        values = pool[:count]
    else:  # every value of the pool at least once, then at random
        index = np.concatenate([np.arange(len(pool)), rng.integers(0, len(pool), size=max(count - len(pool), 0))])
        values = [pool[i] for i in index[:count]]
    if column.type in NUMPY_TYPES:
        return np.array(values).astype(NUMPY_TYPES[column.type])
    return np.array(values, dtype=object)


def _texts(column: IRColumn, rules: Rules, count: int, rng: np.random.Generator) -> np.ndarray:
    import re

    size = _pool_size(rules, count, 7 if rules.regex is None else REGEX_POOL)
    if rules.regex is not None:
        pool: list[str] = []
        for _ in range(50 * size):  # a narrow pattern matches few strings
            text = _matching_text(rules.regex, rng)
            if text not in pool and _text_fits(text, rules):
                pool.append(text)
            if len(pool) == size:
                break
        pool = sorted(pool) or [_matching_text(rules.regex, rng)]
    else:
        low, high = rules.lengths
        pool = []
        for i in range(size):
            text = _sized(f"{column.name}-{i:06d}" if rules.unique else f"{column.name}-{i}", i, low, high)
            for variant in (text, _sized(f"~{i}", i, low, high), _sized(f"{i}", i, low, high)):
                if _text_fits(variant, rules):
                    text = variant
                    break
            pool.append(text)
    del re
    values = _from_pool(pool, column, dataclass_replace(rules, distinct=None), count, rng) if not rules.unique \
        else np.array(pool[:count], dtype=object)
    if column.type == "bytes":
        return np.array([v.encode() for v in values], dtype=object)
    return values


def dataclass_replace(rules: Rules, **changes) -> Rules:
    import dataclasses

    return dataclasses.replace(rules, **changes)


def _sized(text: str, index: int, low: float, high: float) -> str:
    """`text` made as long as `column_value_lengths_to_be_between` asks: cut (keeping the
    distinct number at its end) or padded with `x`."""
    if np.isfinite(high) and len(text) > high:
        digits = _base36(index)
        text = (text[: int(high) - len(digits)] + digits)[-int(high):] if high >= len(digits) else digits[-int(high):]
    if len(text) < low:
        text = text + "x" * int(low - len(text))
    return text


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def _text_fits(text: str, rules: Rules) -> bool:
    import re

    return (text not in rules.forbidden and not any(re.search(p, text) for p in rules.not_regex)
            and rules.lengths[0] <= len(text) <= rules.lengths[1])


def _timestamps(rules: Rules, count: int, when: dt.datetime, slots: int) -> np.ndarray:
    """Over the hour before `when`, row i in the i-th of `slots` equal steps, each row distinct
    (unique timestamps are then easy); or over the hour at the end of the column's bounds when
    they leave that hour out. Every dataset steps alike, and row i of every dataset holds the
    same entity keys (`_key_pools`): a feature row then stands exactly its dataset's lead
    before the label row of its keys, whatever the row counts."""
    end = when.replace(tzinfo=dt.timezone.utc).timestamp()
    if end > rules.high or end - 3600 < rules.low:
        end = rules.high if np.isfinite(rules.high) else rules.low + 3600
        end = min(end, rules.low + 3600) if np.isfinite(rules.low) else end
    span_ms = max(1, int((end - max(rules.low, end - 3600)) * 1000)) if np.isfinite(rules.low) else 3_600_000
    slots = max(slots, count)
    step = max(span_ms // slots, 1) if span_ms >= slots else 0
    offsets = span_ms - 1 - np.arange(count, dtype="int64") * step if step else \
        np.sort(np.arange(count, dtype="int64") % span_ms)[::-1]
    base = np.datetime64(int(end * 1000), "ms")
    return (base - offsets.astype("timedelta64[ms]")).astype("datetime64[ns]")


def _numbers(column: IRColumn, rules: Rules, count: int, rng: np.random.Generator) -> np.ndarray:
    low, high = _window(column.type, rules.low, rules.high, count if rules.unique else 1)
    if rules.stats:
        values = _with_statistics(column.type, rules, low, high, count)
    elif rules.unique:
        values = np.linspace(low, high, num=count) if column.type.startswith("float") else low + np.arange(count)
    elif rules.distinct is not None or rules.forbidden:
        size = _pool_size(rules, count, 20)
        pool = [v for v in _as_type(np.linspace(low, high, num=size + len(rules.forbidden)), column.type).tolist()
                if v not in rules.forbidden][:size]
        pool = list(dict.fromkeys(pool)) or [low]
        return _from_pool(pool, column, dataclass_replace(rules, distinct=None), count, rng)
    elif column.type.startswith("int"):
        values = rng.integers(int(np.ceil(low)), int(np.floor(high)) + 1, size=count)
    else:
        values = rng.uniform(low, high, size=count)
    return _within(_as_type(values, column.type), column.type, rules.low, rules.high)


WINDOW = 100.0  # the width of the values drawn for a column whose bounds leave more room


def _window(column_type: str, low: float, high: float, distinct: int) -> tuple[float, float]:
    """The finite range a numeric column's values are drawn from: within its bounds (the type's,
    the spec's), WINDOW wide (at least `distinct` whole numbers for an integer column), near 0
    when the bounds allow it, else against the bound that is set."""
    width = max(WINDOW, float(distinct))
    if low <= 0 <= high:
        start = max(low, 0.0) if high - max(low, 0.0) >= width or not np.isfinite(low) else max(low, high - width)
        start = start if np.isfinite(start) else 0.0
    elif np.isfinite(low):
        start = low
    else:
        start = high - width
    end = min(high, start + width)
    if column_type.startswith("int"):
        start, end = float(np.ceil(start)), float(np.floor(end))
    return start, end


def _within(values: np.ndarray, column_type: str, low: float, high: float) -> np.ndarray:
    """`values` clipped to the bounds as the column's type holds them: a float32 bound is rounded
    inwards (0.1 as float32 is above 0.1, and would fail `max: 0.1`)."""
    if not column_type.startswith("float"):
        return values
    kind = np.dtype(NUMPY_TYPES[column_type]).type
    top = np.finfo(kind).max
    lo, hi = kind(np.clip(low, -top, top)), kind(np.clip(high, -top, top))
    if lo < low:
        lo = np.nextafter(lo, kind(np.inf))
    if hi > high:
        hi = np.nextafter(hi, kind(-np.inf))
    return np.clip(values, lo, hi).astype(kind)


def _with_statistics(column_type: str, rules: Rules, low: float, high: float, count: int) -> np.ndarray:
    """Values whose mean, median, min, max, standard deviation and sum fall where the column's
    statistic expectations ask: half the rows at centre - s, half at centre + s (one at the
    centre when the count is odd). The centre is picked within the mean, median and sum bounds
    (trying the preferred point, then the ends), the spread s within what the centre leaves
    to the min, max and standard deviation bounds."""
    whole = column_type.startswith("int")
    bounds = {name: (lo, hi) for name, lo, hi in rules.stats}
    inf = (-np.inf, np.inf)
    m_lo, m_hi = bounds.get("min", inf)
    x_lo, x_hi = bounds.get("max", inf)
    c_lo, c_hi = max(rules.low, m_lo), min(rules.high, x_hi)
    for name in ("mean", "median"):
        if name in bounds:
            c_lo, c_hi = max(c_lo, bounds[name][0]), min(c_hi, bounds[name][1])
    if "sum" in bounds:
        c_lo, c_hi = max(c_lo, bounds["sum"][0] / count), min(c_hi, bounds["sum"][1] / count)
    s_lo, s_hi = 0.0, np.inf
    if "stdev" in bounds:  # the sample standard deviation of n values at +-s is s * sqrt(n / (n - 1))
        factor = np.sqrt(count / max(count - 1, 1))
        s_lo, s_hi = bounds["stdev"][0] / factor, bounds["stdev"][1] / factor
    centre, spread = (low + high) / 2, 0.0
    prefer = _pick(c_lo, c_hi, (low + high) / 2, whole)
    guess = _pick(s_lo, s_hi, 1.0)  # a spread the min and max bounds suggest a centre from
    targets = [prefer, (x_lo + x_hi) / 2 - guess, (m_lo + m_hi) / 2 + guess, x_lo - guess, m_hi + guess, c_lo, c_hi]
    for centre in [_pick(c_lo, c_hi, t, whole) for t in targets if np.isfinite(t)]:
        lo = max(s_lo, centre - m_hi, x_lo - centre, 0.0)
        hi = min(s_hi, centre - m_lo, x_hi - centre, centre - rules.low, rules.high - centre)
        if lo <= hi:
            spread = _pick(lo, hi, WINDOW / 4, whole)
            break
    half = count // 2
    return np.concatenate([np.full(half, centre - spread), np.full(count - 2 * half, centre),
                           np.full(half, centre + spread)])


def _pick(low: float, high: float, prefer: float, whole: bool = False) -> float:
    """A number within [low, high]: `prefer` when it is, else the middle of a finite range, else
    the end nearest `prefer`; a whole number for an integer column when the range holds one."""
    if low <= prefer <= high:
        value = prefer
    elif np.isfinite(low) and np.isfinite(high):
        value = (low + high) / 2
    else:
        value = float(np.clip(prefer, low, high))
    if whole:
        rounded = float(np.round(value))
        value = rounded if low <= rounded <= high else (float(np.ceil(low)) if np.ceil(low) <= high else rounded)
    return value


def _span(column: IRColumn, bounds: tuple[float, float] | None) -> tuple[float, float]:
    """The finite range a numeric column's values are drawn from: its type's and the spec's
    bounds, and those of a `column_values_to_be_between` expectation."""
    low, high = _bounds(column)
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return _window(column.type, low, high, 1)


def _bounds(column: IRColumn) -> tuple[float, float]:
    low, high = _type_range(column.type)
    return max(low, _number(column.min, -np.inf)), min(high, _number(column.max, np.inf))


def _extra_values(dataset: IRDataset, column: str) -> tuple | None:
    for expectation in dataset.expectations:
        if expectation.column == column and expectation.values and \
                expectation.expect.removeprefix("expect_") == "column_values_to_be_in_set":
            return tuple(expectation.values)
    return None


def _extra_regex(dataset: IRDataset, column: str) -> str | None:
    for expectation in dataset.expectations:
        if expectation.column == column and expectation.regex and \
                expectation.expect.removeprefix("expect_") == "column_values_to_match_regex":
            return expectation.regex
    return None


def _matching_text(pattern: str, rng: np.random.Generator) -> str:
    """A string the regular expression matches, made by walking Python's own parse of it
    (literals, classes, repeats, groups and alternatives; anchors match themselves)."""
    from re import _parser as parser  # the stdlib's regex parser: what `re` itself matches with

    def walk(items) -> str:
        out = []
        for op, arg in items:
            name = str(op)
            if name == "LITERAL":
                out.append(chr(arg))
            elif name == "ANY":
                out.append("x")
            elif name == "IN":
                out.append(pick(arg))
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                low, high, body = arg
                high = low + 3 if high == parser.MAXREPEAT else high
                out.extend(walk(body) for _ in range(int(rng.integers(low, high + 1))))
            elif name == "SUBPATTERN":
                out.append(walk(arg[-1]))
            elif name == "BRANCH":
                branches = arg[1]
                out.append(walk(branches[int(rng.integers(0, len(branches)))]))
        return "".join(out)

    def pick(members) -> str:
        choices: list[str] = []
        for op, arg in members:
            name = str(op)
            if name == "LITERAL":
                choices.append(chr(arg))
            elif name == "RANGE":
                choices += [chr(c) for c in range(arg[0], arg[1] + 1)]
            elif name == "CATEGORY":
                choices += list("0123456789") if "DIGIT" in str(arg) else list("abcdefghij")
        return choices[int(rng.integers(0, len(choices)))] if choices else "x"

    return walk(parser.parse(pattern))


def _extra_bounds(dataset: IRDataset, column: str) -> tuple[float, float] | None:
    for expectation in dataset.expectations:
        if expectation.column == column and expectation.expect.removeprefix("expect_") == "column_values_to_be_between":
            return (expectation.min if expectation.min is not None else -np.inf,
                    expectation.max if expectation.max is not None else np.inf)
    return None


def _as_type(values, column_type: str) -> np.ndarray:
    if column_type.startswith("int"):
        return np.asarray(np.round(values)).astype(NUMPY_TYPES[column_type])
    return np.asarray(values).astype(NUMPY_TYPES.get(column_type, "float64"))


# --- labels ------------------------------------------------------------------------------------


def _score(model: IRModel, frames: dict[str, pd.DataFrame], keys: dict[str, np.ndarray],
           rng: np.random.Generator, features: list | None = None) -> np.ndarray:
    """What the label of each row of the label dataset is made from: a sum of the model's
    numeric features (or of `features`, those every model of the label reads) (looked up by join key, standardized, each with a sign of its own), plus
    a little noise."""
    label_frame = frames[model.label_dataset.name]
    score = np.zeros(len(label_frame))
    for feature in model.features if features is None else features:
        source = next((f for name, f in frames.items() if feature.name in f and name != model.label_dataset.name),
                      None)
        if source is None or feature.type in ("string", "bytes", "timestamp"):
            continue
        key = next((k for k in keys if k in source and k in label_frame), None)
        if key is None:
            continue
        values = label_frame[key].map(dict(zip(source[key], source[feature.name].astype("float64"))))
        values = values.astype("float64")
        spread = float(values.std() or 1.0)
        weight = 1.0 if _digest(feature.name) % 2 else -1.0
        score += weight * (values.fillna(values.mean()) - values.mean()) / spread
    return score + rng.normal(0, LABEL_NOISE, size=len(score))


def _labels(model: IRModel, score: np.ndarray) -> np.ndarray:
    """The score as the label column's values: scaled into its range (regression), or cut into
    its classes at the score's quantiles (for ranking, grades rising with the score, the rows of
    every grade above the lowest making RELEVANT_SHARE; rows of one group then differ in relevance
    as their features differ). A multiclass label has as many rows in each class; a
    binary one has its positive class (the last, as scikit-learn orders them) on the top
    POSITIVE_SHARE of the scores: the negatives a false positive rate is measured on are then
    many, and few of them lie near the class boundary, where a model errs."""
    column = model.label_dataset.column(model.label_column)
    if model.task == "regression":
        low, high, centre, scale = _regression_scale(model, column)
        standard = (score - score.mean()) / (score.std() or 1.0)  # a sum of n features spreads sqrt(n)
        return _as_type(np.clip(centre + standard * scale, low, high), column.type)
    classes = list(column.allowed) if column.allowed else [0, 1]
    if model.task == "ranking":  # grades in order: the top RELEVANT_SHARE of the scores above the lowest
        classes = sorted(classes)
        edges = np.quantile(score, np.linspace(1 - RELEVANT_SHARE, 1, len(classes))[:-1])
    elif model.task == "binary_classification":
        classes = sorted(classes[:2])
        edges = np.quantile(score, [1 - POSITIVE_SHARE])
    else:
        edges = np.quantile(score, np.linspace(0, 1, len(classes) + 1)[1:-1])
    index = np.searchsorted(edges, score)
    values = np.array([classes[i] for i in index], dtype=object)
    return values.astype(NUMPY_TYPES[column.type]) if column.type in NUMPY_TYPES else values


# A regression label's standard deviation per unit of an error gate (`mae <= 12`: labels spread
# 18 units about their centre): what a model misses, and the noise, stay well under the gate.
SCALE_PER_ERROR = 1.5


def _regression_scale(model: IRModel, column: IRColumn) -> tuple[float, float, float, float]:
    """(low, high, centre, scale) of a regression label: within the column's bounds, centred
    where its mean or median expectation asks (`column_mean_to_be_between: 1..500`), and spread
    so that the spec's error gates in the label's units (mae, rmse, mape) are within
    reach of a model that learns the features: a label scaled to its type's range makes `mae
    <= 12` impossible, however good the model."""
    rules = column_rules(model.label_dataset, column)
    low, high = max(_bounds(column)[0], rules.low), min(_bounds(column)[1], rules.high)
    if not high - low <= 1e6:  # unbounded, or a type's own range: a window of it
        low, high = _window(column.type, low, high, 1)
    centre = (low + high) / 2
    for statistic, at_least, at_most in rules.stats:
        if statistic in ("mean", "median"):
            lowest = max(low, at_least if np.isfinite(at_least) else low)
            highest = min(high, at_most if np.isfinite(at_most) else high)
            if lowest <= highest:
                centre = (lowest + highest) / 2
    scale = (high - low) / 8
    for gate in model.gates:
        if gate.operator not in ("<=", "<") or gate.threshold <= 0:
            continue
        # the regression metrics that are errors (spec.models.REGRESSION_METRICS), in the label's units
        error = {"mae": gate.threshold, "rmse": gate.threshold, "mape": gate.threshold * abs(centre)}.get(gate.metric)
        if error:
            scale = min(scale, SCALE_PER_ERROR * error)
    # the bulk of the labels inside the bounds, not piled on them by the clip
    scale = min(scale, (centre - low) / 3 if centre > low else scale, (high - centre) / 3 if high > centre else scale)
    return low, high, centre, max(scale, 1e-9)


def _groups(column: IRColumn, count: int) -> np.ndarray:
    """A ranking model's group column: GROUP_ROWS consecutive rows to each group (a session
    showing that many items), so that the time split holds out whole, later groups."""
    return _distinct_values(column, -(-count // GROUP_ROWS))[np.arange(count) // GROUP_ROWS]


# --- sensitive columns -------------------------------------------------------------------------
# A fairness gate compares a rate (selection, false positives, ...) between the groups of a
# sensitive column, measured on each group's share of the held-out rows. The sample's groups
# are treated alike by construction, so the difference it measures is sampling noise alone: a
# rate q measured on n rows is off by about sqrt(q(1 - q) / n). The sample keeps that noise well
# under a gate's allowance: few groups (`_group_values`), each on as many rows as the others
# and on rows alike in labels (`_balanced`), enough rows that each group has TEST_ROWS_PER_GROUP
# rows in the test split, and labels whose negatives mostly lie far from the class boundary
# (`_labels`), so that a good model's false positive rate is small, and so is its noise.


def _sensitive_groups(system: IRSystem, datasets: list[IRDataset], rng: np.random.Generator
                      ) -> dict[tuple[str, str], tuple[str, np.ndarray]]:
    """(label dataset, sensitive column) -> (the model whose labels it is spread over, its values)."""
    made = {d.name: d for d in datasets}
    groups: dict[tuple[str, str], tuple[str, np.ndarray]] = {}
    for model in system.models:
        dataset = made.get(model.label_dataset.name)
        for name in model.fairness.sensitive if model.fairness and dataset else ():
            column = dataset.column(name)
            if column is None or column.unique or column.type == "timestamp" or name == model.label_column \
                    or (dataset.name, name) in groups:
                continue
            groups[dataset.name, name] = (model.name, _group_values(dataset, column,
                                                                    _rng(rng, f"{dataset.name}.{name}")))
    return groups


def _group_values(dataset: IRDataset, column: IRColumn, rng: np.random.Generator) -> np.ndarray:
    """The values a sensitive column takes: its declared ones (the first MAX_SENSITIVE_GROUPS,
    each group needing its own rows), else SENSITIVE_GROUPS distinct values of its type
    (strings its regex expectation matches, numbers within its bounds)."""
    allowed = column.allowed if column.allowed is not None else _extra_values(dataset, column.name)
    if allowed:
        values = list(allowed)[:MAX_SENSITIVE_GROUPS]
    elif column.type == "bool":
        values = [False, True]
    elif column.type in ("string", "bytes"):
        pattern = _extra_regex(dataset, column.name)
        if pattern is None:
            values = [f"{column.name}-{i}" for i in range(SENSITIVE_GROUPS)]
        else:
            found: set[str] = set()
            for _ in range(50 * SENSITIVE_GROUPS):  # a narrow pattern may match fewer strings
                found.add(_matching_text(pattern, rng))
                if len(found) == SENSITIVE_GROUPS:
                    break
            values = sorted(found)
    else:
        low, high = _span(column, _extra_bounds(dataset, column.name))
        values = list(dict.fromkeys(_as_type(np.linspace(low, high, SENSITIVE_GROUPS), column.type).tolist()))
    if column.type in NUMPY_TYPES:
        return np.array(values).astype(NUMPY_TYPES[column.type])
    return np.array(values, dtype=object)


def _rows_for_fairness(system: IRSystem, groups: dict[tuple[str, str], tuple[str, np.ndarray]]) -> int:
    """Rows enough for TEST_ROWS_PER_GROUP rows of each sensitive group in a model's test split."""
    share = {m.name: m.split.test for m in system.models}
    return max((int(np.ceil(len(values) * TEST_ROWS_PER_GROUP / max(share[owner], 0.05)))
                for owner, values in groups.values()), default=0)


def _balanced(values: np.ndarray, score: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`values` spread over the rows so that the labels carry no sign of them: the rows in order
    of the score the labels were made from, each run of len(values) rows gets every value once,
    in a random order. Every value then has as many rows as another, rows alike in labels and
    features."""
    count, k = len(score), len(values)
    runs = np.argsort(rng.random((-(-count // k), k)), axis=1).ravel()[:count]
    spread = np.empty(count, dtype=values.dtype)
    spread[np.argsort(score, kind="stable")] = values[runs]
    return spread


def _rng(parent: np.random.Generator, name: str) -> np.random.Generator:
    """A generator per dataset or model, so adding one does not reshuffle the others."""
    return np.random.default_rng([int(parent.bit_generator.seed_seq.entropy or 0), _digest(name)])


def _digest(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")
