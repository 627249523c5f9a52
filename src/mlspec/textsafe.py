"""Untrusted text made inert for the syntax it is printed into.

Spec values, file names, request headers, git's output and the contents of committed
files reach terminals, CI logs, Markdown (pull-request comments, model cards) and HTML. Each function here returns text that can
only mean itself there: no terminal escape sequence, no Markdown link, image, heading or
table cell, no HTML tag or comment end.
"""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
# C0 and C1 controls but tab and newline, and DEL: what a terminal may take for an escape.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """Text for a terminal: control characters but tab and newline shown as escapes."""
    return _CONTROL.sub(lambda m: _escape(m.group()), text)


def one_line(text: str) -> str:
    """Text on one line: every control character (newlines too) shown as an escape."""
    return printable(text)


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


def markdown_text(value) -> str:
    """Spec text as inert Markdown: one line, HTML and Markdown syntax escaped (no links,
    images, tags, table cells or headings can come from it)."""
    text = " ".join(_printable(str(value)).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;")  # no tag or entity can start
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def markdown_code(value) -> str:
    """Text inside a Markdown code span (`...`): one line, no backquote to end the span and
    no `|` to end a table cell."""
    return " ".join(_printable(str(value)).split()).replace("`", "'").replace("|", "\\|")


def html_text(value) -> str:
    """Text for HTML content or a double-quoted attribute."""
    return (str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


_SAFE_LINK = re.compile(r"https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~%!$&*+,;=:@/?#-]*)?")


def safe_link(value) -> bool:
    """Whether spec text may become a link: http(s) only (never `javascript:` or `data:`),
    and nothing that could end the link or the attribute it stands in."""
    return isinstance(value, str) and _SAFE_LINK.fullmatch(value) is not None


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in text)
