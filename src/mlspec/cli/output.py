"""How the CLI prints: diagnostics in the chosen format, and messages on stderr.

Diagnostics in the human format go to stderr, like a compiler's; the machine formats (JSON,
GitHub annotations) go to stdout, to be piped. Colour only on a terminal, and never with
NO_COLOR set.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable

import click

DIAGNOSTIC_FORMATS = ("human", "json", "github")


def use_colour() -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def say(message: str) -> None:
    """A progress or result line for people (stderr, so stdout stays for data)."""
    click.echo(message, err=True)


def print_diagnostics(items: Iterable, fmt: str) -> bool:
    """Print the diagnostics of every item (a SpecUnit or CompileResult, anything with
    `diagnostics` and the spec's text for showing source lines); True when any is an error.
    The JSON format always prints a document, even an empty one, so tools can parse it."""
    from mlspec.diagnostics import DiagnosticSink
    from mlspec.diagnostics.render import render

    sink = DiagnosticSink()
    sources: dict[str, str] = {}
    for item in items:
        sink.extend(item.diagnostics)
        display, text = _source_of(item)
        if text:
            sources[display] = text
    diagnostics = sink.sorted()
    text = render(diagnostics, fmt, sources, colour=use_colour() and fmt == "human")
    if text or fmt == "json":
        click.echo(text, nl=False, err=(fmt == "human"))
    return sink.has_errors


def print_diagnostics_before_data(items: Iterable, data_is_json: bool) -> bool:
    """For commands whose own output is data (diff, graph, impact): diagnostics go to stderr
    for people; when the data is JSON and there are errors, the diagnostics take its place on
    stdout as JSON, so a tool reads one document either way. True when any is an error."""
    items = list(items)
    if not data_is_json:
        return print_diagnostics(items, "human")
    from mlspec.diagnostics import Severity

    if any(d.severity is Severity.ERROR for item in items for d in item.diagnostics):
        return print_diagnostics(items, "json")
    return False


def _source_of(item) -> tuple[str, str]:
    source = getattr(item, "source", None)
    if source is not None:
        return source.path, source.text
    return getattr(item, "spec_file", ""), getattr(item, "source_text", "")


class Diagnostics:
    """Diagnostics that belong to no spec file's result (a write error, say), printable
    alongside the others."""

    def __init__(self, diagnostics):
        self.diagnostics = list(diagnostics)
        self.source = None


def report_publish(outcome, repo: str) -> None:
    """The lines a publish ends with; the commit id alone on stdout, for scripts."""
    if outcome.commit is None:
        say(f"{repo} ({outcome.branch}) is up to date: nothing to publish")
        return
    where = "pushed" if outcome.pushed else "committed (not pushed)"
    count = len(outcome.changes)
    say(f"{where} {outcome.commit[:12]} to {outcome.branch}: {count} file{'s' if count != 1 else ''} changed")
    click.echo(outcome.commit)
