"""Which generated files a spec value feeds, found by changing it and compiling again.

A value feeds a file when changing the value changes the file. Rather than keep a table of
which target reads which field (a second truth that drifts from the code), the value is
changed in the spec's text (a small, valid change: a number nudged, a flag flipped, another
allowed word, a letter added), both versions are compiled in memory, and the files that
differ are the answer. `mlspec explain` shows it, so it never calls a value "in effect"
when no output uses it; the test that nothing in a spec is silently ignored asks it of every
value the example specs write.

Outputs a tool derives from other outputs (the kfp IR, from the pipeline source) are not
derived again: their source's change stands in for theirs (`compile_unit(derived=False)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlspec.compiler.session import SpecUnit, load_text
from mlspec.source.positions import value_at

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Feeds:
    files: tuple[str, ...] = ()  # generated files (system-relative) the value changes
    # True when no change tried was valid (a reference, an identifier): the spec checks the
    # value, and any other value would be refused with a diagnostic.
    only_this_value: bool = False
    tried: tuple[str, ...] = field(default=(), compare=False)  # the changes tried, as YAML scalars

    @property
    def used(self) -> bool:
        return bool(self.files) or self.only_this_value


def files_fed_by(unit: SpecUnit, path: tuple, out_root: Path = Path("generated"),
                 memo: dict | None = None) -> Feeds | None:
    """What the scalar written at `path` feeds (a path in the document as written, e.g.
    `("environments", "dev", "overrides", "models.churn.serving.replicas.max")`); None when
    there is no written scalar there to change. `memo`: a dict a caller keeps for one unit
    while it asks about several of its values (an editor's hovers), so the unit's own output
    is compiled once and each value is tried once."""
    if memo is None:
        return _files_fed_by(unit, path, out_root, {})
    if ("feeds", path) not in memo:
        memo[("feeds", path)] = _files_fed_by(unit, path, out_root, memo)
    return memo[("feeds", path)]


def _files_fed_by(unit: SpecUnit, path: tuple, out_root: Path, memo: dict) -> Feeds | None:
    from mlspec.spec.validate import allowed_values

    span = unit.source.positions.value_span(path) if unit.source else None
    value = value_at(unit.source.data, path) if unit.source else None
    if span is None or span.end_line != span.line or isinstance(value, (dict, list)) or value is None:
        return None  # nothing written, a collection, or a block scalar: no one scalar to change
    if "outputs" not in memo:
        memo["outputs"] = _outputs(unit, out_root)
    base = memo["outputs"]
    tried = []
    for candidate in _changes(value, allowed_values(_model_path(path))):
        scalar = _yaml_scalar(candidate)
        tried.append(scalar)
        changed = load_text(unit.path, _splice(unit.source.text, span, scalar), out_root)
        if not changed.ok:
            continue
        outputs = _outputs(changed, out_root)
        differs = sorted(p for p in set(base) | set(outputs) if p != MANIFEST and base.get(p) != outputs.get(p))
        return Feeds(tuple(differs), tried=tuple(tried))
    return Feeds(only_this_value=True, tried=tuple(tried))


def _outputs(unit: SpecUnit, out_root: Path) -> dict[str, str]:
    from mlspec.compiler.compile import compile_unit

    result = compile_unit(unit, out_root, derived=False)
    return result.files if result.ok else {}


def _model_path(path: tuple) -> tuple:
    """The path the spec models see: an override's dotted key is split back into its parts."""
    if len(path) >= 4 and path[0] == "environments" and path[2] == "overrides":
        return tuple(str(path[3]).split(".")) + path[4:]
    return path


def _changes(value, allowed: list | None) -> list:
    """Small, likely valid changes of a value, most likely first."""
    if allowed:
        return [option for option in allowed if option != value]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1]
    if isinstance(value, float):
        return [value / 2 if value else 0.5, round(value + 0.01, 6), value * 2]
    text = str(value)
    return [text + "x", text[:-1] + ("y" if not text.endswith("y") else "z") if text else "x", text + "1"]


def _yaml_scalar(value) -> str:
    from mlspec.source.yaml_edit import format_scalar

    return format_scalar(value)


def _splice(text: str, span, replacement: str) -> str:
    """`text` with the characters of a one-line `span` replaced."""
    lines = text.split("\n")
    line = lines[span.line - 1]
    end = span.end_col if span.end_line == span.line else len(line) + 1
    lines[span.line - 1] = line[:span.col - 1] + replacement + line[end - 1:]
    return "\n".join(lines)
