"""`mlspec explain`: the effective value at KEY.PATH and where it came from."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlspec.cli import options
from mlspec.cli.output import print_diagnostics
from mlspec.diagnostics import codes
from mlspec.errors import ExitCode, UsageError


@click.command("explain")
@click.argument("key_path")
@click.argument("spec", required=False, type=click.Path())
@options.environment(help="Show the value in this environment (overlays applied).")
@options.diagnostics_format
def command(key_path: str, spec: str | None, env: str | None, fmt: str) -> None:
    """Print the effective value at KEY.PATH and where it came from.

    SPEC defaults to the only spec under ./specs.
    """
    from mlspec.compiler.session import load_unit
    from mlspec.review.explain import explain
    from mlspec.source.files import expand_spec_paths

    if spec is None:
        found, _ = expand_spec_paths(["specs"]) if Path("specs").is_dir() else ([], [])
        if len(found) != 1:
            raise UsageError("name the spec file: `mlspec explain KEY.PATH SPEC`")
        spec = str(found[0])
    if not Path(spec).is_file():
        raise UsageError(f"no such file: {spec}")
    unit = load_unit(Path(spec))
    if unit.ok and env is not None:
        unit.diagnostics += unit.unknown_environments([env])
    if print_diagnostics([unit], fmt) or not unit.ok:
        sys.exit(codes.exit_code({d.code for d in unit.diagnostics if d.severity.value == "error"}))
    click.echo(explain(unit, key_path, env).render(), nl=False)
    sys.exit(ExitCode.OK)
