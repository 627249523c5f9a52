"""`mlspec lineage emit`: the static lineage graph as OpenLineage run events."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlspec.cli import options
from mlspec.cli.output import print_diagnostics, say
from mlspec.errors import ExitCode, ExternalError, UsageError


@click.group("lineage")
def command() -> None:
    """OpenLineage / Marquez."""


@command.command("emit")
@options.spec_paths
@click.option("--url", default=None, help="OpenLineage endpoint base URL [default: the spec's platform.lineage.url].")
@click.option("--endpoint", default="api/v1/lineage", show_default=True, help="Path of the lineage API.")
@click.option("--file", "file", default=None, help="Append the events to this file (one JSON per line; - prints).")
@options.diagnostics_format
def emit(paths, url, endpoint, file, fmt) -> None:
    """Send the static lineage graph as OpenLineage run events (to Marquez, or a file)."""
    from mlspec.review.graph import load_graphs
    from mlspec.review.openlineage import append_events, build_events, event_json, post_events
    from mlspec.source.files import spec_files

    if url and file:
        raise UsageError("give --url or --file, not both")
    graphs, units = load_graphs(spec_files(list(paths) or ["specs"]))
    if print_diagnostics(units, fmt):
        sys.exit(ExitCode.SPEC_ERRORS)
    for g in graphs:
        events = build_events(g.project)
        if file == "-":
            for event in events:
                click.echo(event_json(event))
            continue
        if file:
            append_events(events, Path(file))
            where = file
        else:
            target = url or (g.project.base.platform.lineage.url if g.project.base.platform.lineage else None)
            if not target:
                raise UsageError(f"{g.spec_file} has no platform.lineage.url: give --url or --file")
            try:
                where = post_events(events, target, endpoint)
            except ExternalError as exc:
                raise ExternalError(f"sending lineage of {g.system} failed: {exc}") from None
        say(f"{g.system}: {len(events)} OpenLineage run events -> {where}")
