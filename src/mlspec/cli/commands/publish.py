"""`mlspec publish`: commit the deployable manifests into the GitOps deployments repository."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlspec.cli import options
from mlspec.cli.output import print_diagnostics, report_publish, say
from mlspec.errors import ExitCode


@click.command("publish")
@options.spec_paths
@options.repo(required=True)
@options.branch()
@options.push()
@options.out("Where the specs are compiled (the deployable subset of that output is published).")
@options.diagnostics_format
def command(paths, repo, branch, push, out, fmt) -> None:
    """Commit the deployable manifests of specs into the GitOps deployments repository."""
    from mlspec.compiler.deployments import compile_plans
    from mlspec.gitops.publish import check_repo_argument, publish
    from mlspec.source.files import spec_files

    files = spec_files(list(paths) or ["specs"])
    check_repo_argument(repo)
    plans, results = compile_plans(files, Path(out))
    if print_diagnostics(results, fmt) or plans is None:
        say("nothing was published")
        sys.exit(ExitCode.SPEC_ERRORS)
    for plan in plans:
        say(f"{plan.system}: {len(plan.files)} deployable file{'s' if len(plan.files) != 1 else ''}"
            f" -> {', '.join(plan.roots)}")
    outcome = publish(plans, repo, branch, push, log=say)
    report_publish(outcome, repo)
