"""Where the cursor stands, read from the text around it rather than from a parse: while a
key is being typed the document is usually not valid YAML (`    sou` under a mapping), so
the path of the mapping being written is found from indentation, the way a person reads it.

    datasets:
      customers:
        source: {sql: "...", connection: wa|       value of datasets.customers.source.connection
        colu|                                      a key of datasets.customers
    models:
      churn:
        features:
          - customer_features.|                    an item of models.churn.features

Only the lines above the cursor are read, each once; a line's own text is matched by
patterns without nested repeats (linear on any line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# indentation, list dashes, then a key (plain or quoted) and its colon
# A key ends at its last character that is not a space, so the pattern has one way to match
# any line (no backtracking over runs of spaces: linear on a line of any length).
_KEY_LINE = re.compile(r"""^(?P<indent>[ ]*)(?P<dashes>(?:-[ ]+)*)(?P<key>"[^"]*"|'[^']*'|[^\s:#'"{}\[\],&*!|>%@`-](?:[^:#{}\[\]]*[^\s:#{}\[\]])?|-[^\s:#{}\[\]](?:[^:#{}\[\]]*[^\s:#{}\[\]])?)[ ]*:(?:[ ]+(?P<rest>.*)|$)""")
_ITEM_LINE = re.compile(r"^(?P<indent>[ ]*)(?P<dashes>(?:-[ ]+|-$)+)(?P<rest>.*)$")
_WORD_DELIMITERS = frozenset(" \t,[]{}:")
# Lines longer than this are no key or list item a person writes (a long string, a minified
# flow): not read for the cursor's context, so a hostile document costs nothing here.
MAX_LINE = 4096


@dataclass(frozen=True)
class CursorContext:
    """`path`: keys (and 0 for a list item) of the mapping or list the cursor writes into.
    `kind`: "key" (a key of the mapping at `path`), "value" (the value of `path`'s last
    key) or "item" (a list item of the list at `path`, a scalar or the first key of a
    mapping). `prefix`: what is typed of the word so far, from column `start`."""

    path: tuple
    kind: str
    prefix: str
    start: int


def _unquote(key: str) -> str:
    key = key.strip()
    return key[1:-1] if len(key) >= 2 and key[0] in "'\"" and key[-1] == key[0] else key


def context_at(lines: list[str], line: int, col: int, budget: int = 5000) -> CursorContext | None:
    """The context at (line, col); None in a comment, a block scalar's text, or past
    `budget` lines above (a huge document is not read to its top for a completion)."""
    if not 0 <= line < len(lines) or col > MAX_LINE:
        return None
    before = lines[line][:col]
    if re.search(r"(^|\s)#", before):
        return None
    key_line = _KEY_LINE.match(before)
    if key_line is not None and key_line.group("rest") is not None:
        # `key: value|` (or `- key: value|`): a value, or a part of a flow collection
        dashes = key_line.group("dashes")
        parents = _owner(lines, line, len(key_line.group("indent")), bool(dashes), budget)
        if parents is None:
            return None
        path = parents + (0,) * dashes.count("-") + (_unquote(key_line.group("key")),)
        rest = key_line.group("rest")
        return _in_flow(path, rest, col - len(rest))
    item = _ITEM_LINE.match(before)
    if item is not None:
        # `- value|`: an item of a list (a scalar, or the first key of a mapping)
        parents = _owner(lines, line, len(item.group("indent")), True, budget)
        if parents is None:
            return None
        parents += (0,) * (item.group("dashes").count("-") - 1)
        rest = item.group("rest")
        if rest.startswith(("[", "{")):
            return _in_flow(parents + (0,), rest, col - len(rest))
        return CursorContext(parents, "item", rest, col - len(rest))
    plain = re.match(r"^(?P<indent>[ ]*)(?P<word>[^\s:#]*)$", before)
    if plain is not None:
        indent = len(plain.group("indent"))
        parents = _owner(lines, line, indent, False, budget)
        if parents is None:
            return None
        return CursorContext(parents, "key", plain.group("word"), indent)
    return None


def _in_flow(path: tuple, rest: str, rest_col: int) -> CursorContext:
    """Inside the value text `rest` (starting at column `rest_col`): a plain value, or the
    last open part of a flow collection (`{type: in|`, `[customer_features.a, cus|`)."""
    stack: list[list] = []  # [opener, the key being written in it (for `{`)]
    quote = None
    token_start = 0
    for index, ch in enumerate(rest):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"" and rest[token_start:index].strip() == "":
            quote = ch
        elif ch in "[{":
            stack.append([ch, None])
            token_start = index + 1
        elif ch in "]}":
            if stack:
                stack.pop()
            token_start = index + 1
        elif ch == ",":
            if stack:
                stack[-1][1] = None
            token_start = index + 1
        elif ch == ":" and (index + 1 == len(rest) or rest[index + 1] == " ") and stack and stack[-1][0] == "{":
            stack[-1][1] = _unquote(rest[token_start:index])
            token_start = index + 1
    cut = len(rest)
    while cut > 0 and rest[cut - 1] not in _WORD_DELIMITERS:
        cut -= 1
    word = rest[cut:].lstrip("'\"")
    start = rest_col + len(rest) - len(word)
    inner = path
    for depth, (opener, key) in enumerate(stack):
        last = depth == len(stack) - 1
        if opener == "[":
            if last:
                return CursorContext(inner, "item", word, start)
            inner += (0,)
        elif key is None:
            return CursorContext(inner, "key", word, start) if last else CursorContext(inner, "value", word, start)
        else:
            inner += (key,)
    return CursorContext(inner, "value", word, start)


def _owner(lines: list[str], line: int, need: int, item: bool, budget: int) -> tuple | None:
    """The path of the collection a line writes into: a mapping key at column `need`, or
    (`item`) a list item whose dash is at column `need`. Found by going up to the line that
    owns it: the nearest key left of it (a list's key may share its items' column)."""
    path: list = []
    for seen, number in enumerate(range(line - 1, -1, -1)):
        if need == 0 and not item:
            break
        if seen > budget:
            return None
        text = lines[number]
        if len(text) > MAX_LINE:
            continue
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if text.startswith(("---", "...")):
            break
        key_line = _KEY_LINE.match(text)
        if key_line is not None:
            dashes = key_line.group("dashes")
            dash_col = len(key_line.group("indent"))
            key_col = dash_col + len(dashes)
            if key_col < need or (item and key_col == need):
                path.insert(0, _unquote(key_line.group("key")))
                if dashes:
                    path[:0] = [0] * dashes.count("-")
                    need, item = dash_col, True
                else:
                    need, item = key_col, False
            elif dashes and not item and key_col == need:
                path[:0] = [0] * dashes.count("-")  # a key of the same list item (`- a: 1`, then `  b|`)
                need, item = dash_col, True
            continue
        dash_line = _ITEM_LINE.match(text)
        indent = len(text) - len(text.lstrip(" "))
        if dash_line is not None:
            if not item and indent < need:
                path.insert(0, 0)  # a mapping inside a list item written `-` alone on its line
                need, item = indent, True
            continue
        if indent < need:
            return None  # neither a key nor an item left of us: a block scalar's or a flow's text
    return tuple(path)
