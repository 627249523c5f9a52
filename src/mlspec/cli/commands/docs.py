"""`mlspec docs`: write (or check) the spec reference, docs/spec-reference.md."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlspec.cli.output import say
from mlspec.errors import ExitCode


@click.command("docs")
@click.option("--check", is_flag=True, help="Fail (exit 1) with a diff when the committed reference is stale.")
@click.option("--out", default=None, help="Where to write the reference [default: docs/spec-reference.md].")
def command(check: bool, out: str | None) -> None:
    """Write the spec reference (every key, its type, default, allowed values and an example, and the
    rules between keys), generated from the same models as the JSON Schema."""
    from mlspec.compiler.reference import REFERENCE_PATH, reference_text
    from mlspec.fsutil import unified_diff, write_text_atomic

    path = Path(out or REFERENCE_PATH)
    text = reference_text()
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            click.echo(unified_diff(current, text, str(path)), nl=False)
            say(f"{path} is stale; run `mlspec docs{' --out ' + out if out else ''}` and commit it")
            sys.exit(ExitCode.SPEC_ERRORS)
        say(f"{path} is up to date")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    say(f"wrote {path}")
