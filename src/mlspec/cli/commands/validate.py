"""`mlspec validate`: every problem of every spec, with its position, at once."""

from __future__ import annotations

import sys

import click

from mlspec.cli import options
from mlspec.cli.output import print_diagnostics, say
from mlspec.errors import ExitCode


@click.command("validate")
@options.spec_paths
@options.diagnostics_format
def command(paths: tuple[str, ...], fmt: str) -> None:
    """Check spec files (or folders of them) and report every problem with its position:
    everything `compile` checks before it generates, environments included."""
    from mlspec.compiler.run import validate_files
    from mlspec.source.files import spec_files
    from mlspec.spec import sql_worker

    with sql_worker.allowed():  # SQL parsed in a child beside the rest (spec/sql_worker.py)
        units = validate_files(spec_files(list(paths) or ["specs"]))
    failed = print_diagnostics(units, fmt)
    if fmt == "human" and not failed:
        say(f"{len(units)} spec{'s' if len(units) != 1 else ''} valid")
    sys.exit(ExitCode.SPEC_ERRORS if failed else ExitCode.OK)


