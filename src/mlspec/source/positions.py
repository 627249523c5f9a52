"""Where each key and value of a YAML document stands in its file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlspec.diagnostics import Span


def value_at(data: Any, path: tuple) -> Any:
    """The value at a key path (keys and list indexes) of the plain document, or None where the
    path leads nowhere: what the position tree locates, read from the data itself."""
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


@dataclass
class PositionTree:
    """Maps a key path (tuple of keys and list indexes) to source spans.

    `values[path]` is the span of the value at `path`; `keys[path]` is the span of the
    mapping key that introduces it (absent for list items and the root).
    """

    values: dict[tuple, Span] = field(default_factory=dict)
    keys: dict[tuple, Span] = field(default_factory=dict)

    def value_span(self, path: tuple) -> Span | None:
        return self.values.get(tuple(path))

    def key_span(self, path: tuple) -> Span | None:
        return self.keys.get(tuple(path))

    def nearest(self, path: tuple, prefer_key: bool = False) -> tuple[tuple, Span | None]:
        """The span of `path`, or of its longest known prefix (pydantic locations can
        name fields that were never written, e.g. a missing required key)."""
        path = tuple(path)
        for cut in range(len(path), -1, -1):
            prefix = path[:cut]
            span = (self.keys.get(prefix) if prefer_key else None) or self.values.get(prefix)
            if span is not None:
                return prefix, span
        return (), None

    def has(self, path: tuple) -> bool:
        return tuple(path) in self.values
