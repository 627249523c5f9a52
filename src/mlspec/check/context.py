"""What every check pass gets: the spec, its source positions, and a place to report."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlspec.diagnostics import Diagnostic, Severity, did_you_mean
from mlspec.source.loader import LoadedSource
from mlspec.spec.models import MLSystemSpec


@dataclass
class CheckContext:
    spec: MLSystemSpec
    source: LoadedSource
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, path: tuple, *, label: str = "", help: str = "",
              on_key: bool = False, severity: Severity = Severity.ERROR) -> None:
        _, span = self.source.positions.nearest(path, prefer_key=on_key)
        self.diagnostics.append(Diagnostic(code, message, self.source.path, span, tuple(path),
                                           severity=severity, label=label, help=help))

    def unknown(self, code: str, what: str, name: str, section: str, candidates, path: tuple) -> None:
        """The standard "unknown reference" error, with the closest names as help."""
        self.error(code, f"unknown {what} `{name}`", path, label=f"not defined under `{section}`",
                   help=did_you_mean(name, candidates))
