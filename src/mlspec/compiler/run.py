"""What `validate` and `compile` do, with the result cache as one layer around each:
look up, compute what was not found, record.

    validate_files(files)                    -> [SpecUnit]       (diagnostics per file)
    compile_files(files, out_root, ...)      -> CompileRun       (results; nothing written)
    compile_and_apply(paths, out_root, ...)  -> CompileRun       (results and what changed on disk)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

from mlspec.compiler import cache
from mlspec.compiler.session import SpecUnit, load_unit, recorded_spec_path
from mlspec.diagnostics import Diagnostic
from mlspec.source.loader import LoadedSource, read_spec_file

if TYPE_CHECKING:  # compiling and writing are imported by the commands that do them, not by validate
    from mlspec.compiler.apply import ApplyReport
    from mlspec.compiler.compile import CompileResult


def validate_files(files: list[Path]) -> list[SpecUnit]:
    """The front end's verdict on each file; from the cache when mlspec and the file are
    unchanged since it was computed (then pydantic is not even imported)."""
    units = []
    for path in files:
        raw, problems = read_spec_file(path)  # a file over the size limit is not read
        if raw is None:
            units.append(SpecUnit(Path(path), diagnostics=problems))
            continue
        hit = cache.lookup_validation(str(path), raw)
        if hit is not None:
            text = LoadedSource.for_rendering(str(path), raw.decode("utf-8", errors="replace"))
            units.append(SpecUnit(Path(path), raw=raw, source=text, diagnostics=hit))
            continue
        unit = load_unit(path, raw=raw)
        cache.record_validation(str(path), raw, unit.diagnostics)
        units.append(unit)
    return units


@dataclass
class CompileRun:
    results: list[CompileResult]
    applied: ApplyReport | None = None
    # The machine failed us while writing (E901): the previous output is intact.
    write_errors: list[Diagnostic] = field(default_factory=list)
    keys: dict[str, str | None] = field(default_factory=dict)  # spec file -> result-cache key

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and not self.write_errors


def compile_files(files: list[Path], out_root: Path, targets: list[str] = (), envs: list[str] = (),
                  use_cache: bool = True, reuse_previous: bool = True) -> CompileRun:
    """Compile each spec (each file read once: the cache key and the compile are about the
    same bytes, even if the file is edited while we run). A whole compile whose result the
    cache vouches for on disk is not compiled again. `reuse_previous`: see
    compile.compile_unit (False for a check or a diff)."""
    from mlspec.compiler.compile import CompileResult, compile_all, reject_duplicate_systems

    whole = use_cache and not (targets or envs)
    raws = {f: read_spec_file(f)[0] for f in files}
    keys = {str(f): cache.compile_key(raws[f], recorded_spec_path(f, out_root)) if whole and raws[f] else None
            for f in files}
    unchanged: dict[Path, CompileResult] = {}
    for f in files:
        hit = cache.lookup_compile(keys[str(f)], out_root)
        if hit is not None:
            system, tree, warnings = hit
            unchanged[f] = CompileResult(str(f), system=system, files=tree, diagnostics=warnings,
                                         source_text=raws[f].decode("utf-8", errors="replace") if warnings else "",
                                         unchanged_on_disk=True)
    compiled = iter(compile_all([f for f in files if f not in unchanged], out_root, list(targets), list(envs), raws,
                                reuse_previous))
    results = [unchanged.get(f) or next(compiled) for f in files]
    reject_duplicate_systems(results)
    return CompileRun(results, keys=keys)


def compile_and_apply(files: list[Path], spec_paths: list[str], out_root: Path, targets: list[str] = (),
                      envs: list[str] = (), mode: str = "write", use_cache: bool = True) -> CompileRun:
    """Compile, then write (or check, or diff) the output folder; nothing is written when
    any spec has errors. A whole compile that was written is recorded in the cache.
    `use_cache=False` when the results' IR is needed (to publish them): a cache hit has none."""
    from mlspec.compiler.apply import apply_results

    run = compile_files(files, out_root, targets, envs, use_cache=use_cache, reuse_previous=(mode == "write"))
    if not run.ok:
        return run
    try:
        run.applied = apply_results(run.results, out_root, spec_paths, bool(targets or envs), mode)
    except OSError as exc:
        where = exc.filename or out_root
        run.write_errors.append(Diagnostic(
            "E901", f"cannot write the output: {exc.strerror or exc} ({where})", str(out_root),
            help=f"the previous contents of {out_root} are unchanged"))
        return run
    if mode == "write":
        for result in run.results:
            if result.scope == (None, None) and not result.unchanged_on_disk:
                cache.record_compile(run.keys.get(result.spec_file), result.system, result.files["manifest.json"],
                                     result.diagnostics)
    return run
