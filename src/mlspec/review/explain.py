"""`mlspec explain`: the effective value at a key path and where it came from."""

from __future__ import annotations

import json
from dataclasses import dataclass

from mlspec.compiler.session import SpecUnit
from mlspec.errors import UsageError
from mlspec.review.feeds import Feeds, files_fed_by


@dataclass(frozen=True)
class Explanation:
    key_path: str
    value: object
    environment: str | None
    origin: str  # "spec", "override" or "default"
    where: str  # file:line:col, or a phrase for defaults
    feeds: Feeds | None = None  # None for a mapping or a list: ask about one of its values

    def render(self) -> str:
        rendered = json.dumps(self.value, sort_keys=True, ensure_ascii=False)
        scope = f" in environment `{self.environment}`" if self.environment else ""
        lines = [f"{self.key_path} = {rendered}{scope}", f"  from {self.where}"]
        if self.feeds is not None:
            if self.feeds.files:
                lines.append("  feeds " + ", ".join(self.feeds.files))
            elif self.feeds.only_this_value:
                lines.append("  feeds what the spec builds on it: any other value here is refused or breaks a"
                             " reference")
            else:
                lines.append("  feeds no generated file: changing it changes nothing")
        return "\n".join(lines) + "\n"


def explain(unit: SpecUnit, key_path: str, env: str | None, memo: dict | None = None,
            with_feeds: bool = True) -> Explanation:
    """The value at `key_path` of a checked spec (`unit.ok`), in `env` when given; a
    UsageError when the path names nothing. `memo`: see feeds.files_fed_by; `with_feeds`:
    False to skip finding the files the value feeds (two compiles)."""
    from mlspec.source.overlay import Overlaid

    source = unit.source
    if env is not None:
        overlaid = unit.overlays[env]
        spec = _environment_spec(unit, env)
    else:
        overlaid, spec = Overlaid("", source.data, source.positions), unit.spec
    path = tuple(part for part in key_path.split(".") if part)
    value = spec.model_dump(mode="json", by_alias=True, exclude_none=False)
    for depth, part in enumerate(path):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
            path = path[:depth] + (int(part),) + path[depth + 1:]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            options = ", ".join(sorted(map(str, value))) if isinstance(value, dict) else "none (not a mapping)"
            raise UsageError(f"no `{part}` under `{'.'.join(map(str, path[:depth])) or 'the top level'}`;"
                             f" keys: {options}")
    kind, span = overlaid.origin(path)
    feeds = None if isinstance(value, (dict, list)) or not with_feeds else _feeds(unit, overlaid, path, kind, value,
                                                                                  memo)
    where = {
        "override": f"{source.path}:{span.line}:{span.col} (environment `{env}` override)" if span else "",
        "spec": f"{source.path}:{span.line}:{span.col}" if span else "",
        "default": "default (not written in the spec)",
    }[kind]
    return Explanation(key_path, value, env, kind, where, feeds)


def _feeds(unit: SpecUnit, overlaid, path: tuple, kind: str, value, memo: dict | None = None) -> Feeds | None:
    """What the value feeds: its own text is changed where it is written (the override, or
    the base spec); a default is first written out, then changed."""
    if kind == "override":
        return files_fed_by(unit, overlaid.written_at.get(path, path), memo=memo)
    if kind == "spec":
        return files_fed_by(unit, path, memo=memo)
    if value is None:
        return None
    from mlspec.compiler.session import load_text
    from mlspec.source.yaml_edit import EditError, set_value

    try:
        written = load_text(unit.path, set_value(unit.source.text, tuple(map(str, path)), value))
    except EditError:
        return None
    return files_fed_by(written, path) if written.ok else None


def _environment_spec(unit: SpecUnit, env: str):
    from mlspec.spec.models import MLSystemSpec

    # The overlaid document validated when the unit was checked; validating it again here
    # gives the spec model with every default filled in.
    return MLSystemSpec.model_validate(unit.overlays[env].data)
