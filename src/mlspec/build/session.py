"""The front end as one call: load -> validate -> check, stopping after a stage with errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlspec.diagnostics import Diagnostic, Severity
from mlspec.source.loader import LoadedSource, load_spec_bytes, load_spec_file

if TYPE_CHECKING:
    from mlspec.spec.models import MLSystemSpec

SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass
class FrontendResult:
    path: str
    source: LoadedSource | None = None
    spec: MLSystemSpec | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.spec is not None and not any(d.severity is Severity.ERROR for d in self.diagnostics)


def load_and_check(path: str | Path, raw: bytes | None = None) -> FrontendResult:
    """`raw`: the file's bytes when the caller has read them already (to key a cache on
    them), so the file is read once and the verdict is about those very bytes."""
    from mlspec.check import check_spec
    from mlspec.spec.validate import validate_spec

    result = FrontendResult(str(path))
    source, diagnostics = load_spec_file(path) if raw is None else load_spec_bytes(raw, str(path))
    result.source, result.diagnostics = source, list(diagnostics)
    if source is None:
        result.source = _text_for_rendering(path, raw)
        return result
    spec, diagnostics = validate_spec(source)
    result.diagnostics += diagnostics
    if spec is None:
        return result
    result.diagnostics += check_spec(spec, source)
    result.spec = spec if not any(d.severity is Severity.ERROR for d in result.diagnostics) else None
    return result


def _text_for_rendering(path: str | Path, raw: bytes | None) -> LoadedSource | None:
    """The file's text, so diagnostics of a file that did not load can still show the
    offending line; it carries no data, and only renderers read it."""
    from mlspec.source.loader import MAX_FILE_BYTES, read_spec_file

    if raw is None:
        raw, _ = read_spec_file(path)
    if raw is None or len(raw) > MAX_FILE_BYTES:
        return None
    return LoadedSource.for_rendering(str(path), raw.decode("utf-8", errors="replace"))


def spec_files(paths: list[str]) -> list[Path]:
    """The spec files every command works on, or a usage error (exit 2) naming what is wrong."""
    import click

    files, missing = expand_spec_paths(paths)
    if missing:
        raise click.UsageError(f"no such file or folder: {', '.join(missing)}")
    if not files:
        raise click.UsageError("no spec files (*.yaml, *.yml) found in: " + ", ".join(paths))
    return files


def expand_spec_paths(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Files as given, folders searched (sorted) for *.yaml / *.yml; returns (files, missing)."""
    files: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in SPEC_SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            missing.append(raw)
    return files, missing
