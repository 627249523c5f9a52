"""apply: bring an output folder in line with compile results, or say how it differs.

Three modes: `write` swaps each changed system's tree in atomically (see `writer`) and
removes the folders of systems whose spec is gone; `check` and `diff` write nothing and
report what `write` would change. Returns data; the CLI prints it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.compiler.compile import MANIFEST, CompileResult, merge_with_previous
from mlspec.compiler.writer import (MAX_FILE_BYTES, TreeChange, compare_tree, output_lock, read_tree, recover,
                                 tree_diff, write_tree)
from mlspec.fsutil import read_regular

MODES = ("write", "check", "diff")


@dataclass
class ApplyReport:
    mode: str
    changes: list[tuple[str, TreeChange]] = field(default_factory=list)  # per compiled system, in order
    orphans: list[str] = field(default_factory=list)  # systems whose spec is gone
    diff: str = ""  # unified diffs of what changes (check and diff modes only)

    @property
    def stale(self) -> list[str]:
        return [system for system, change in self.changes if not change.empty] + self.orphans


def apply_results(results: list[CompileResult], out_root: Path, spec_paths: list[str], partial: bool,
                  mode: str = "write") -> ApplyReport:
    """`spec_paths`: the files and folders compiled, to find orphaned systems (a spec
    deleted from a compiled folder); `partial`: --target/--env were given, so nothing is
    pruned. Raises OSError when the output cannot be written (the old tree is kept)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    report = ApplyReport(mode)
    with output_lock(out_root):
        if mode == "write":
            recover(out_root)
        plans = []
        diffs = []
        for result in results:
            if result.unchanged_on_disk:  # the cache vouched for it: nothing to compare or write
                report.changes.append((result.system, TreeChange((), (), ())))
                continue
            current = read_tree(out_root / result.system)
            files = merge_with_previous(result, current)
            change = compare_tree(current, files)
            report.changes.append((result.system, change))
            plans.append((result.system, current, files, change))
            if mode != "write" and not change.empty:  # a plain compile prints no diff: don't pay for one
                diffs.append(tree_diff(current, files, f"{out_root.as_posix()}/{result.system}"))
        report.orphans = [] if partial else orphaned_systems(out_root, results, spec_paths)
        if mode != "write":
            diffs += [tree_diff(read_tree(out_root / orphan), {}, f"{out_root.as_posix()}/{orphan}")
                      for orphan in report.orphans]
            report.diff = "".join(diffs)
            return report
        for system, current, files, change in plans:
            if not change.empty:
                write_tree(out_root, system, files, current)
        for orphan in report.orphans:
            shutil.rmtree(out_root / orphan)
    return report


def orphaned_systems(out_root: Path, results: list[CompileResult], spec_paths: list[str]) -> list[str]:
    """System folders whose spec file, inside one of the compiled folders, no longer exists."""
    produced = {r.system for r in results}
    folders = [Path(p).resolve() for p in spec_paths if Path(p).is_dir()]
    if not folders or not out_root.is_dir():
        return []
    orphans = []
    for entry in sorted(out_root.iterdir()):
        if entry.name in produced or entry.is_symlink() or not entry.is_dir():
            continue  # a link is not a system folder mlspec wrote: never followed, never removed
        try:
            recorded = json.loads(read_regular(entry / MANIFEST, MAX_FILE_BYTES))["spec"]["path"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not isinstance(recorded, str):
            continue
        spec = (out_root.resolve().parent / recorded).resolve()
        if any(folder in spec.parents for folder in folders) and not spec.exists():
            orphans.append(entry.name)
    return orphans
