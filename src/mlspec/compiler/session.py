"""The front end every command uses: a spec file -> a checked, resolved project.

    read (once) -> load (YAML, positions) -> validate (pydantic) -> check (named passes)
      -> overlay each environment (validated and checked like a spec of its own) -> resolve (IR)

`mlspec validate`, `compile`, `publish`, `promote`, `diff`, `graph`, `impact`, `explain`,
`lineage emit` and the webhook all see a spec through `load_unit`, so they report the same
errors in the same words. Each phase runs on what the phases before it found valid: an
error in one model does not hide an unknown SLO in another, and an environment's overlay
is checked even when the base spec has errors elsewhere. Only what cannot be trusted stops
a phase (a file that is not YAML, a spec without `metadata`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlspec.diagnostics import Diagnostic, Severity
from mlspec.source.loader import LoadedSource, load_spec_bytes, read_spec_file, spec_path_diagnostics
from mlspec.spec.sql import parse_beside

if TYPE_CHECKING:
    from mlspec.ir.model import IRProject
    from mlspec.source.overlay import Overlaid
    from mlspec.spec.models import MLSystemSpec


@dataclass
class SpecUnit:
    """One spec file as the front end saw it."""

    path: Path
    raw: bytes | None = None  # the bytes every phase (and the result cache) worked on
    source: LoadedSource | None = None  # may carry only text, for rendering diagnostics
    spec: MLSystemSpec | None = None  # the whole, valid spec (None when anything failed)
    project: IRProject | None = None  # resolved, when the spec and every environment are valid
    overlays: dict[str, Overlaid] = field(default_factory=dict)  # per environment, for `explain`
    diagnostics: list[Diagnostic] = field(default_factory=list)
    recorded_path: str = ""  # the spec's path as generated files name it

    @property
    def display(self) -> str:
        return str(self.path)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def ok(self) -> bool:
        return self.project is not None and not self.has_errors

    @property
    def sha256(self) -> str:
        return self.source.sha256 if self.source is not None else ""

    def unknown_environments(self, wanted: list[str]) -> list[Diagnostic]:
        """E604 for each environment named on the command line that the spec lacks."""
        known = list(self.spec.environments) if self.spec is not None else []
        return [Diagnostic("E604", f"environment `{env}` is not defined in this spec", self.display,
                           help="defined: " + (", ".join(known) or "none"))
                for env in wanted if env not in known]


def recorded_spec_path(spec_file: Path, out_root: Path) -> str:
    """The spec's path as written into generated files: relative to the folder that holds
    the output folder (normally the repository root), so it is the same on every machine
    and from every working directory."""
    from mlspec.textsafe import printable

    base = out_root.resolve().parent
    # Escaped (a file name with a line break is refused by the loader, E013): it goes into
    # every generated file's header comment.
    return printable(Path(os.path.relpath(spec_file.resolve(), base)).as_posix())


def load_unit(path: Path, out_root: Path = Path("generated"), raw: bytes | None = None) -> SpecUnit:
    """Run the whole front end on one spec file. `raw`: its bytes when the caller has read
    them already (to key a cache on them), so the verdict is about those very bytes."""
    unit = SpecUnit(Path(path), recorded_path=recorded_spec_path(Path(path), out_root))
    # Checked here too, not only when the file is read: `raw` may come from the caller.
    unit.diagnostics += spec_path_diagnostics(unit.display)
    if unit.diagnostics:
        return unit
    if raw is None:
        raw, diagnostics = read_spec_file(path)
        if raw is None:
            unit.diagnostics += diagnostics
            return unit
    unit.raw = raw
    parse_beside(raw)  # its SQL parsed in a child beside the rest of the front end
    source, diagnostics = load_spec_bytes(raw, unit.display)
    unit.diagnostics += diagnostics
    if source is None:
        unit.source = _text_for_rendering(unit.display, raw)
        return unit
    unit.source = source
    _check_and_resolve(unit)
    return unit


def load_text(path: Path, text: str, out_root: Path = Path("generated")) -> SpecUnit:
    """The front end on text that is not (yet) the file's content: an edit being checked
    before it is written."""
    return load_unit(path, out_root, raw=text.encode("utf-8", "surrogatepass"))


def _text_for_rendering(display: str, raw: bytes) -> LoadedSource:
    """The file's text, so diagnostics of a file that did not load can still show the
    offending line; it carries no data, and only renderers read it."""
    return LoadedSource.for_rendering(display, raw.decode("utf-8", errors="replace"))


def _check_and_resolve(unit: SpecUnit) -> None:
    from mlspec.check import check_spec
    from mlspec.spec.validate import validate_partial

    source = unit.source
    validated = validate_partial(source)
    unit.diagnostics += validated.diagnostics
    if validated.spec is None:
        return
    unit.diagnostics += check_spec(validated.spec, source, validated.dropped)
    environment_specs = {}
    for name, env in validated.spec.environments.items():
        if not env.overrides:  # the base spec as it is: already validated and checked
            from mlspec.source.overlay import apply_overlay
            from mlspec.spec.validate import schema_keys

            unit.overlays[name] = apply_overlay(source, name, schema_keys)
            environment_specs[name] = validated.spec
            continue
        env_spec = _overlay_environment(unit, name, validated.spec)
        if env_spec is not None:
            environment_specs[name] = env_spec
    if len(unit.overlays) == len(validated.spec.environments):
        from mlspec.source.overlay import shadowed_base_values

        unit.diagnostics += shadowed_base_values(source, unit.overlays)
    if not validated.complete or unit.has_errors or len(environment_specs) != len(validated.spec.environments):
        return
    from mlspec.ir.resolve import resolve_project

    unit.spec = validated.spec
    unit.project = resolve_project(validated.spec, environment_specs, unit.recorded_path)


def _overlay_environment(unit: SpecUnit, env_name: str, base: MLSystemSpec) -> MLSystemSpec | None:
    """Merge one environment's overrides and validate and check the result like a spec of
    its own. Reports only what is new in that environment (the base's own errors are not
    repeated once per environment), each marked with the environment's name."""
    from mlspec.check import check_spec
    from mlspec.source.overlay import apply_overlay
    from mlspec.spec.validate import schema_keys, validate_partial

    source = unit.source
    overlaid = apply_overlay(source, env_name, schema_keys)
    unit.overlays[env_name] = overlaid
    if overlaid.diagnostics:  # the overrides themselves are wrong: nothing to validate
        unit.diagnostics += overlaid.diagnostics
        return None
    merged = LoadedSource(source.path, source.text, source.sha256, overlaid.data, overlaid.positions)
    validated = validate_partial(merged)
    found = list(validated.diagnostics)
    if validated.spec is not None:
        from mlspec.check.environments import check_environment_flavors

        found += check_spec(validated.spec, merged, validated.dropped)
        found += check_environment_flavors(base, env_name, validated.spec, source, overlaid.written_at)
    seen = {(d.code, d.path, d.message) for d in unit.diagnostics}
    label = f" (in environment `{env_name}`)"
    unit.diagnostics += [_relabel(d, label) for d in found if (d.code, d.path, d.message) not in seen]
    if not validated.complete or any(d.severity is Severity.ERROR for d in found):
        return None
    return validated.spec


def _relabel(d: Diagnostic, label: str) -> Diagnostic:
    from dataclasses import replace

    return replace(d, message=d.message + label)
