"""`mlspec compile`: write generated/<system>/ for each spec, or check or diff it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from mlspec.cli import options
from mlspec.cli.output import Diagnostics, print_diagnostics, say
from mlspec.diagnostics import Severity, codes
from mlspec.errors import ExitCode, UsageError


@click.command("compile")
@options.spec_paths
@options.out()
@options.environments("Only this environment's manifests (repeatable).")
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable); see `mlspec targets`.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when the output on disk is stale.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print what a compile would change.")
@options.diagnostics_format
def command(paths, out, envs, targets, check, show_diff, fmt) -> None:
    """Compile specs into the files each tool of the platform reads."""
    from mlspec.compiler.run import compile_and_apply
    from mlspec.source.files import spec_files
    from mlspec.targets.registry import available_targets

    unknown = [t for t in targets if t not in available_targets()]
    if unknown:
        raise UsageError(f"unknown target {', '.join(unknown)}; known: {', '.join(available_targets())}")
    paths = list(paths) or ["specs"]
    out_root = Path(out)
    mode = "check" if check else "diff" if show_diff else "write"
    from mlspec.spec import sql_worker

    with sql_worker.allowed():  # SQL parsed in a child beside the rest (spec/sql_worker.py)
        run = compile_and_apply(spec_files(paths), paths, out_root, list(targets), list(envs), mode)
    if print_diagnostics([*run.results, Diagnostics(run.write_errors)], fmt):
        say("nothing was written")
        errors = {d.code for r in [*run.results, Diagnostics(run.write_errors)] for d in r.diagnostics
                  if d.severity is Severity.ERROR}
        sys.exit(codes.exit_code(errors))
    report = run.applied
    if mode != "write":
        if report.diff:
            click.echo(report.diff, nl=False)
        if mode == "check":
            if report.stale:
                say(f"{out_root} is stale for: {', '.join(report.stale)}\n"
                    f"run `{fix_command(paths, out_root, envs, targets)}` and commit the result")
                sys.exit(ExitCode.SPEC_ERRORS)
            count = len(run.results)
            say(f"{out_root} is up to date ({count} system{'s' if count != 1 else ''})")
        sys.exit(ExitCode.OK)
    for system, change in report.changes:
        if change.empty:
            say(f"{system}: up to date")
        else:
            say(f"{system}: {len(change.added)} added, {len(change.changed)} changed, {len(change.removed)} removed")
    for orphan in report.orphans:
        say(f"{orphan}: removed (its spec is gone)")
    sys.exit(ExitCode.OK)


def fix_command(paths, out_root: Path, envs, targets) -> str:
    """The command that brings the output up to date, for the message of a failed --check."""
    words = ["mlspec", "compile", *paths]
    if out_root.as_posix() != "generated":
        words += ["--out", out_root.as_posix()]
    for env in envs:
        words += ["--env", env]
    for target in targets:
        words += ["--target", target]
    return shlex.join(words)
