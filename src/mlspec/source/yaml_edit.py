"""Edit one value of a YAML file and leave every other byte as it was.

A full round-trip dump (load, change, dump) re-flows long flow sequences, re-indents
and re-quotes, so the diff of a one-value change would touch unrelated lines. Instead
ruamel.yaml composes the document into nodes with exact start/end marks, and the edit is
spliced into the original text at those marks: a changed scalar is replaced in place
(keeping its quote style), a new key is inserted after the last entry of its mapping in
that mapping's own style (block: a new line at the keys' indentation; flow: `, key: value`
before the closing brace). Comments, order, quoting and formatting elsewhere are untouched.
"""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_./@~-][A-Za-z0-9_./:@+=~%-]*$")
_NOT_PLAIN = re.compile(r"^(?:[-+]?[0-9][0-9_.:eE+-]*|\.inf|\.nan|true|false|yes|no|on|off|null|~|y|n)$",
                        re.IGNORECASE)


class EditError(Exception):
    """The document's shape does not allow the edit (e.g. a scalar where a mapping is needed)."""


def format_scalar(value: Any, style: str | None = None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if style == "'" and "\n" not in text:
        return "'" + text.replace("'", "''") + "'"
    if style is None and _PLAIN_SAFE.match(text) and not _NOT_PLAIN.match(text):
        return text
    return json.dumps(text, ensure_ascii=False)  # a YAML double-quoted scalar


def _flow_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{format_scalar(k)}: {_flow_value(v)}" for k, v in value.items()) + "}"
    return format_scalar(value)


def _block_lines(key: str, value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict) and value:
        lines = [f"{pad}{format_scalar(key)}:"]
        for k, v in value.items():
            lines += _block_lines(k, v, indent + 2)
        return lines
    return [f"{pad}{format_scalar(key)}: {_flow_value(value)}"]


def _compose(text: str):
    from ruamel.yaml import YAML

    return YAML(typ="rt").compose(text)


def _is_mapping(node) -> bool:
    return type(node).__name__ == "MappingNode"


def _is_scalar(node) -> bool:
    return type(node).__name__ == "ScalarNode"


def mapping_items(node) -> list[tuple[str, Any]]:
    return [(k.value, v) for k, v in node.value] if _is_mapping(node) else []


def _get(node, key: str):
    for k, v in node.value:
        if _is_scalar(k) and k.value == key:
            return v
    return None


def _end_line(node) -> int:
    """The last line (0-based) a node's text occupies."""
    if _is_mapping(node) and not node.flow_style and node.value:
        return _end_line(node.value[-1][1])
    if type(node).__name__ == "SequenceNode" and not node.flow_style and node.value:
        return _end_line(node.value[-1])
    end = node.end_mark
    return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line


def set_value(text: str, path: tuple[str, ...], value: Any) -> str:
    """Return `text` with the value at `path` (mapping keys from the root) set to `value`,
    creating missing mappings on the way."""
    node = _compose(text)
    if node is None or not _is_mapping(node):
        raise EditError("the document is not a mapping")
    for depth, key in enumerate(path):
        child = _get(node, key)
        if child is None:
            nested: Any = value
            for part in reversed(path[depth + 1:]):
                nested = {part: nested}
            return _insert(text, node, key, nested)
        if depth == len(path) - 1:
            if not _is_scalar(child) or isinstance(value, dict):
                raise EditError(f"`{'.'.join(path)}` is not a single value")
            if child.style in ("|", ">"):
                raise EditError(f"`{'.'.join(path)}` is a block scalar")
            start, end = child.start_mark.index, child.end_mark.index
            if child.value == "" and child.style is None and start == end:  # `key:` with nothing after it
                return text[:start] + " " + format_scalar(value) + text[end:] if text[start - 1:start] == ":" \
                    else text[:start] + format_scalar(value) + text[end:]
            return text[:start] + format_scalar(value, child.style if isinstance(value, str) else None) + text[end:]
        if not _is_mapping(child):
            raise EditError(f"`{'.'.join(path[:depth + 1])}` is not a mapping")
        node = child
    raise EditError("empty path")


def _insert(text: str, mapping, key: str, value: Any) -> str:
    if mapping.flow_style:
        entry = f"{format_scalar(key)}: {_flow_value(value)}"
        if mapping.value:
            at = mapping.value[-1][1].end_mark.index
            return text[:at] + ", " + entry + text[at:]
        at = mapping.start_mark.index + 1  # just inside `{`
        return text[:at] + entry + text[at:]
    if not mapping.value:
        raise EditError("cannot add to an empty block mapping")
    indent = mapping.value[0][0].start_mark.column
    last_line = _end_line(mapping.value[-1][1])
    lines = text.splitlines(keepends=True)
    if last_line >= len(lines):
        last_line = len(lines) - 1
    if not lines[last_line].endswith("\n"):
        lines[last_line] += "\n"
    new = "".join(line + "\n" for line in _block_lines(key, value, indent))
    return "".join(lines[:last_line + 1]) + new + "".join(lines[last_line + 1:])


def remove_key(text: str, path: tuple[str, ...]) -> str:
    """Return `text` without the key at `path` and its value (unchanged when it is not there).
    In a block mapping the lines the entry spans go; in a flow mapping the entry and one comma.
    A block mapping is never emptied (its parent would become null): EditError."""
    node = _compose(text)
    if node is None or not _is_mapping(node) or not path:
        raise EditError("the document is not a mapping")
    for key in path[:-1]:
        child = _get(node, key)
        if child is None:
            return text
        if not _is_mapping(child):
            raise EditError(f"`{'.'.join(path[:path.index(key) + 1])}` is not a mapping")
        node = child
    index = next((i for i, (k, _) in enumerate(node.value) if _is_scalar(k) and k.value == path[-1]), None)
    if index is None:
        return text
    key_node, value = node.value[index]
    if node.flow_style:
        start, end = key_node.start_mark.index, value.end_mark.index
        if index + 1 < len(node.value):
            end = node.value[index + 1][0].start_mark.index  # `key: value, ` up to the next key
        elif index > 0:
            start = node.value[index - 1][1].end_mark.index  # `, key: value` after the previous value
        return text[:start] + text[end:]
    if len(node.value) == 1:
        raise EditError(f"removing `{'.'.join(path)}` would leave its mapping empty")
    lines = text.splitlines(keepends=True)
    first, last = key_node.start_mark.line, _end_line(value)
    if lines[first][:key_node.start_mark.column].strip():
        raise EditError(f"`{'.'.join(path)}` does not start its line")  # e.g. `- key:` of a list item
    return "".join(lines[:first] + lines[last + 1:])
