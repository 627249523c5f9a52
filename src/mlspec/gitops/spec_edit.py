"""A spec edit carried through, as one function: what `mlspec promote`, `rollback` and `rollout
decide` do after the command line is read (cli/editing.py), and what the local run's promote
stage calls (through the Deployer the CLI hands it)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from mlspec.compiler.session import SpecUnit
from mlspec.errors import UsageError
from mlspec.gitops.promote import Promotion, PromotionOutcome, carry_out, load_checked, plan_promote


def edit_spec(kind: str, spec_file: Path, out_root: Path, plan: Callable[[SpecUnit], Promotion | None],
              repo: str | None = None, branch: str | None = None, push: bool = False, commit: bool = False,
              push_spec: bool = False, log: Callable[[str], None] = lambda _m: None,
              show: Callable[[Promotion], None] = lambda _p: None) -> PromotionOutcome | None:
    """What promote, rollback and rollout decide share, as one function: the spec checked (and,
    with `commit`, its repository clean; with `push_spec`, synced with its remote first), the
    edit planned (`plan(unit)`; None: nothing to change, the plan said why), shown (`show`),
    written, recompiled into `out_root`, committed (`commit`) and published (`repo`). Raises
    SpecError (with the diagnostics), UsageError (a canary awaiting its analysis), ExternalError."""
    from mlspec.gitops.publish import check_repo_argument

    if repo is not None:
        check_repo_argument(repo)
    unit = load_checked(spec_file, out_root)
    system = unit.project.base.name
    if commit:
        from mlspec.gitops.spec_commit import check_clean

        check_clean(spec_file, out_root, system)
        if push_spec:
            from mlspec.gitops.spec_commit import sync_spec

            sync_spec(spec_file)  # edit what the spec remote holds
            unit = load_checked(spec_file, out_root)
    promotion = plan(unit)
    if promotion is None:
        return None
    if promotion.awaiting_analysis:
        raise UsageError(promotion.summary)
    show(promotion)
    hook = None
    if commit:
        from mlspec.gitops.spec_commit import commit_hook

        hook = commit_hook(kind, promotion, out_root, system, push_spec, log)
    return carry_out(promotion, out_root, repo, branch, push, log=log, before_publish=hook)


def promote_version(spec_file: Path, model: str, env: str, version: str, storage_uri: str, out_root: Path,
                    repo: str | None = None, commit: bool = False,
                    log: Callable[[str], None] = lambda _m: None) -> PromotionOutcome:
    """`mlspec promote MODEL --env ENV --version V --storage-uri URI --spec SPEC [--commit]
    [--repo REPO]`, as a function (the local run's promote stage calls it)."""
    outcome = edit_spec("promote", spec_file, out_root,
                        lambda unit: plan_promote(unit, model, env, version, None, storage_uri, None),
                        repo=repo, commit=commit, log=log)
    assert outcome is not None  # plan_promote always plans (an unchanged spec is an empty edit)
    return outcome
