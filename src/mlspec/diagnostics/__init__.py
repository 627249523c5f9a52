"""Diagnostics: user errors as data.

Every stage reports problems in the spec as `Diagnostic`s into a `DiagnosticSink`
instead of raising; exceptions are reserved for bugs. Rendering lives in
`mlspec.diagnostics.render`, so a diagnostic carries no formatting of its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from mlspec.diagnostics import codes
from mlspec.diagnostics.codes import Severity


@dataclass(frozen=True, order=True)
class Span:
    """A region of a source file; lines and columns are 1-based, end is exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int


KeyPath = tuple  # tuple[str | int, ...]: the YAML path of the offending value


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    file: str
    span: Span | None = None
    path: KeyPath = ()
    severity: Severity | None = None  # the code's own severity unless given
    label: str = ""  # a short note printed under the caret
    help: str = ""  # how to fix it, e.g. "did you mean `customers`?"

    def __post_init__(self) -> None:
        if self.severity is None:
            object.__setattr__(self, "severity", codes.get(self.code).severity)

    @property
    def internal(self) -> bool:
        """The installation or the machine failed, not the spec (exit 3)."""
        return codes.is_internal(self.code)

    def at(self, span: Span | None, file: str | None = None) -> "Diagnostic":
        """This diagnostic placed at `span` (a stage that found it by key path alone)."""
        from dataclasses import replace

        return replace(self, span=span, file=self.file if file is None else file)

    def sort_key(self) -> tuple:
        span = self.span or Span(0, 0, 0, 0)
        return (self.file, span.line, span.col, self.code, self.message)

    @property
    def path_text(self) -> str:
        return format_path(self.path)


_PLAIN_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def format_path(path: Sequence) -> str:
    """`('models', 'churn', 'features', 0)` -> `models.churn.features[0]`.

    A key that is not plain (holds a dot, a space, a quote, or is empty) is written
    `["churn.api"]`, so the path stays unambiguous and on one line."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY_RE.match(str(part)):
            text += ("." if text else "") + str(part)
        else:
            text += f"[{json.dumps(str(part), ensure_ascii=False)}]"
    return text


@dataclass
class DiagnosticSink:
    """Collects the diagnostics of every stage; the pipeline stops after a stage with errors."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        # De-duplicate: the same problem can be reached through two checks (an alias, say).
        unique = {(d.code, d.file, d.span, d.path, d.message): d for d in self.items}
        return sorted(unique.values(), key=Diagnostic.sort_key)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A help line naming the closest candidates, or listing them when none is close."""
    options = sorted({str(c) for c in candidates})
    if not options:
        return ""
    import difflib  # only when there is a mistake to suggest a fix for

    close = difflib.get_close_matches(str(name), options, n=3, cutoff=0.6)
    if close:
        quoted = [f"`{c}`" for c in close]
        return "did you mean " + (", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]) + "?"
    if len(options) <= 12:
        return "expected one of: " + ", ".join(f"`{c}`" for c in options)
    return ""
