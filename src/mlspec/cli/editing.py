"""What promote and rollback share: a spec edit, shown, written, recompiled and published."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlspec.cli.output import print_diagnostics, report_publish, say
from mlspec.errors import ExitCode, SpecError, UsageError


def run_spec_edit(kind: str, model: str, spec: str | None, out_root: Path, repo, branch, push, fmt: str, plan
                  ) -> None:
    """What promote and rollback share: find and check the spec, plan the edit, show its
    diff, then write, recompile and publish."""
    from mlspec.fsutil import unified_diff
    from mlspec.gitops.promote import carry_out, find_spec_for_model, load_checked
    from mlspec.gitops.publish import check_repo_argument

    spec_file = Path(spec) if spec else find_spec_for_model(model)
    if not spec_file.is_file():
        raise UsageError(f"no such file: {spec_file}")
    if repo is not None:
        check_repo_argument(repo)
    try:
        promotion = plan(load_checked(spec_file, out_root))
        if promotion.changed:
            click.echo(unified_diff(promotion.old_text, promotion.new_text, str(spec_file)), nl=False)
        say(promotion.summary + ("" if promotion.changed else " (spec unchanged)"))
        outcome = carry_out(promotion, out_root, repo, branch, push, log=say)
    except SpecError as exc:
        print_diagnostics(exc.units, fmt)
        say(f"{kind}: {exc}")
        sys.exit(ExitCode.SPEC_ERRORS)
    for system, change in outcome.run.applied.changes:
        if change.empty:
            say(f"{system}: up to date")
        else:
            say(f"{system}: {len(change.added)} added, {len(change.changed)} changed, {len(change.removed)} removed")
    if outcome.published is not None:
        report_publish(outcome.published, repo)
