"""`mlspec diff`: what a change to the specs does, per target, before it is merged."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlspec.cli import options
from mlspec.cli.output import print_diagnostics_before_data
from mlspec.errors import ExitCode


@click.command("diff")
@options.spec_paths
@options.out("Compare with this generated tree (unless --repo is given).")
@options.repo(help="Compare the deployable manifests with this deployments repository.")
@options.branch("Branch of --repo [default: its current or default branch].")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True, help="markdown is ready to post as a pull-request comment; json also prints"
              " spec errors as JSON.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are changes.")
def command(paths, out, repo, branch, fmt, exit_code) -> None:
    """Show what compiling the specs would change: per target, files and Kubernetes objects
    added, changed and removed, then the unified diffs."""
    from mlspec.review.diff import diff_specs, render_json, render_markdown, render_text
    from mlspec.source.files import spec_files

    if repo is not None:
        from mlspec.gitops.publish import check_repo_argument

        check_repo_argument(repo)
    results, diffs = diff_specs(spec_files(list(paths) or ["specs"]), Path(out), repo, branch)
    if print_diagnostics_before_data(results, fmt == "json") or diffs is None:
        sys.exit(ExitCode.SPEC_ERRORS)
    click.echo({"text": render_text, "markdown": render_markdown, "json": render_json}[fmt](diffs), nl=False)
    sys.exit(ExitCode.SPEC_ERRORS if exit_code and any(d.files for d in diffs) else ExitCode.OK)
