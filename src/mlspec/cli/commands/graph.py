"""`mlspec graph`: the lineage, datasets -> feature views -> models -> deployments, and the DAGs."""

from __future__ import annotations

import sys

import click

from mlspec.cli import options
from mlspec.cli.output import print_diagnostics_before_data
from mlspec.errors import ExitCode


@click.command("graph")
@options.spec_paths
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "json"]), default="mermaid",
              show_default=True, help="Mermaid renders in GitHub pull requests and Markdown files; json also"
              " prints spec errors as JSON.")
def command(paths, fmt) -> None:
    """Draw the lineage: datasets -> feature views -> models -> deployments, and the DAGs."""
    from mlspec.review.graph import load_graphs, render_dot, render_json, render_mermaid
    from mlspec.source.files import spec_files

    graphs, units = load_graphs(spec_files(list(paths) or ["specs"]))
    if print_diagnostics_before_data(units, fmt == "json"):
        sys.exit(ExitCode.SPEC_ERRORS)
    click.echo({"mermaid": render_mermaid, "dot": render_dot, "json": render_json}[fmt](graphs), nl=False)
