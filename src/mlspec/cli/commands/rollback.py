"""`mlspec rollback`: all traffic back to the previous version, through a spec edit."""

from __future__ import annotations

from pathlib import Path

import click

from mlspec.cli import options


@click.command("rollback")
@click.argument("model")
@options.environment(required=True, help="Environment to roll back in.")
@click.option("--spec", default=None, type=click.Path(), help="Spec file [default: the one under ./specs that"
              " defines MODEL].")
@options.publishing()
@options.commit
@options.diagnostics_format
def command(model, env, spec, out, repo, branch, push, commit, fmt) -> None:
    """Send all traffic back to the previous version (ends the canary). Edits the spec,
    recompiles, commits with --commit and publishes with --repo."""
    from mlspec.cli.editing import run_spec_edit
    from mlspec.gitops.promote import plan_rollback

    run_spec_edit("rollback", model, spec, Path(out), repo, branch, push, fmt,
                  lambda unit: plan_rollback(unit, model, env), commit=commit)
