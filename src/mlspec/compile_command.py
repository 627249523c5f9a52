"""The body of `mlspec compile`: compile every spec, then write, check or diff the output."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import click

from mlspec.compiler import MANIFEST, CompileResult, compile_spec, merge_with_previous
from mlspec.frontend import FrontendResult, expand_spec_paths
from mlspec.writer import compare_tree, output_lock, read_tree, recover, tree_diff, write_tree


def run_compile(paths: list[str], out_root: Path, envs: list[str], targets: list[str], check: bool,
                show_diff: bool, fmt: str, colour: bool, report) -> int:
    from mlspec.targets.registry import available_targets

    unknown = [t for t in targets if t not in available_targets()]
    if unknown:
        raise click.UsageError(f"unknown target {', '.join(unknown)}; known: {', '.join(available_targets())}")
    files, missing = expand_spec_paths(paths)
    if missing:
        raise click.UsageError(f"no such file or folder: {', '.join(missing)}")
    if not files:
        raise click.UsageError("no spec files (*.yaml, *.yml) found in: " + ", ".join(paths))
    results = _compile_all(files, out_root, targets, envs)
    _reject_duplicate_systems(results)
    if report([_as_frontend(r) for r in results], fmt):
        click.echo("nothing was written", err=True)
        # E9xx: the installation or the machine failed us, not the spec (exit 3, fail closed).
        broken = any(d.code.startswith("E9") for r in results for d in r.diagnostics)
        return 3 if broken else 1
    try:
        with output_lock(out_root):
            if not (check or show_diff):
                recover(out_root)
            return _apply(results, out_root, paths, envs, targets, check, show_diff)
    except OSError as exc:
        # Fails closed: the previous tree is intact (writes go to a staging copy first).
        where = exc.filename or out_root
        click.echo(f"error[E901]: cannot write the output: {exc.strerror or exc} ({where})\n"
                   f"  = help: the previous contents of {out_root} are unchanged", err=True)
        return 3


def _compile_all(files: list[Path], out_root: Path, targets: list[str], envs: list[str]) -> list[CompileResult]:
    # Specs are independent: compile them on every core when there are several.
    if len(files) > 2:
        import multiprocessing

        with ProcessPoolExecutor(max_workers=min(len(files), multiprocessing.cpu_count() or 1),
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_compile_one, [(f, out_root, targets, envs) for f in files]))
    return [compile_spec(f, out_root, targets or None, envs or None) for f in files]


def _compile_one(args) -> CompileResult:
    spec_file, out_root, targets, envs = args
    return compile_spec(spec_file, out_root, targets or None, envs or None)


def _reject_duplicate_systems(results: list[CompileResult]) -> None:
    from mlspec.diagnostics import Diagnostic

    owners: dict[str, str] = {}
    for result in results:
        if result.system is None:
            continue
        if result.system in owners:
            result.diagnostics.append(Diagnostic(
                "E210", f"system `{result.system}` is also defined in {owners[result.system]}", result.spec_file,
                help="each spec needs its own metadata.name"))
            result.system = None
        else:
            owners[result.system] = result.spec_file


def _as_frontend(result: CompileResult) -> FrontendResult:
    from mlspec.source.loader import LoadedSource
    from mlspec.source.positions import PositionTree

    source = LoadedSource(result.spec_file, result.source_text, "", None, PositionTree())
    return FrontendResult(result.spec_file, source, None, result.diagnostics)


def _apply(results, out_root: Path, paths, envs, targets, check: bool, show_diff: bool) -> int:
    stale: list[str] = []
    diffs: list[str] = []
    plans = []
    for result in results:
        current = read_tree(out_root / result.system)
        files = merge_with_previous(result, current)
        change = compare_tree(current, files)
        if not change.empty:
            stale.append(result.system)
            diffs.append(tree_diff(current, files, f"{out_root.as_posix()}/{result.system}"))
        plans.append((result.system, files, change))
    orphans = _orphaned_systems(out_root, results, paths) if not (targets or envs) else []
    for orphan in orphans:
        stale.append(orphan)
        diffs.append(tree_diff(read_tree(out_root / orphan), {}, f"{out_root.as_posix()}/{orphan}"))
    command = _fix_command(paths, out_root, envs, targets)
    if check or show_diff:
        if diffs:
            click.echo("".join(diffs), nl=False)
        if check:
            if stale:
                click.echo(f"{out_root} is stale for: {', '.join(stale)}\nrun `{command}` and commit the result",
                           err=True)
                return 1
            click.echo(f"{out_root} is up to date ({len(results)} system{'s' if len(results) != 1 else ''})",
                       err=True)
        return 0
    for system, files, change in plans:
        write_tree(out_root, system, files)
        if not change.empty:
            click.echo(f"{system}: {len(change.added)} added, {len(change.changed)} changed, "
                       f"{len(change.removed)} removed", err=True)
        else:
            click.echo(f"{system}: up to date", err=True)
    for orphan in orphans:
        shutil.rmtree(out_root / orphan)
        click.echo(f"{orphan}: removed (its spec is gone)", err=True)
    return 0


def _orphaned_systems(out_root: Path, results, paths) -> list[str]:
    """System folders whose spec file, inside one of the compiled folders, no longer exists."""
    produced = {r.system for r in results}
    folders = [Path(p).resolve() for p in paths if Path(p).is_dir()]
    if not folders or not out_root.is_dir():
        return []
    orphans = []
    for entry in sorted(out_root.iterdir()):
        manifest = entry / MANIFEST
        if entry.name in produced or not manifest.is_file():
            continue
        try:
            recorded = json.loads(manifest.read_text(encoding="utf-8"))["spec"]["path"]
        except (ValueError, KeyError, TypeError):
            continue
        spec = (out_root.resolve().parent / recorded).resolve()
        if any(folder in spec.parents for folder in folders) and not spec.exists():
            orphans.append(entry.name)
    return orphans


def _fix_command(paths, out_root: Path, envs, targets) -> str:
    words = ["mlspec", "compile", *paths]
    if out_root.as_posix() != "generated":
        words += ["--out", out_root.as_posix()]
    for env in envs:
        words += ["--env", env]
    for target in targets:
        words += ["--target", target]
    return shlex.join(words)
