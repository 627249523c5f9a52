"""Rename a dataset, feature view, feature (with the column it is), SLO or entity across the
spec: position edits of every occurrence (each checked against the text), so comments,
quoting and layout stay exactly as written. A rename the spec would refuse (a name that is
not valid there, or one already taken) is refused before anything changes, with the
diagnostic the new text would get."""

from __future__ import annotations

from mlspec.diagnostics import Severity
from mlspec.lsp.document import Analysis
from mlspec.lsp.symbols import KINDS, RENAMEABLE
from mlspec.lsp.text import TextEdit, apply_edits


class RenameRefused(Exception):
    """The rename would break the spec (the message says how)."""


def rename_edits(analysis: Analysis, line: int, col: int, new_name: str) -> list[TextEdit]:
    symbol = analysis.index.symbol_at(line, col)
    if symbol is None or symbol[0] not in RENAMEABLE:
        raise RenameRefused("nothing to rename here: put the cursor on the name of a dataset, feature view, feature,"
                            " column, entity or SLO")
    old = symbol[-1]
    if new_name == old:
        return []
    if not new_name or any(ch in new_name for ch in " \t\r\n:#'\"{}[],&*!|>%@`."):
        raise RenameRefused(f"`{new_name}` cannot be a name in a spec")
    group = analysis.index.rename_group(symbol)
    taken = {s for s in group if analysis.index.definitions(s[:-1] + (new_name,))}
    if taken:
        raise RenameRefused(f"{KINDS[sorted(taken)[0][0]]} `{new_name}` already exists")
    edits = analysis.index.rename_edits(symbol, new_name)
    renamed = Analysis.of(analysis.path, apply_edits(analysis.text, edits))
    before = _errors(analysis)
    after = _errors(renamed)
    if after > before:
        known = {_key(b, old, new_name) for b in analysis.diagnostics}
        new = next((d for d in renamed.diagnostics if d.severity is Severity.ERROR and _key(d, old, new_name) not in known),
                   None)
        why = f": {new.code} {new.message}" if new is not None else ""
        raise RenameRefused(f"renaming `{old}` to `{new_name}` would make the spec invalid{why}")
    return edits


def _errors(analysis: Analysis) -> int:
    return sum(d.severity is Severity.ERROR for d in analysis.diagnostics)


def _key(d, old: str, new: str) -> tuple:
    return d.code, d.message.replace(new, old)
