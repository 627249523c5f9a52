"""Places in a document's text: 0-based lines, columns counted in characters (code points),
as the loader's spans count them; the server converts to the client's encoding (UTF-16 by
default) at the edge."""

from __future__ import annotations

from dataclasses import dataclass

from mlspec.diagnostics import Span


@dataclass(frozen=True, order=True)
class TextRange:
    line: int
    col: int
    end_line: int
    end_col: int

    @classmethod
    def from_span(cls, span: Span) -> "TextRange":
        return cls(span.line - 1, span.col - 1, span.end_line - 1, span.end_col - 1)

    def contains(self, line: int, col: int) -> bool:
        """Whether the place (line, col) is in the range, its end included (a cursor right
        after a word is on it)."""
        return (self.line, self.col) <= (line, col) <= (self.end_line, self.end_col)

    def overlaps(self, other: "TextRange") -> bool:
        return (self.line, self.col) <= (other.end_line, other.end_col) and \
            (other.line, other.col) <= (self.end_line, self.end_col)


@dataclass(frozen=True)
class TextEdit:
    range: TextRange
    new_text: str


def split_lines(text: str) -> list[str]:
    """The lines as the YAML loaders count them (`\\r\\n`, `\\r` and `\\n` end a line)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def text_in(lines: list[str], rng: TextRange) -> str | None:
    """The text of a range on one line, or None (a range over several lines, or outside)."""
    if rng.line != rng.end_line or not 0 <= rng.line < len(lines):
        return None
    line = lines[rng.line]
    if not 0 <= rng.col <= rng.end_col <= len(line):
        return None
    return line[rng.col:rng.end_col]


def part_of_scalar(lines: list[str], span: Span | None, value: str, start: int, length: int) -> TextRange | None:
    """The range of `value[start:start + length]` where the scalar `value` is written at
    `span`: plain, or quoted without escapes. None when the written text is not the value
    character for character (an escape, a folded or multi-line scalar): no edit may guess."""
    if span is None or not isinstance(value, str):
        return None
    whole = TextRange.from_span(span)
    written = text_in(lines, whole)
    if written is None:
        return None
    offset = 0
    if written[:1] in ("'", '"') and written[-1:] == written[:1] and len(written) >= 2:
        written, offset = written[1:-1], 1
    if written != value or not 0 <= start <= start + length <= len(value):
        return None
    col = whole.col + offset + start
    return TextRange(whole.line, col, whole.line, col + length)


def apply_edits(text: str, edits: list[TextEdit]) -> str:
    """`text` with non-overlapping one-line edits applied (line breaks kept as written)."""
    import re

    pieces = re.split(r"(\r\n|\r|\n)", text)
    lines, breaks = pieces[0::2], pieces[1::2]
    for edit in sorted(edits, key=lambda e: e.range, reverse=True):
        rng = edit.range
        line = lines[rng.line]
        lines[rng.line] = line[:rng.col] + edit.new_text + line[rng.end_col:]
    out = []
    for index, line in enumerate(lines):
        out.append(line)
        if index < len(breaks):
            out.append(breaks[index])
    return "".join(out)
