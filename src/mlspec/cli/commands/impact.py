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
def command(node, paths, fmt) -> None:
    """List everything downstream of NODE: table:NAME (any table a SQL source's query reads, as
    the query names it or its OpenLineage URI), dataset:NAME, feature:VIEW[.FEATURE], model:NAME
    (e.g. "if this table changes, which models are affected?")."""
    from mlspec.review.graph import load_graphs
    from mlspec.review.impact import impact, render_impact_text
    from mlspec.source.files import spec_files

    graphs, units = load_graphs(spec_files(list(paths) or ["specs"]))
    if print_diagnostics_before_data(units, fmt == "json"):
        sys.exit(ExitCode.SPEC_ERRORS)
    results = impact(graphs, node)
    click.echo(json.dumps(results, indent=2) + "\n" if fmt == "json" else render_impact_text(results), nl=False)
