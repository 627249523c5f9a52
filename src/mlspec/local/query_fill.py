"""The tables a SQL source's query reads, filled so that the query returns the sample's rows.

The query is read with sqlglot (spec.sql parses every source's query so), scope by scope
(sqlglot.optimizer.scope: the SELECT, each CTE body, derived table, subquery and each side of
a UNION), and every column it names is traced down to a column of a table it reads (through
CTE and subquery projections). Then:

- each column of the dataset the query selects (by name, or through `*`) holds the sample's
  values, in the table it comes from;
- columns the query compares for equality (`JOIN ... ON a.k = b.k`, `USING (k)`, `WHERE a.k =
  b.k`, `k IN (SELECT k ...)`) hold the same values, row for row, so every row of the table
  the query reads first finds one partner in each joined table (joined tables keep one row per
  key, so a join does not multiply rows);
- each WHERE (and ON) condition on a column and constants holds on every row: `=`, `<>`, `<`,
  `<=`, `>`, `>=`, `BETWEEN`, `IN (...)`, `LIKE 'prefix%'`, `IS [NOT] NULL`, joined by AND (of
  an OR, the first branch that can hold), with the run's Airflow template variables rendered
  as Airflow renders them for its logical date (spec.sql.airflow_date_values); a sample value
  that already meets the condition is kept, another is replaced by one that meets it;
- every other column the query names holds the row number.

Each side of a top-level UNION reads its own share of the sample's rows. A condition no value
meets (`x > 5 AND x < 3`, an empty data interval) is an Unsatisfiable error naming it and its
place in the query; one it cannot read (a function of a column) is left to the check that
follows: the local run runs every query on the filled tables and a query that returns no
row is an error naming the conditions it could not read.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlspec.spec.sql import TableRef


class Unsatisfiable(Exception):
    """A condition of the query no row can meet: `offset` is where it starts in the rendered
    query."""

    def __init__(self, message: str, offset: int | None):
        super().__init__(message)
        self.offset = offset


@dataclass
class Filled:
    """The tables of one query: table -> column (as the query spells it) -> values, and the
    conditions it could not read (each as SQL, with its offset in the rendered query)."""

    tables: dict[TableRef, dict[str, np.ndarray]] = field(default_factory=dict)
    unread: list[tuple[str, int | None]] = field(default_factory=list)

    def frames(self) -> dict[TableRef, pd.DataFrame]:
        return {ref: pd.DataFrame(columns) for ref, columns in self.tables.items()}


Base = tuple[TableRef, str]  # a column of a table the query reads (name lower-cased)


def fill_query(rendered: str, dialect: str | None, sample: pd.DataFrame) -> Filled:
    """Tables for `rendered` (the query with its template variables in place) that make it
    return the rows of `sample` (the dataset's columns)."""
    import sqlglot
    from sqlglot.optimizer.scope import build_scope

    root = build_scope(sqlglot.parse_one(rendered, read=dialect))
    branches = _branches(root)
    shares = np.array_split(np.arange(len(sample)), len(branches))
    filled = Filled()
    for branch, rows in zip(branches, shares):
        part = _Branch(branch, sample.iloc[rows].reset_index(drop=True))
        part.run()
        filled.unread += part.unread
        for ref, columns in part.tables().items():
            target = filled.tables.setdefault(ref, {})
            _append(target, columns)
    return filled


def _branches(scope) -> list:
    if scope.set_operation_scopes and _is_set(scope):
        return [b for child in scope.set_operation_scopes for b in _branches(child)]
    return [scope]


def _is_set(scope) -> bool:
    from sqlglot import exp

    return isinstance(scope.expression, exp.SetOperation)


def _append(target: dict[str, np.ndarray], columns: dict[str, np.ndarray]) -> None:
    """Rows of one branch after those of another, for a table both read (a column one lacks is null)."""
    before = len(next(iter(target.values()))) if target else 0
    after = len(next(iter(columns.values()))) if columns else 0
    for name in set(target) | set(columns):
        old = target.get(name, np.array([None] * before, dtype=object))
        new = columns.get(name, np.array([None] * after, dtype=object))
        target[name] = np.concatenate([old, new]) if before else new


class _Branch:
    """One SELECT (with its CTEs and subqueries) filled for its share of the sample."""

    def __init__(self, scope, sample: pd.DataFrame):
        self.scope, self.sample, self.rows = scope, sample, len(sample)
        self.parent: dict[Base, Base] = {}  # union-find over columns compared for equality
        self.spelling: dict[Base, str] = {}
        self.used: set[Base] = set()
        self.keys: set[Base] = set()  # compared with another table's column
        self.values: dict[Base, np.ndarray] = {}
        self.conditions: dict[Base, list] = {}
        self.unread: list[tuple[str, int | None]] = []
        self.text: set[Base] = set()  # columns an unread condition compares with text
        self.main: set[TableRef] = set()

    # --- columns, traced down to tables ------------------------------------------------------

    def resolve(self, scope, column) -> list[Base]:
        """The table columns an `exp.Column` of `scope` stands for."""
        name = column.name
        if not name:
            return []
        if column.table:
            source = scope.sources.get(column.table)
            return self._through(source, name) if source is not None else []
        sources = list(scope.selected_sources.values()) if scope.selected_sources else []
        for _, source in sources:  # an unqualified name: the source that selects it, else the first
            if self._selects(source, name):
                return self._through(source, name)
        return self._through(sources[0][1], name) if sources else []

    def _through(self, source, name: str) -> list[Base]:
        from sqlglot import exp

        if isinstance(source, exp.Table):
            ref = TableRef(source.name, source.db, source.catalog)
            base = (ref, name.lower())
            self.spelling.setdefault(base, name)
            return [base]
        found = []
        for branch in _branches(source) if _is_set(source) else [source]:
            projection = self._projection(branch, name)
            if projection is None:
                continue
            if isinstance(projection, exp.Star):  # `*` or `t.*`: the name, from the source it reads
                found += self._star(branch, projection, name)
            elif isinstance(projection.unalias(), exp.Column):
                found += self.resolve(branch, projection.unalias())
            else:  # an expression (SUM(x)): its own inputs are used, the value is derived
                for inner in projection.find_all(exp.Column):
                    self.used.update(self.resolve(branch, inner))
        return found

    def _projection(self, scope, name: str):
        from sqlglot import exp

        star = None
        for projection in scope.expression.expressions:
            if isinstance(projection, exp.Star) or (isinstance(projection, exp.Column)
                                                     and isinstance(projection.this, exp.Star)):
                star = star or projection
            elif projection.alias_or_name.lower() == name.lower():
                return projection
        return star if star is None or isinstance(star, exp.Star) else exp.Star(**{"this": star.table})

    def _star(self, scope, star, name: str) -> list[Base]:
        table = star.args.get("this")
        if table:
            source = scope.sources.get(str(table))
            return self._through(source, name) if source is not None else []
        sources = list(scope.selected_sources.values())
        return self._through(sources[0][1], name) if sources else []

    def _selects(self, source, name: str) -> bool:
        from sqlglot import exp

        if isinstance(source, exp.Table):
            return False
        return any(not isinstance(p, exp.Star) and p.alias_or_name.lower() == name.lower()
                   for branch in (_branches(source) if _is_set(source) else [source])
                   for p in branch.expression.expressions)

    # --- equalities -----------------------------------------------------------------------------

    def find(self, base: Base) -> Base:
        while self.parent.get(base, base) != base:
            base = self.parent[base]
        return base

    def join(self, left: list[Base], right: list[Base]) -> None:
        for a in left:
            for b in right:
                self.keys.update((a, b))
                ra, rb = self.find(a), self.find(b)
                if ra != rb:
                    self.parent[rb] = ra

    # --- the query ------------------------------------------------------------------------------

    def run(self) -> None:
        from sqlglot import exp

        self.main = self._first_tables(self.scope)
        # columns the dataset selects
        for name in self.sample.columns:
            for base in self._through(self.scope, name):
                self.values.setdefault(self.find(base), None)
                self.used.add(base)
                self._set_sample(base, name)
        for scope in self.scope.traverse():
            for column in scope.columns:
                self.used.update(self.resolve(scope, column))
            select = scope.expression
            if not isinstance(select, exp.Select):
                continue
            for join in select.args.get("joins") or []:
                if join.args.get("on") is not None:
                    self.condition(scope, join.args["on"])
                for identifier in join.args.get("using") or []:
                    left = self._through(self._first_source(scope), identifier.name)
                    right = self._through(scope.sources.get(join.this.alias_or_name), identifier.name)
                    self.join(left, right)
            where = select.args.get("where")
            if where is not None:
                self.condition(scope, where.this)
            having = select.args.get("having")
            if having is not None:
                self.unread.append((having.this.sql(), _offset(having.this)))

    def _first_tables(self, scope) -> set[TableRef]:
        """The tables whose rows are the query's rows: the first source's, through CTEs,
        subqueries and every side of a UNION (the others are joined to them)."""
        from sqlglot import exp

        source = self._first_source(scope)
        if isinstance(source, exp.Table):
            return {TableRef(source.name, source.db, source.catalog)}
        if source is None:
            return set()
        return set().union(*(self._first_tables(b) for b in (_branches(source) if _is_set(source) else [source])))

    @staticmethod
    def _first_source(scope):
        sources = list(scope.selected_sources.values()) if scope.selected_sources else []
        return sources[0][1] if sources else None

    def condition(self, scope, node) -> None:
        """Make the condition `node` of `scope` hold (equalities join columns)."""
        from sqlglot import exp

        node = node.unnest() if isinstance(node, exp.Paren) else node
        if isinstance(node, exp.And):
            self.condition(scope, node.left)
            self.condition(scope, node.right)
            return
        if isinstance(node, exp.Or):  # the first side that can be made to hold
            for side in (node.left, node.right):
                if self._readable(scope, side):
                    self.condition(scope, side)
                    return
            self.unread.append((node.sql(), _offset(node)))
            return
        if isinstance(node, exp.EQ) and isinstance(node.left, exp.Column) and isinstance(node.right, exp.Column):
            self.join(self.resolve(scope, node.left), self.resolve(scope, node.right))
            return
        if isinstance(node, exp.In) and isinstance(node.this, exp.Column) and node.args.get("query") is not None:
            inner = node.args["query"].unnest()
            sub = next((s for s in scope.subquery_scopes if s.expression is inner), None)
            if sub is not None and sub.expression.expressions and \
                    isinstance(sub.expression.expressions[0].unalias(), exp.Column):
                self.join(self.resolve(scope, node.this), self.resolve(sub, sub.expression.expressions[0].unalias()))
                return
        rule = _rule(node)
        if rule is None:
            self.unread.append((node.sql(), _offset(node)))
            if any(isinstance(v, exp.Literal) and v.is_string for v in node.find_all(exp.Literal)):
                for column in node.find_all(exp.Column):  # compared with text: text, not the row number
                    self.text.update(self.resolve(scope, column))
            return
        column, test = rule
        for base in self.resolve(scope, column):
            self.conditions.setdefault(base, []).append((test, node.sql(), _offset(node)))

    def _readable(self, scope, node) -> bool:
        from sqlglot import exp

        node = node.unnest() if isinstance(node, exp.Paren) else node
        if isinstance(node, exp.And):
            return self._readable(scope, node.left) and self._readable(scope, node.right)
        if isinstance(node, exp.Or):
            return self._readable(scope, node.left) or self._readable(scope, node.right)
        if isinstance(node, exp.EQ) and isinstance(node.left, exp.Column) and isinstance(node.right, exp.Column):
            return True
        return _rule(node) is not None

    # --- values ---------------------------------------------------------------------------------

    def _set_sample(self, base: Base, name: str) -> None:
        self.values[self.find(base)] = np.asarray(self.sample[name].to_numpy())

    def tables(self) -> dict[TableRef, dict[str, np.ndarray]]:
        classes: dict[Base, list[Base]] = {}
        for base in self.used | set(self.values) | set(self.conditions) | self.keys:
            classes.setdefault(self.find(base), []).append(base)
        sampled = {self.find(b): v for b, v in self.values.items() if v is not None}
        values: dict[Base, np.ndarray] = {}
        for root, members in sorted(classes.items(), key=lambda item: _key(item[0])):
            array = sampled.get(root)
            tests = [t for m in members for t in self.conditions.get(m, [])]
            if array is None:  # a column of the query's own: the row number, or what its conditions compare it with
                array = np.arange(1, self.rows + 1, dtype="int64")
                kind = _written_kind(tests)
                if kind not in ("number", "null"):
                    array = np.array([_choose(kind, tests)] * self.rows, dtype=object)
                if kind == "time":
                    array = pd.to_datetime(pd.Series(array)).to_numpy()
                elif kind == "number" and not tests and any(m in self.text for m in members):
                    array = array.astype(str).astype(object)
            if tests:
                array = _meet(array, tests)
            for member in members:
                values[member] = array
        tables: dict[TableRef, dict[str, np.ndarray]] = {}
        for (ref, name), array in sorted(values.items(), key=lambda item: _key(item[0])):
            tables.setdefault(ref, {})[self.spelling.get((ref, name), name)] = array
        for ref, columns in tables.items():
            if ref in self.main:
                continue
            keys = sorted({self.spelling.get((ref, n), n) for (r, n) in self.keys if r == ref})
            if keys:  # one row per key value: a joined table does not multiply the rows of the first
                keep = np.ones(len(next(iter(columns.values()))), dtype=bool)
                for key in keys:
                    keep &= ~pd.Series(columns[key]).astype(str).duplicated().to_numpy()
                tables[ref] = {name: array[keep] for name, array in columns.items()}
        return tables


def _key(base: Base) -> tuple:
    return (base[0].qualified, base[1])


def _offset(node) -> int | None:
    from sqlglot import exp

    starts = [part.meta["start"] for part in [node, *node.find_all(exp.Identifier, exp.Literal)]
              if "start" in (getattr(part, "meta", None) or {})]
    return min(starts) if starts else None


# --- conditions on a column ------------------------------------------------------------------------


@dataclass(frozen=True)
class Test:
    """What a condition asks of a column's values."""

    op: str  # eq, ne, in, lt, le, gt, ge, between, like, null, notnull
    values: tuple = ()


_OPS = {"EQ": "eq", "NEQ": "ne", "LT": "lt", "LTE": "le", "GT": "gt", "GTE": "ge"}
_FLIPPED = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}


def _rule(node):
    """(the column, its Test) of a condition on one column and constants, or None."""
    from sqlglot import exp

    negated = isinstance(node, exp.Not)
    inner = node.this if negated else node
    if isinstance(inner, exp.Is) and isinstance(inner.this, exp.Column) and isinstance(inner.expression, exp.Null):
        return inner.this, Test("notnull" if negated else "null")
    if negated:
        return None
    if isinstance(node, exp.Column):  # `WHERE active`
        return node, Test("eq", (True,))
    name = type(node).__name__
    if name in _OPS:
        left, right = node.left, node.right
        if isinstance(left, exp.Column) and _constant(right) is not None:
            return left, Test(_OPS[name], (_constant(right),))
        if isinstance(right, exp.Column) and _constant(left) is not None:
            return right, Test(_FLIPPED[_OPS[name]], (_constant(left),))
        return None
    if isinstance(node, exp.Between) and isinstance(node.this, exp.Column):
        low, high = _constant(node.args.get("low")), _constant(node.args.get("high"))
        if low is not None and high is not None:
            return node.this, Test("between", (low, high))
    if isinstance(node, exp.In) and isinstance(node.this, exp.Column) and node.expressions:
        values = [_constant(v) for v in node.expressions]
        if all(v is not None for v in values):
            return node.this, Test("in", tuple(values))
    if isinstance(node, exp.Like) and isinstance(node.this, exp.Column):
        pattern = _constant(node.expression)
        if isinstance(pattern, str):
            return node.this, Test("like", (pattern,))
    return None


def _constant(node):
    """A literal's value: a number, or text (a date or time stays text until compared)."""
    from sqlglot import exp

    if node is None:
        return None
    if isinstance(node, exp.Paren):
        return _constant(node.this)
    if isinstance(node, exp.Cast):
        return _constant(node.this)
    if isinstance(node, exp.Neg):
        value = _constant(node.this)
        return -value if isinstance(value, (int, float)) else None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    return None


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _meet(array: np.ndarray, tests: list[tuple[Test, str, int | None]]) -> np.ndarray:
    """`array` with each value no condition rejects kept, the others replaced by one that meets
    them all; Unsatisfiable when there is none."""
    kind = _kind(array, tests)
    if kind == "null":
        return np.array([None] * len(array), dtype=object)
    ok = np.ones(len(array), dtype=bool)
    for test, _, _ in tests:
        ok &= _holds(array, test, kind)
    if ok.all():
        return array
    choice = _choose(kind, tests)
    if kind == "time":
        series = pd.Series(array).copy()
        series[~ok] = choice
        return series.to_numpy()
    out = array.astype(object).copy()
    out[~ok] = choice
    if kind in ("number", "bool") and array.dtype.kind in "iufb":
        out = out.astype(array.dtype)
    return out


_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


def _written_kind(tests) -> str:
    """What a column the dataset does not declare holds, from the constants it is compared with:
    dates (`2024-01-01`), times (`2024-01-01 00:00:00+00:00`), numbers, else text."""
    if any(t.op == "null" for t, _, _ in tests):
        return "null"
    constants = [v for t, _, _ in tests for v in t.values]
    if not constants or all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in constants):
        return "number"
    if all(isinstance(v, str) and _DATE.fullmatch(v) for v in constants):
        return "date"
    if all(isinstance(v, str) and (_TIME.match(v) or _DATE.fullmatch(v)) for v in constants):
        return "time"
    if all(isinstance(v, bool) for v in constants):
        return "bool"
    return "text"


def _kind(array: np.ndarray, tests) -> str:
    if any(t.op == "null" for t, _, _ in tests):
        return "null"
    if array.dtype.kind in "mM":
        return "time"
    if array.dtype.kind == "O" and len(array) and all(isinstance(v, dt.datetime) for v in array):
        return "time"
    if array.dtype.kind == "O" and len(array) and all(isinstance(v, dt.date) for v in array):
        return "date"
    if array.dtype.kind == "O" and len(array) and all(isinstance(v, bool) for v in array):
        return "bool"
    if array.dtype.kind == "b":
        return "bool"
    if array.dtype.kind in "iuf":
        return "number"
    return "text"


def _as_time(value):
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def _cast(value, kind: str):
    if kind == "time":
        return _as_time(value)
    if kind == "date":
        return dt.date.fromisoformat(value) if isinstance(value, str) and _DATE.fullmatch(value) else value
    if kind == "number":
        return float(value) if not isinstance(value, (int, float)) else value
    return value


def _holds(array: np.ndarray, test: Test, kind: str) -> np.ndarray:
    if test.op == "notnull":
        return pd.notna(pd.Series(array)).to_numpy()
    if test.op == "null" or kind == "date" and array.dtype.kind != "O":
        return np.zeros(len(array), dtype=bool)
    series = pd.Series(array)
    try:
        values = [_cast(v, kind) for v in test.values]
        if test.op == "like":
            regex = "^" + re.escape(values[0]).replace("%", ".*").replace("_", ".") + "$"
            return series.astype(str).str.match(regex).to_numpy()
        if test.op == "in":
            return series.isin(values).to_numpy()
        if test.op == "between":
            return ((series >= values[0]) & (series <= values[1])).to_numpy()
        compare = {"eq": series.__eq__, "ne": series.__ne__, "lt": series.__lt__, "le": series.__le__,
                   "gt": series.__gt__, "ge": series.__ge__}[test.op]
        return np.asarray(compare(values[0]), dtype=bool)
    except (TypeError, ValueError):
        return np.zeros(len(array), dtype=bool)


def _choose(kind: str, tests):
    """One value every condition accepts."""
    equal, members, excluded, like = None, None, [], None
    low, low_open, high, high_open = None, False, None, False
    for test, text, offset in tests:
        values = [_cast(v, kind) for v in test.values]
        if test.op == "eq" or (test.op == "in" and len(values) == 1):
            if equal is not None and equal != values[0]:
                raise Unsatisfiable(f"`{text}` asks for {values[0]!r}, another condition for {equal!r}", offset)
            equal = values[0]
        elif test.op == "in":
            members = [v for v in values if members is None or v in members]
        elif test.op == "ne":
            excluded.append(values[0])
        elif test.op == "like":
            like = test.values[0].replace("%", "").replace("_", "x")
        elif test.op in ("gt", "ge", "between"):
            value = values[0]
            if low is None or value > low or (value == low and test.op == "gt"):
                low, low_open = value, test.op == "gt"
        if test.op in ("lt", "le", "between"):
            value = values[-1]
            if high is None or value < high or (value == high and test.op == "lt"):
                high, high_open = value, test.op == "lt"
    candidates = ([equal] if equal is not None else members if members is not None else
                  [like] if like is not None else _inside(kind, low, low_open, high, high_open))
    for value in candidates:
        if value in excluded:
            continue
        if low is not None and (value < low or (low_open and value == low)):
            continue
        if high is not None and (value > high or (high_open and value == high)):
            continue
        return value
    what = " AND ".join(f"`{text}`" for _, text, _ in tests)
    first = next((offset for _, _, offset in tests if offset is not None), None)
    raise Unsatisfiable(f"no value meets {what}", first)


def _inside(kind: str, low, low_open: bool, high, high_open: bool) -> list:
    if kind == "text":  # in the order of text: the bound, or just after (before) it
        return [low + ("0" if low_open else "")] if low is not None else \
            [high if not high_open else high[:-1]] if high is not None else ["x", "y"]
    step = {"time": pd.Timedelta(seconds=1), "date": dt.timedelta(days=1)}.get(kind, 1)
    if low is not None:
        first = low + step if low_open else low
        return [first, first + step]
    if high is not None:
        last = high - step if high_open else high
        return [last, last - step]
    return {"number": [1, 2], "bool": [True, False], "date": [dt.date(2024, 1, 1)],
            "time": [pd.Timestamp("2024-01-01")]}.get(kind, ["x", "y"])
