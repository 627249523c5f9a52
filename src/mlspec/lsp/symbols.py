"""The references of the spec language, indexed from a loaded document: where each named
thing is defined and every place that names it.

    dataset     datasets.<D>                 <- featureViews.*.source, models.*.label (`D.c`),
                                                models.*.monitoring.drift.predictions
    column      datasets.<D>.columns.<c>     <- featureViews.*.{timestampField, features keys},
                                                entities.*.joinKeys (of each view's source),
                                                models.*.label (`d.C`), fairness.sensitive,
                                                evaluation.split.column, expectations[*].column
    entity      entities.<E>                 <- featureViews.*.entities
    view        featureViews.<V>             <- models.*.features (`V.f`, `V.*`)
    feature     featureViews.<V>.features.<f> <- models.*.features (`v.F`)
    slo         slos.<S>                     <- models.*.rollout.slo (in overrides too)
    model       models.<M>                   <- environments.*.overrides (`models.M.serving...`)

Each occurrence is the exact characters of the name (a part of `view.feature` is its own
range), checked against the text, so a rename is a set of position edits that leave every
other byte, comments and layout included, as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlspec.lsp.text import TextEdit, TextRange, part_of_scalar

Symbol = tuple  # ("dataset", name), ("column", dataset, name), ("feature", view, name), ...

KINDS = {"dataset": "dataset", "column": "column", "entity": "entity", "view": "feature view",
         "feature": "feature", "slo": "SLO", "model": "model"}
# What a rename may change: a name defined once and referred to by name.
RENAMEABLE = ("dataset", "view", "feature", "column", "slo", "entity")
_SECTIONS = {"datasets": "dataset", "entities": "entity", "featureViews": "view", "models": "model", "slos": "slo"}


@dataclass(frozen=True)
class Occurrence:
    symbol: Symbol
    range: TextRange
    definition: bool = False


def describe(symbol: Symbol) -> str:
    kind = KINDS[symbol[0]]
    if symbol[0] in ("column", "feature"):
        return f"{kind} `{symbol[2]}` of `{symbol[1]}`"
    return f"{kind} `{symbol[1]}`"


class Index:
    """Every occurrence of a named thing in one document."""

    def __init__(self, occurrences: list[Occurrence], sources: dict[str, str]):
        self.occurrences = occurrences
        self.sources = sources  # feature view -> its source dataset

    @classmethod
    def build(cls, data, positions, lines: list[str]) -> "Index":
        builder = _Builder(data if isinstance(data, dict) else {}, positions, lines)
        builder.run()
        return cls(builder.found, builder.sources)

    def at(self, line: int, col: int) -> list[Occurrence]:
        return [o for o in self.occurrences if o.range.contains(line, col)]

    def definitions(self, symbol: Symbol) -> list[Occurrence]:
        return [o for o in self.occurrences if o.symbol == symbol and o.definition]

    def references(self, symbol: Symbol, include_definition: bool = False) -> list[Occurrence]:
        return [o for o in self.occurrences if o.symbol == symbol and (include_definition or not o.definition)]

    def symbol_at(self, line: int, col: int) -> Symbol | None:
        """The thing named at the place: what is defined there, else what is referred to."""
        here = self.at(line, col)
        for occurrence in here:
            if occurrence.definition:
                return occurrence.symbol
        return here[0].symbol if here else None

    def targets_at(self, line: int, col: int) -> list[Occurrence]:
        """Where "go to definition" leads from the place: the definitions of what is referred
        to there (a feature view's feature key refers to its source's column)."""
        found: list[Occurrence] = []
        for occurrence in self.at(line, col):
            if not occurrence.definition:
                found += [d for d in self.definitions(occurrence.symbol) if d not in found]
        return found

    def rename_group(self, symbol: Symbol) -> set[Symbol]:
        """What renaming `symbol` renames together: a feature is a column of its view's source,
        so a feature and that column (and the same feature of other views over it) go as one."""
        if symbol[0] == "feature":
            dataset = self.sources.get(symbol[1])
            column = ("column", dataset, symbol[2])
            if dataset is not None and self.definitions(column):
                return self.rename_group(column)
            return {symbol}
        if symbol[0] == "column":
            views = [v for v, d in self.sources.items() if d == symbol[1]]
            return {symbol} | {("feature", v, symbol[2]) for v in views}
        return {symbol}

    def rename_edits(self, symbol: Symbol, new_name: str) -> list[TextEdit]:
        group = self.rename_group(symbol)
        ranges = sorted({o.range for o in self.occurrences if o.symbol in group})
        return [TextEdit(r, new_name) for r in ranges]


class _Builder:
    def __init__(self, data: dict, positions, lines: list[str]):
        self.data = data
        self.positions = positions
        self.lines = lines
        self.found: list[Occurrence] = []
        self.sources: dict[str, str] = {}

    # --- recording ---------------------------------------------------------------------------

    def _define(self, symbol: Symbol, path: tuple) -> None:
        self._key(symbol, path, definition=True)

    def _key(self, symbol: Symbol, path: tuple, definition: bool = False) -> None:
        """The mapping key at `path`, when its text is the name (not a merged `<<` key)."""
        span = self.positions.key_span(path)
        if span is None:
            return
        rng = part_of_scalar(self.lines, span, str(path[-1]), 0, len(str(path[-1])))
        if rng is not None:
            self.found.append(Occurrence(symbol, rng, definition))

    def _value(self, symbol: Symbol, path: tuple, value, start: int = 0, length: int | None = None) -> None:
        if not isinstance(value, str):
            return
        length = len(value) - start if length is None else length
        rng = part_of_scalar(self.lines, self.positions.value_span(path), value, start, length)
        if rng is not None and length > 0:
            self.found.append(Occurrence(symbol, rng))

    def _in_key(self, symbol: Symbol, path: tuple, start: int, length: int) -> None:
        span = self.positions.key_span(path)
        rng = part_of_scalar(self.lines, span, str(path[-1]), start, length) if span else None
        if rng is not None and length > 0:
            self.found.append(Occurrence(symbol, rng))

    # --- the sections --------------------------------------------------------------------------

    def run(self) -> None:
        datasets = _mapping(self.data.get("datasets"))
        views = _mapping(self.data.get("featureViews"))
        for name, view in views.items():
            source = _mapping(view).get("source")
            if isinstance(source, str):
                self.sources[str(name)] = source
        for name, dataset in datasets.items():
            self._dataset(str(name), _mapping(dataset))
        self._entities(_mapping(self.data.get("entities")), views)
        for name, view in views.items():
            self._view(str(name), _mapping(view))
        for name, model in _mapping(self.data.get("models")).items():
            self._model(str(name), _mapping(model))
        for name in _mapping(self.data.get("slos")):
            self._define(("slo", str(name)), ("slos", name))
        for name, environment in _mapping(self.data.get("environments")).items():
            overrides = _mapping(environment).get("overrides")
            if isinstance(overrides, dict):
                self._overrides(overrides, ("environments", name, "overrides"), ())

    def _dataset(self, name: str, dataset: dict) -> None:
        path = ("datasets", name)
        self._define(("dataset", name), path)
        for column in _mapping(dataset.get("columns")):
            self._define(("column", name, str(column)), path + ("columns", column))
        for index, expectation in enumerate(_sequence(dataset.get("expectations"))):
            column = _mapping(expectation).get("column")
            self._value(("column", name, column), path + ("expectations", index, "column"), column)

    def _entities(self, entities: dict, views: dict) -> None:
        for name, entity in entities.items():
            self._define(("entity", str(name)), ("entities", name))
            datasets = sorted({self.sources[str(v)] for v, view in views.items()
                               if str(v) in self.sources and name in _sequence(_mapping(view).get("entities"))})
            for index, key in enumerate(_sequence(_mapping(entity).get("joinKeys"))):
                for dataset in datasets:
                    self._value(("column", dataset, key), ("entities", name, "joinKeys", index), key)

    def _view(self, name: str, view: dict) -> None:
        path = ("featureViews", name)
        self._define(("view", name), path)
        source = self.sources.get(name)
        if source is not None:
            self._value(("dataset", source), path + ("source",), source)
        for index, entity in enumerate(_sequence(view.get("entities"))):
            self._value(("entity", entity), path + ("entities", index), entity)
        if source is not None and isinstance(view.get("timestampField"), str):
            self._value(("column", source, view["timestampField"]), path + ("timestampField",), view["timestampField"])
        for feature in _mapping(view.get("features")):
            self._define(("feature", name, str(feature)), path + ("features", feature))
            if source is not None:
                self._key(("column", source, str(feature)), path + ("features", feature))

    def _model(self, name: str, model: dict) -> None:
        path = ("models", name)
        self._define(("model", name), path)
        for index, reference in enumerate(_sequence(model.get("features"))):
            if not isinstance(reference, str):
                continue
            view, dot, feature = reference.partition(".")
            self._value(("view", view), path + ("features", index), reference, 0, len(view))
            if dot and feature != "*":
                self._value(("feature", view, feature), path + ("features", index), reference, len(view) + 1)
        label = model.get("label")
        label_dataset = None
        if isinstance(label, str) and "." in label:
            label_dataset, _, column = label.partition(".")
            self._value(("dataset", label_dataset), path + ("label",), label, 0, len(label_dataset))
            self._value(("column", label_dataset, column), path + ("label",), label, len(label_dataset) + 1)
        evaluation = _mapping(model.get("evaluation"))
        if label_dataset is not None:
            sensitive = _sequence(_mapping(evaluation.get("fairness")).get("sensitive"))
            for index, column in enumerate(sensitive):
                self._value(("column", label_dataset, column),
                            path + ("evaluation", "fairness", "sensitive", index), column)
            column = _mapping(evaluation.get("split")).get("column")
            self._value(("column", label_dataset, column), path + ("evaluation", "split", "column"), column)
        slo = _mapping(model.get("rollout")).get("slo")
        self._value(("slo", slo), path + ("rollout", "slo"), slo)
        predictions = _mapping(_mapping(model.get("monitoring")).get("drift")).get("predictions")
        self._value(("dataset", predictions), path + ("monitoring", "drift", "predictions"), predictions)

    def _overrides(self, overrides: dict, path: tuple, target: tuple) -> None:
        """Overrides name what they change by a dotted path (`models.churn.serving.replicas.max`)
        or nested mappings (`models: {churn: ...}`), or both: the name of the model, SLO...
        is a part of a key. A rollout's `slo` set by an override refers to an SLO too."""
        for key, value in overrides.items():
            parts = tuple(str(key).split("."))
            here = target + parts
            if len(target) < 2 <= len(here) and here[0] in _SECTIONS:
                name_index = 1 - len(target)  # the name's place among this key's parts
                start = sum(len(p) + 1 for p in parts[:name_index])
                self._in_key((_SECTIONS[here[0]], here[1]), path + (key,), start, len(parts[name_index]))
            if isinstance(value, dict):
                self._overrides(value, path + (key,), here)
            elif len(here) == 4 and here[0] == "models" and here[2:] == ("rollout", "slo"):
                self._value(("slo", value), path + (key,), value)


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _sequence(value) -> list:
    return value if isinstance(value, list) else []

