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
    # Entries left out of `spec` because validation already reported an error in them
    # (`("datasets", "customers")`): a reference to one is not "unknown", only broken.
    dropped: frozenset[tuple] = frozenset()
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, path: tuple, *, label: str = "", help: str = "",
              on_key: bool = False, severity: Severity = Severity.ERROR) -> None:
        _, span = self.source.positions.nearest(path, prefer_key=on_key)
        self.diagnostics.append(Diagnostic(code, message, self.source.path, span, tuple(path),
                                           severity=severity, label=label, help=help))

    def left_out(self, section: str):
        """(name, mapping as written) of each entry of a named section that validation left out
        for an error inside it: rules that need only a few of its values (references written as
        strings, the model's task) still check those, so the error beside them does not hide
        theirs until it is fixed."""
        entries = self.source.data.get(section) if isinstance(self.source.data, dict) else None
        if not isinstance(entries, dict):
            return
        present = getattr(self.spec, section)
        for name, raw in entries.items():
            if name not in present and isinstance(raw, dict) and (section, name) in self.dropped:
                yield str(name), raw

    def _hidden_by_dropped(self, section: str, name: str, candidates) -> bool:
        """Whether an unknown reference may only look unknown because validation left out
        what it refers to: the entry itself, its whole section, or (after a misspelled or
        malformed top-level key) any section that ended up empty."""
        if (section, name) in self.dropped or (section,) in self.dropped:
            return True
        return not candidates and any(len(path) == 1 for path in self.dropped)

    def unknown(self, code: str, what: str, name: str, section: str, candidates, path: tuple) -> None:
        """The standard "unknown reference" error, with the closest names as help."""
        if self._hidden_by_dropped(section, name, candidates):
            return
        self.error(code, f"unknown {what} `{name}`", path, label=f"not defined under `{section}`",
                   help=did_you_mean(name, candidates))
