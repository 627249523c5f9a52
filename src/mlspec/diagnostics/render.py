"""Render diagnostics: human (compiler style), JSON, and GitHub workflow annotations.

Rendering is separate from the diagnostics themselves (ruff's split), so the same list
can be shown in a terminal, parsed by tools, or annotated on a pull request.
"""

from __future__ import annotations

import json
from typing import Iterable, Mapping

from mlspec.diagnostics import Diagnostic, Severity
from mlspec.textsafe import one_line, printable, visible

FORMATS = ("human", "json", "github")

_COLOURS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "bold": "\x1b[1m", "blue": "\x1b[1;34m",
            "reset": "\x1b[0m"}


def render(diagnostics: Iterable[Diagnostic], fmt: str, sources: Mapping[str, str], colour: bool = False) -> str:
    diagnostics = list(diagnostics)
    if fmt == "json":
        return render_json(diagnostics)
    if fmt == "github":
        return render_github(diagnostics)
    return render_human(diagnostics, sources, colour)


def render_human(diagnostics: list[Diagnostic], sources: Mapping[str, str], colour: bool = False) -> str:
    def paint(text: str, style: str) -> str:
        return f"{_COLOURS[style]}{text}{_COLOURS['reset']}" if colour else text

    blocks = []
    lines_cache: dict[str, list[str]] = {}
    for d in diagnostics:
        out = [paint(f"{d.severity.value}[{d.code}]", d.severity.value)
               + paint(f": {_one_line(d.message)}", "bold")]
        span = d.span
        # The file name too: a spec named "x.yaml\n::error::..." must not forge lines in a CI log.
        location = _one_line(f"{d.file}:{span.line}:{span.col}" if span else d.file)
        lines = lines_cache.setdefault(d.file, sources.get(d.file, "").splitlines())
        if span is None or not 0 < span.line <= len(lines):
            # No position, or no text to show (the file could not be read as a spec):
            # the location alone, rather than a caret under an empty line.
            out.append(f"  --> {location}")
            if span is not None and d.label:
                out.append(f"  = note: {_one_line(d.label)}")
        else:
            raw = lines[span.line - 1].replace("\t", " ")
            # Control characters of the source line (an ESC sequence in a file that is not
            # valid YAML) are shown escaped; the caret follows the escaped text.
            start = len(_one_line(raw[:span.col - 1])) + 1
            end = span.end_col if span.end_line == span.line else len(raw) + 1
            text = _one_line(raw)
            width = len(_one_line(raw[span.col - 1:max(end, span.col) - 1]))
            span_col = start if span.col <= len(raw) + 1 else span.col
            gutter = " " * len(str(span.line))
            width = max(1, min(width, max(1, len(text) - span_col + 1)))
            out.append(f"{gutter}{paint('-->', 'blue')} {location}")
            out.append(f"{gutter} {paint('|', 'blue')}")
            out.append(f"{paint(str(span.line), 'blue')} {paint('|', 'blue')} {text}".rstrip())
            caret = " " * (span_col - 1) + paint("^" * width, d.severity.value)
            out.append(f"{gutter} {paint('|', 'blue')} {caret}" + (f" {_one_line(d.label)}" if d.label else ""))
        if d.path:
            out.append(f"  = at: {_one_line(d.path_text)}")
        if d.help:
            out.append(f"  = help: {_one_line(d.help)}")
        blocks.append("\n".join(out))
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    if diagnostics:
        summary = f"{errors} error{'s' if errors != 1 else ''}"
        if warnings:
            summary += f", {warnings} warning{'s' if warnings != 1 else ''}"
        blocks.append(summary)
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def _one_line(text: str) -> str:
    """Keep each part of a human diagnostic on its line: user values quoted into messages
    may hold newlines or other control characters (a name like "churn\\nimport os")."""
    return one_line(text)


def diagnostic_to_dict(d: Diagnostic) -> dict:
    span = d.span
    return {
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "file": d.file,
        "line": span.line if span else None,
        "col": span.col if span else None,
        "endLine": span.end_line if span else None,
        "endCol": span.end_col if span else None,
        "path": d.path_text,
        "label": d.label or None,
        "help": d.help or None,
    }


def render_json(diagnostics: list[Diagnostic]) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    payload = {"diagnostics": [diagnostic_to_dict(d) for d in diagnostics], "errors": errors,
               "warnings": len(diagnostics) - errors}
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a file name that is not UTF-8 (a lone surrogate): escape it
        text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    return text


def _escape_data(text: str) -> str:
    # Workflow commands end at a newline; other control characters (terminal escapes) are
    # shown as escapes in the log rather than sent.
    return visible(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: list[Diagnostic]) -> str:
    lines = []
    for d in diagnostics:
        props = [f"file={_escape_property(printable(d.file))}"]
        if d.span:
            props += [f"line={d.span.line}", f"col={d.span.col}"]
            if d.span.end_line == d.span.line:
                props += [f"endColumn={d.span.end_col}"]
        props.append(f"title={_escape_property(d.code)}")
        message = d.message + (f" ({d.path_text})" if d.path else "") + (f" - {d.help}" if d.help else "")
        level = "error" if d.severity is Severity.ERROR else "warning"
        lines.append(f"::{level} {','.join(props)}::{_escape_data(printable(message, keep=chr(10)))}")
    return "\n".join(lines) + ("\n" if lines else "")
