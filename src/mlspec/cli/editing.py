"""What promote, rollback and rollout decide share: a spec edit, shown, written, recompiled,
committed to the spec's repository (--commit) and published (--repo)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlspec.cli.output import print_diagnostics, report_publish, say
from mlspec.errors import ExitCode, SpecError, UsageError


def run_spec_edit(kind: str, model: str, spec: str | None, out_root: Path, repo, branch, push, fmt: str, plan,
                  commit: bool = False, push_spec: bool = False) -> None:
    """Find and check the spec, plan the edit (`plan(unit)`; None: nothing to change, the plan
    said why), show its diff, then write, recompile, commit (and push the spec commit) and
    publish."""
    from mlspec.fsutil import unified_diff
    from mlspec.gitops.promote import find_spec_for_model
    from mlspec.gitops.spec_edit import edit_spec

    spec_file = Path(spec) if spec else find_spec_for_model(model)
    if not spec_file.is_file():
        raise UsageError(f"no such file: {spec_file}")

    def show(promotion) -> None:
        if promotion.changed:
            click.echo(unified_diff(promotion.old_text, promotion.new_text, str(spec_file)), nl=False)
        say(promotion.summary + ("" if promotion.changed else " (spec unchanged)"))
        if promotion.evidence:
            say(f"decided by: {promotion.evidence}")

    try:
        outcome = edit_spec(kind, spec_file, out_root, plan, repo, branch, push, commit, push_spec, log=say,
                            show=show)
    except SpecError as exc:
        print_diagnostics(exc.units, fmt)
        say(f"{kind}: {exc}")
        sys.exit(ExitCode.SPEC_ERRORS)
    if outcome is None:
        return
    for system_name, change in outcome.run.applied.changes:
        if change.empty:
            say(f"{system_name}: up to date")
        else:
            say(f"{system_name}: {len(change.added)} added, {len(change.changed)} changed,"
                f" {len(change.removed)} removed")
    if outcome.published is not None:
        report_publish(outcome.published, repo)

