"""`mlspec schema`: write (or check) the JSON Schema editors validate specs against."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlspec.cli.output import say
from mlspec.errors import ExitCode


@click.command("schema")
@click.option("--check", is_flag=True, help="Fail (exit 1) with a diff when the committed schema is stale.")
@click.option("--out", default=None, help="Where to write the schema [default: schema/mlspec.schema.json].")
def command(check: bool, out: str | None) -> None:
    """Write the JSON Schema of the spec language (for editors and CI)."""
    from mlspec.fsutil import unified_diff, write_text_atomic
    from mlspec.spec.schema import SCHEMA_PATH, schema_text

    path = Path(out or SCHEMA_PATH)
    text = schema_text()
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            click.echo(unified_diff(current, text, str(path)), nl=False)
            say(f"{path} is stale; run `mlspec schema{' --out ' + out if out else ''}` and commit it")
            sys.exit(ExitCode.SPEC_ERRORS)
        say(f"{path} is up to date")
        return
    write_text_atomic(path, text)
    say(f"wrote {path}")
