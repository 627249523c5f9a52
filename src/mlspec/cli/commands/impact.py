"""`mlspec impact`: everything downstream of a dataset, feature, model, DAG or deployment."""

from __future__ import annotations

import json
import sys

import click

from mlspec.cli import options
from mlspec.cli.output import print_diagnostics_before_data
from mlspec.errors import ExitCode


@click.command("impact")
@click.argument("node")
@options.spec_paths
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json also prints spec errors as JSON.")
@click.option("--events", "events", default=None, type=click.Path(dir_okay=False),
              help="Answer from the OpenLineage events of a run (one JSON event per line, e.g. the"
                   " lineage/events.jsonl of `mlspec run --local`) instead of from the spec's graph.")
def command(node, paths, fmt, events) -> None:
    """List everything downstream of NODE: table:NAME (any table a SQL source's query reads, as
    the query names it or its OpenLineage URI), dataset:NAME, feature:VIEW[.FEATURE], model:NAME
    (e.g. "if this table changes, which models are affected?").

    With --events, the walk happens in the events a run collected (their jobs' inputs and
    outputs); the spec only names what it reached, and the model versions the run registered
    are listed too."""
    from mlspec.review.graph import load_graphs
    from mlspec.review.impact import impact, render_impact_text
    from mlspec.source.files import spec_files

    graphs, units = load_graphs(spec_files(list(paths) or ["specs"]))
    if print_diagnostics_before_data(units, fmt == "json"):
        sys.exit(ExitCode.SPEC_ERRORS)
    if events:
        from pathlib import Path

        from mlspec.review.run_events import impact_from_events

        results = impact_from_events(graphs, node, Path(events))
    else:
        results = impact(graphs, node)
    click.echo(json.dumps(results, indent=2) + "\n" if fmt == "json" else render_impact_text(results), nl=False)
