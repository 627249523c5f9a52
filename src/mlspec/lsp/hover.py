"""Hover: what the key under the cursor means (the spec models' own description, as the JSON
Schema publishes it), what a name refers to, and for a value what `mlspec explain` knows:
its effective value in each environment, where that comes from, and the generated files it
feeds."""

from __future__ import annotations

from mlspec.lsp.context import context_at
from mlspec.lsp.document import Analysis
from mlspec.lsp.symbols import KINDS
from mlspec.spec import fields
from mlspec.textsafe import markdown_code


def path_at(analysis: Analysis, line: int, col: int) -> tuple | None:
    """The key path of the key or scalar value under the cursor: from the loaded document's
    positions when it loads, else read from the text around the cursor."""
    if analysis.loaded:
        positions = analysis.unit.source.positions
        best = None
        for path, span in positions.keys.items():
            if span.line - 1 <= line <= span.end_line - 1 and _inside(span, line, col):
                if best is None or len(path) > len(best):
                    best = path
        data = analysis.unit.source.data
        for path, span in positions.values.items():
            if _inside(span, line, col) and not isinstance(_get(data, path), (dict, list)):
                if best is None or len(path) > len(best):
                    best = path
        return best
    ctx = context_at(analysis.lines, line, col)
    if ctx is None:
        return None
    if ctx.kind == "key":
        text = analysis.lines[line]
        end = col
        while end < len(text) and text[end] not in ": \t":
            end += 1
        word = text[ctx.start:end]
        return ctx.path + (word,) if word else None
    return ctx.path if ctx.kind == "value" else None


def _inside(span, line: int, col: int) -> bool:
    return (span.line - 1, span.col - 1) <= (line, col) <= (span.end_line - 1, span.end_col - 1)


def _get(data, path: tuple):
    for part in path:
        if isinstance(data, (dict, list)):
            try:
                data = data[part]
            except (KeyError, IndexError, TypeError):
                return None
        else:
            return None
    return data


def model_path(path: tuple) -> tuple[tuple, str | None]:
    """(the path in the spec a written path sets, the environment whose override sets it)."""
    if len(path) >= 4 and path[0] == "environments" and path[2] == "overrides":
        target: tuple = ()
        for part in path[3:]:
            target += tuple(str(part).split(".")) if isinstance(part, str) else (part,)
        return target, str(path[1])
    return tuple(path), None


def hover(analysis: Analysis, line: int, col: int, memo: dict | None = None, feeds: bool = True) -> str | None:
    path = path_at(analysis, line, col)
    if not path:
        return None
    target, env = model_path(path)
    doc = fields.field_doc(target)
    blocks = []
    title = _code(".".join(map(str, target)))
    if doc is not None and doc.description:
        # The description is the spec models' own text (Markdown with code spans), not the user's.
        blocks.append(f"{title}: {doc.description}")
    else:
        blocks.append(title)
    if doc is not None:
        facts = []
        if doc.required:
            facts.append("required")
        elif doc.default not in (None, {}, []) and not isinstance(doc.default, dict):
            facts.append(f"default {_code(_json(doc.default))}")
        if doc.allowed:
            facts.append("one of " + ", ".join(_code(v) for v in doc.allowed))
        if facts:
            blocks.append("; ".join(facts))
    symbol = analysis.index.symbol_at(line, col) if analysis.loaded else None
    if symbol is not None:
        blocks.append(_symbol_text(analysis, symbol))
    if analysis.unit.ok:
        table = _effective_values(analysis, target, env, memo if memo is not None else {}, feeds)
        if table:
            blocks.append(table)
    return "\n\n".join(blocks)


def _symbol_text(analysis: Analysis, symbol) -> str:
    defined = analysis.index.definitions(symbol)
    uses = analysis.index.references(symbol)
    where = f"defined on line {defined[0].range.line + 1}" if defined else "not defined in this spec"
    name = f"{_code(symbol[2])} of {_code(symbol[1])}" if len(symbol) == 3 else _code(symbol[1])
    return f"{KINDS[symbol[0]]} {name}: {where}, referred to {len(uses)} time{'s' if len(uses) != 1 else ''}"


def _effective_values(analysis: Analysis, target: tuple, env: str | None, memo: dict, feeds: bool) -> str:
    """A table of the value in each environment (or in the one whose override is under the
    cursor), as `mlspec explain` gives it."""
    from mlspec.errors import UsageError
    from mlspec.source.overlay import Overlaid
    from mlspec.review.explain import explain

    if not all(isinstance(p, int) or (isinstance(p, str) and p and "." not in p) for p in target):
        return ""  # a key holding a dot cannot be named by explain's KEY.PATH
    unit = analysis.unit
    environments = [env] if env is not None else (list(unit.spec.environments) or [None])
    rows = []
    for name in environments:
        try:
            explanation = explain(unit, ".".join(map(str, target)), name, memo, with_feeds=feeds)
        except (UsageError, KeyError):
            return ""
        if isinstance(explanation.value, (dict, list)):
            return ""
        overlaid = unit.overlays[name] if name else Overlaid("", unit.source.data, unit.source.positions)
        _, span = overlaid.origin(tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in target))
        source = {"override": "override", "spec": "spec", "default": "default"}[explanation.origin]
        if span is not None and explanation.origin != "default":
            source += f", line {span.line}"
        if explanation.feeds is None:
            fed = "" if feeds else "not computed for a document this large: run `mlspec explain`"
        elif explanation.feeds.files:
            fed = "<br>".join(_code(f) for f in explanation.feeds.files)
        elif explanation.feeds.only_this_value:
            fed = "what the spec builds on it (no other value is valid)"
        else:
            fed = "no generated file: changing it changes nothing"
        rows.append(f"| {_code(name) if name else '(base)'} | {_code(_json(explanation.value))}"
                    f" | {source} | {fed} |")
    header = "| environment | value | from | feeds |\n|---|---|---|---|"
    return header + "\n" + "\n".join(rows)


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _code(value) -> str:
    """A Markdown code span of any text (a spec's names and values are the user's)."""
    return f"`{markdown_code(value)}`"
