"""The body of `mlspec compile`: compile every spec, then write, check or diff the output."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import click

from mlspec.build.compile import MANIFEST, CompileResult, compile_spec, merge_with_previous
from mlspec.build.session import FrontendResult, spec_files
from mlspec.source.loader import read_spec_file
from mlspec.build.writer import compare_tree, output_lock, read_tree, recover, tree_diff, write_tree


def run_compile(paths: list[str], out_root: Path, envs: list[str], targets: list[str], check: bool,
                show_diff: bool, fmt: str, colour: bool, report) -> int:
    from mlspec.targets.registry import available_targets

    unknown = [t for t in targets if t not in available_targets()]
    if unknown:
        raise click.UsageError(f"unknown target {', '.join(unknown)}; known: {', '.join(available_targets())}")
    files = spec_files(paths)
    partial = bool(targets or envs)
    # Each spec is read once: the result cache's key and the compile are about the same bytes,
    # even if the file is edited while we run.
    raws = {f: read_spec_file(f)[0] for f in files}
    keys = {} if partial else {f: _compile_key(f, raws[f], out_root) for f in files}
    unchanged = {f: _unchanged_system(f, keys[f], out_root) for f in keys}
    to_compile = [f for f in files if not unchanged.get(f)]
    compiled = iter(compile_all(to_compile, out_root, targets, envs, raws))
    results = [unchanged.get(f) or next(compiled) for f in files]
    reject_duplicate_systems(results)
    if report([as_frontend_result(r) for r in results], fmt):
        click.echo("nothing was written", err=True)
        # E9xx: the installation or the machine failed us, not the spec (exit 3, fail closed).
        broken = any(d.code.startswith("E9") for r in results for d in r.diagnostics)
        return 3 if broken else 1
    try:
        with output_lock(out_root):
            if not (check or show_diff):
                recover(out_root)
            code = _apply(results, out_root, paths, envs, targets, check, show_diff)
        if code == 0 and not show_diff and not check:
            _remember(zip(files, results), keys)
        return code
    except OSError as exc:
        # Fails closed: the previous tree is intact (writes go to a staging copy first).
        where = exc.filename or out_root
        click.echo(f"error[E901]: cannot write the output: {exc.strerror or exc} ({where})\n"
                   f"  = help: the previous contents of {out_root} are unchanged", err=True)
        return 3


def _compile_key(spec_file: Path, raw: bytes | None, out_root: Path) -> str | None:
    """The result cache's key for compiling these bytes of `spec_file` into `out_root`; None
    when the cache is off or the file could not be read (compile_spec reports why)."""
    from mlspec.build import cache
    from mlspec.build.compile import recorded_spec_path
    from mlspec.targets.kfp_version import installed_kfp_version

    if raw is None or not cache.enabled():
        return None
    # kfp's version is part of the key because the pipeline IR embeds it.
    return cache.make_key("compile", raw, recorded_spec_path(spec_file, out_root), installed_kfp_version())


def _unchanged_system(spec_file: Path, key: str | None, out_root: Path) -> CompileResult | None:
    """When this very spec, compiled by this very mlspec, is known to produce the manifest
    on disk, and every file on disk still has the hash that manifest records, there is
    nothing to compile: return the tree as it is (pydantic, jinja2 and kfp stay unloaded)."""
    import hashlib

    from mlspec.build import cache

    hit = cache.get("compile", key) if key else None
    if hit is None:
        return None
    current = read_tree(out_root / hit["system"])
    manifest_text = current.get(MANIFEST, "")
    if hashlib.sha256(manifest_text.encode("utf-8")).hexdigest() != hit["manifest_sha256"]:
        return None
    artifacts = json.loads(manifest_text)["artifacts"]
    if set(current) != {a["path"] for a in artifacts} | {MANIFEST}:
        return None
    if any(hashlib.sha256(current[a["path"]].encode("utf-8")).hexdigest() != a["sha256"] for a in artifacts):
        return None
    return CompileResult(str(spec_file), system=hit["system"], files=current, unchanged_on_disk=True)


def _remember(compiled, keys: dict[Path, str | None]) -> None:
    """Record, for each (spec file, result) compiled whole, the manifest its bytes produce."""
    import hashlib

    from mlspec.build import cache

    for spec_file, result in compiled:
        key = keys.get(spec_file)
        if key and result.ok and MANIFEST in result.files and result.scope == (None, None):
            manifest_sha = hashlib.sha256(result.files[MANIFEST].encode("utf-8")).hexdigest()
            cache.put("compile", key, {"system": result.system, "manifest_sha256": manifest_sha})


def compile_all(files: list[Path], out_root: Path, targets: list[str], envs: list[str],
                raws: dict[Path, bytes | None] | None = None) -> list[CompileResult]:
    """Compile each spec file (from its bytes in `raws` when the caller has read them);
    specs are independent, so on every core when there are several."""
    raws = raws or {}
    jobs = [(spec_file, raws.get(spec_file), out_root, targets, envs) for spec_file in files]
    if len(jobs) > 2:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor  # ~10 ms: only when there are several

        with ProcessPoolExecutor(max_workers=min(len(jobs), multiprocessing.cpu_count() or 1),
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_compile_one, jobs))
    return [_compile_one(job) for job in jobs]


def _compile_one(job) -> CompileResult:
    spec_file, raw, out_root, targets, envs = job
    return compile_spec(spec_file, out_root, targets or None, envs or None, raw=raw)


def reject_duplicate_systems(results: list[CompileResult]) -> None:
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


def as_frontend_result(result: CompileResult) -> FrontendResult:
    from mlspec.source.loader import LoadedSource

    source = LoadedSource.for_rendering(result.spec_file, result.source_text)
    return FrontendResult(result.spec_file, source, None, result.diagnostics)


def _apply(results, out_root: Path, paths, envs, targets, check: bool, show_diff: bool) -> int:
    stale: list[str] = []
    diffs: list[str] = []
    plans = []
    for result in results:
        if result.unchanged_on_disk:  # the cache vouched for it: nothing to compare or write
            continue
        current = read_tree(out_root / result.system)
        files = merge_with_previous(result, current)
        change = compare_tree(current, files)
        if not change.empty:
            stale.append(result.system)
            if check or show_diff:  # a plain compile prints no diff: don't pay for one
                diffs.append(tree_diff(current, files, f"{out_root.as_posix()}/{result.system}"))
        plans.append((result.system, current, files, change))
    orphans = _orphaned_systems(out_root, results, paths) if not (targets or envs) else []
    for orphan in orphans:
        stale.append(orphan)
        if check or show_diff:
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
    changes = {system: (current, files, change) for system, current, files, change in plans}
    for result in results:
        if result.system not in changes or changes[result.system][2].empty:
            click.echo(f"{result.system}: up to date", err=True)
            continue
        current, files, change = changes[result.system]
        write_tree(out_root, result.system, files, current)
        click.echo(f"{result.system}: {len(change.added)} added, {len(change.changed)} changed, "
                   f"{len(change.removed)} removed", err=True)
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
