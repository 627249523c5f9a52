"""A progress bar on one terminal line, for steps that take minutes (a DAG run in `mlspec run
--local`): redrawn in place, and only on a terminal, so logs and CI output keep just the
result lines."""

from __future__ import annotations

import sys
import time

import click

WIDTH = 20


class ProgressLine:
    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.shown = False
        self.started = time.monotonic()
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()

    def restart(self) -> None:
        self.started = time.monotonic()

    def update(self, what: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        filled = WIDTH * done // total if total else 0
        bar = "#" * filled + "." * (WIDTH - filled)
        tasks = f"{done}/{total} tasks" if total else "starting"
        click.echo(f"\r\x1b[2K  {what} [{bar}] {tasks} {time.monotonic() - self.started:5.0f}s", nl=False,
                   file=self.stream)
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            click.echo("\r\x1b[2K", nl=False, file=self.stream)
            self.shown = False
