"""`mlspec codes [ID]`: what a diagnostic code means and how to fix it (as `ruff rule` does)."""

from __future__ import annotations

import click

from mlspec.errors import UsageError


@click.command("codes")
@click.argument("code_id", required=False, metavar="[ID]")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True,
              help="`markdown`: every code with its doc, the page docs/codes.md holds (editors link to it).")
def command(code_id: str | None, fmt: str) -> None:
    """List every diagnostic code, or explain one (e.g. `mlspec codes E201`)."""
    from mlspec.diagnostics import codes

    if fmt == "markdown":
        from mlspec.diagnostics.reference import codes_markdown

        click.echo(codes_markdown(), nl=False)
        return
    if code_id is None:
        for code in codes.CODES.values():
            click.echo(f"{code.id}  {code.severity.value:7}  {code.stage:8}  {code.summary}")
        return
    code = codes.CODES.get(code_id.upper())
    if code is None:
        from mlspec.diagnostics import did_you_mean

        raise UsageError(f"no diagnostic code `{code_id}`; " + (did_you_mean(code_id.upper(), codes.CODES)
                                                                  or "`mlspec codes` lists them"))
    click.echo(f"{code.id}: {code.summary}\n\nseverity: {code.severity.value}\nstage: {code.stage}\n\n{code.doc}")
