"""`mlspec promote`: serve a model version in an environment, through a spec edit."""

from __future__ import annotations

from pathlib import Path

import click

from mlspec.cli import options
from mlspec.errors import UsageError


@click.command("promote")
@click.argument("model")
@options.environment(required=True, help="Environment to promote in.")
@click.option("--version", "version", default=None, help="Registered model version to promote.")
@click.option("--alias", "alias", default=None, help="Promote the version this MLflow alias points at.")
@click.option("--spec", default=None, type=click.Path(), help="Spec file [default: the one under ./specs that"
              " defines MODEL].")
@click.option("--storage-uri", default=None, help="The version's storage folder, instead of asking MLflow"
              " (needs --version).")
@options.tracking_uri
@click.option("--analysis", "analysis", default=None, type=click.Path(),
              help="Completing a canary: the successful analysis of the version in it (the AnalysisRun or Iter8"
                   " Experiment as `kubectl get ... -o json` prints it).")
@click.option("--force", is_flag=True, help="Completing a canary: without a successful analysis (recorded as such).")
@options.publishing()
@options.commit
@options.diagnostics_format
def command(model, env, version, alias, spec, storage_uri, tracking_uri, analysis, force, out, repo, branch, push,
            commit, fmt) -> None:
    """Serve a model version in an environment: start its canary, or complete the canary
    when that version is already in it (which needs a successful analysis, --analysis FILE,
    or --force). Edits the spec (a one-value diff), recompiles, commits with --commit and
    publishes with --repo."""
    from mlspec.cli.editing import run_spec_edit
    from mlspec.gitops.decide import completion_evidence
    from mlspec.gitops.promote import plan_promote

    if (version is None) == (alias is None):
        raise UsageError("give exactly one of --version or --alias")
    if storage_uri is not None and version is None:
        raise UsageError("--storage-uri needs --version (an alias can only be resolved by MLflow)")

    def plan(unit):
        evidence = completion_evidence(unit, model, env, analysis, force) if (analysis or force) else None
        return plan_promote(unit, model, env, version, alias, storage_uri, tracking_uri, completion=evidence)

    run_spec_edit("promote", model, spec, Path(out), repo, branch, push, fmt, plan, commit=commit)
