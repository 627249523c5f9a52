"""Text fit to print: user-controlled values (file names, spec text, request headers,
git's output) may hold control characters that would forge lines in a CI log (a newline
then `::error::`), move the cursor or recolour a terminal. Each is shown as its escape."""

from __future__ import annotations


def printable(text: object, keep: str = "") -> str:
    """`text` with every non-printable character (C0/C1 controls, ESC, DEL, line and
    paragraph separators, lone surrogates) written as a Python escape (`\\n`, `\\x1b`),
    except those in `keep` (e.g. "\\n" for a message of several lines)."""
    text = str(text)
    if text.isprintable() and not keep:
        return text
    return "".join(ch if ch.isprintable() or ch in keep else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
