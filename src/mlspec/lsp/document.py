"""One version of an editor's buffer, as the front end sees it.

The diagnostics are `mlspec validate`'s for that file, word for word: the buffer's text goes
through `compiler.session.load_text`, the front end every command uses (load with the same
budgets, validate, check, every environment's overlay), and is sorted and de-duplicated as
the CLI prints it. Nothing is read from disk or written to it: the result cache is not
consulted (its verdicts are keyed on bytes on disk, and recording one would write).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from mlspec.compiler.session import SpecUnit, load_text
from mlspec.diagnostics import Diagnostic, DiagnosticSink
from mlspec.lsp.symbols import Index
from mlspec.lsp.text import TextEdit, TextRange, split_lines, text_in

_SUGGESTIONS = re.compile(r"did you mean (.+)\?")
_QUOTED = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class QuickFix:
    title: str
    edit: TextEdit


@dataclass
class Analysis:
    """The front end's verdict on one version of a document, and what the editor features
    read from it."""

    path: Path
    text: str
    unit: SpecUnit
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @classmethod
    def of(cls, path: Path, text: str) -> "Analysis":
        unit = load_text(path, text)
        sink = DiagnosticSink()
        sink.extend(unit.diagnostics)
        return cls(path, text, unit, sink.sorted())

    @cached_property
    def lines(self) -> list[str]:
        return split_lines(self.text)

    @property
    def loaded(self) -> bool:
        """Whether the text is a YAML mapping the loader could build (it may still be invalid)."""
        return self.unit.source is not None and isinstance(self.unit.source.data, dict)

    @cached_property
    def index(self) -> Index:
        if not self.loaded:
            return Index([], {})
        return Index.build(self.unit.source.data, self.unit.source.positions, self.lines)

    def range_of(self, diagnostic: Diagnostic) -> TextRange:
        """Where the editor underlines a diagnostic: its span, or the file's first line when it
        has none (a file that cannot be read, a name clash across files)."""
        if diagnostic.span is None:
            return TextRange(0, 0, 0, len(self.lines[0]) if self.lines else 0)
        return TextRange.from_span(diagnostic.span)

    def quick_fixes(self, diagnostic: Diagnostic) -> list[QuickFix]:
        """For a diagnostic whose help says "did you mean `x`?": replace the misspelled name in
        the underlined text with each suggestion. The misspelled name is the quoted name of
        the message or label that is closest to the suggestion (as `did you mean` chose it),
        so only that part of `view.feature` or of an override's dotted key changes."""
        suggested = _SUGGESTIONS.search(diagnostic.help or "")
        if diagnostic.span is None or suggested is None:
            return []
        rng = self.range_of(diagnostic)
        written = text_in(self.lines, rng)
        if written is None:
            return []
        names = _QUOTED.findall(suggested.group(1))
        quoted = _QUOTED.findall(diagnostic.message + " " + (diagnostic.label or ""))
        fixes = []
        for name in names:
            wrong = _misspelled(written, quoted, name)
            if wrong is None:
                continue
            start = wrong[0]
            edit = TextEdit(TextRange(rng.line, rng.col + start, rng.line, rng.col + start + len(wrong[1])), name)
            fixes.append(QuickFix(f"Replace `{wrong[1]}` with `{name}`", edit))
        return fixes


def _misspelled(written: str, quoted: list[str], suggestion: str) -> tuple[int, str] | None:
    """(offset in `written`, name) of the quoted name that the suggestion replaces: found in
    the text as a whole part (between the ends, `.`, quotes), the most similar first."""
    best = None
    for name in quoted:
        if not name or name == suggestion:
            continue
        for match in re.finditer(re.escape(name), written):
            before = written[match.start() - 1] if match.start() else ""
            after = written[match.end()] if match.end() < len(written) else ""
            if before not in ("", ".", '"', "'") or after not in ("", ".", '"', "'"):
                continue
            score = difflib.SequenceMatcher(None, name, suggestion).ratio()
            if best is None or score > best[0]:
                best = (score, match.start(), name)
            break
    return (best[1], best[2]) if best else None
