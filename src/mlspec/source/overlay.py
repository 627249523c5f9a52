"""Environment overlays: deep-merge an environment's `overrides` over the base spec.

Works on the plain document (before pydantic), so the merged result is validated by the
same models as the base, and remembers where every overridden value came from so that
`mlspec explain` and diagnostics can point at the overlay's line rather than the base's.

It lives in source/ because it works on what source/ owns, the YAML document and its
positions (the IR is built from the validated spec only). Which keys the spec language
allows is the spec models' knowledge, a layer above: the caller passes it in (`keys_at`,
`mlspec.spec.validate.schema_keys`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from mlspec.diagnostics import Diagnostic, Span, did_you_mean
from mlspec.source.loader import LoadedSource
from mlspec.source.positions import PositionTree, value_at

# What may differ between environments: what feeds the files generated per environment
# (InferenceServices, canary analysis, Argo CD Applications, an environment's Feast store).
# Everything else (data, features, training, and the platform services the DAGs and
# pipelines name) is generated once for all environments, so an override of it would be
# silently ignored: it is refused, naming the reason (see SHARED_BECAUSE).
OVERRIDABLE = (
    ("models", "*", "serving"),
    ("models", "*", "rollout"),
    ("slos",),
    ("platform", "prometheus"),
    ("platform", "feast"),
    ("platform", "deployments"),
    ("deploy",),
)
SHARED_BECAUSE = {
    ("platform", "objectStore"): "the DAGs, DVC config and pipelines every environment shares name it",
    ("platform", "gcs"): "the DAGs, DVC config and pipelines every environment shares name it",
    ("platform", "azure"): "the DAGs, DVC config and pipelines every environment shares name it",
    ("platform", "mlflow"): "the training pipelines and DAGs every environment shares name it",
    ("platform", "kubeflow"): "the training DAGs every environment shares submit to it",
    ("platform", "lineage"): "the OpenLineage config every environment shares names it",
}

# Settings an environment may override but that must end up the same in every environment
# (E605): what they decide spans the environments.
# path -> (the value when nothing sets it, why).
SAME_EVERYWHERE = {
    ("deploy", "promotion"): ("direct", "Kargo promotes a version through every environment in the order they"
                                        " are listed"),
}
_MISSING = object()

# The keys the spec language allows in the mapping at a path, each with whether leaving it out
# means an empty mapping of its own; None when the mapping is not one of the spec's models.
KeysAt = Callable[[tuple], "dict[str, bool] | None"]


@dataclass
class Overlaid:
    """The document of one environment: merged data, positions and provenance."""

    environment: str
    data: dict
    positions: PositionTree
    # path -> span of the override that set it (only overridden paths appear)
    overridden: dict[tuple, Span] = field(default_factory=dict)
    # path -> where in the document the override that set it is written
    # (`("environments", "dev", "overrides", "models.churn.serving.replicas.max")`)
    written_at: dict[tuple, tuple] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def origin(self, path: tuple) -> tuple[str, Span | None]:
        """Where the effective value at `path` came from: ("override", span), ("spec", span) or
        ("default", None)."""
        for cut in range(len(path), 0, -1):
            if path[:cut] in self.overridden:
                return "override", self.overridden[path[:cut]]
        span = self.positions.value_span(path)
        return ("spec", span) if span is not None else ("default", None)


def apply_overlay(source: LoadedSource, environment: str, keys_at: KeysAt) -> Overlaid:
    """`environment`'s overrides merged over the base document; `keys_at` says which keys the
    spec language allows where an override walks (`mlspec.spec.validate.schema_keys`)."""
    overrides = (source.data.get("environments") or {}).get(environment, {}).get("overrides") or {}
    if not overrides or not isinstance(overrides, dict):
        # Nothing to merge (or a type error validation reports): the base document as it is.
        return Overlaid(environment, source.data, source.positions)
    data = copy.deepcopy(source.data)
    positions = PositionTree(dict(source.positions.values), dict(source.positions.keys))
    result = Overlaid(environment, data, positions)
    for target, key_path, value in _override_entries(overrides, ("environments", environment, "overrides")):
        if not _overridable(target):
            reason = next((why for prefix, why in SHARED_BECAUSE.items() if target[:len(prefix)] == prefix), None)
            result.diagnostics.append(_diag(
                source, "E603", f"`{'.'.join(target)}` cannot differ per environment"
                + (f": {reason}" if reason else ""), key_path, on_key=True,
                help="environments override models' serving and rollout, slos, platform.prometheus, platform.feast,"
                     " platform.deployments and deploy; the rest is generated once for all environments"))
            continue
        parent = _walk_to_parent(source, data, target, key_path, result, keys_at)
        if parent is None:
            continue
        last = target[-1]
        if isinstance(value, dict) and isinstance(parent.get(last), dict):
            _deep_merge(parent[last], value)
        else:
            parent[last] = copy.deepcopy(value)
        _record(result, source, target, key_path, value)
    for path, (default, reason) in SAME_EVERYWHERE.items():
        _check_same_everywhere(source, environment, path, default, reason, result)
    return result


def _check_same_everywhere(source: LoadedSource, environment: str, path: tuple, default, reason: str,
                           result: Overlaid) -> None:
    """E605 at this environment's override of `path` when some environment ends up with another value."""
    written = [overlay_path for merged, overlay_path in result.written_at.items() if merged == path]
    if not written:
        return
    environments = source.data.get("environments")
    if not isinstance(environments, dict):
        return
    mine = _effective(source.data, environment, path, default)
    others = [name for name in environments
              if isinstance(name, str) and _effective(source.data, name, path, default) != mine]
    if others:
        result.diagnostics.append(_diag(
            source, "E605", f"`{'.'.join(path)}` is `{mine}` in environment `{environment}` but not in"
            f" {', '.join(f'`{o}`' for o in others)}: {reason}",
            written[0], on_key=True,
            help=f"set `{'.'.join(path)}` at the top level, or the same under every environment"))


def _effective(data: dict, environment: str, path: tuple, default):
    """The value at `path` in `environment` after its overrides (as `apply_overlay` merges them)."""
    value = _get(data, path)
    value = default if value is _MISSING else value
    env = (data.get("environments") or {}).get(environment)
    overrides = env.get("overrides") if isinstance(env, dict) else None
    if isinstance(overrides, dict):
        for target, _, override in _override_entries(overrides, ()):
            if path[:len(target)] == target:
                found = _get(override, path[len(target):])
                if found is not _MISSING:
                    value = found
    return value


def _get(data, path: tuple):
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def _override_entries(overrides: dict, key_path: tuple, prefix: tuple = ()):
    """(target path, key path of the override, value) for each override. Keys are dotted
    paths; a mapping that stops above what may be overridden (`models: {churn: {serving:
    ...}}`) is walked into, so nested and dotted overrides mean the same."""
    for key, value in overrides.items():
        target = prefix + tuple(str(key).split("."))
        here = key_path + (key,)
        if isinstance(value, dict) and value and not _overridable(target) and _leads_to_overridable(target):
            yield from _override_entries(value, here, target)
        else:
            yield target, here, value


def _overridable(target: tuple) -> bool:
    return any(len(target) >= len(pattern) and _matches(pattern, target) for pattern in OVERRIDABLE)


def _leads_to_overridable(target: tuple) -> bool:
    return any(len(target) < len(pattern) and _matches(pattern, target) for pattern in OVERRIDABLE)


def _matches(pattern: tuple, target: tuple) -> bool:
    return all(p in ("*", t) for p, t in zip(pattern, target))


def _walk_to_parent(source: LoadedSource, data: dict, target: tuple, key_path: tuple, result: Overlaid,
                    keys_at: KeysAt):
    current: Any = data
    for depth, part in enumerate(target[:-1]):
        known = keys_at(target[:depth]) if isinstance(current, dict) else None
        if isinstance(current, dict) and part not in current and known and known.get(part):
            # A sub-section the base leaves to its defaults (`serving.replicas`): the override
            # sets part of it, the rest keeps its defaults.
            current[part] = {}
        if not isinstance(current, dict) or part not in current:
            result.diagnostics.append(_not_defined(source, target, depth, current, known, key_path))
            return None
        current = current[part]
    if not isinstance(current, dict):
        result.diagnostics.append(_diag(
            source, "E602", f"override `{'.'.join(target)}` goes inside a value that is not a mapping",
            key_path, on_key=True))
        return None
    return current


def _not_defined(source: LoadedSource, target: tuple, depth: int, current: Any, known: dict | None,
                 key_path: tuple) -> Diagnostic:
    """E601 for an override whose path leaves the base spec at `target[depth]`. The help
    suggests what the base spec writes there, but never a key the spec language does not
    know (a misspelled key in the base, reported as E101): the override is usually right."""
    part = target[depth]
    existing = list(current) if isinstance(current, dict) else []
    where = ".".join(target[:depth]) or "the top level"
    label = f"no `{part}` in `{where}`"
    if known is not None:
        typos = [key for key in existing if key not in known]
        existing = [key for key in existing if key in known]
        if part in known:
            close = did_you_mean(part, typos)
            help = (f"`{where}` has no `{part}` to override: set it in the base spec first"
                    + (f" (the base spec writes {close.removeprefix('did you mean ').rstrip('?')}, which is not a key"
                       " of the spec: rename it)" if close.startswith("did you mean") else ""))
            return _diag(source, "E601", f"override targets `{'.'.join(target[:depth + 1])}`, which the spec does"
                         " not define", key_path, on_key=True, label=label, help=help)
        existing += [key for key in known if key not in existing]
    return _diag(source, "E601", f"override targets `{'.'.join(target[:depth + 1])}`, which the spec does not"
                 " define", key_path, on_key=True, label=label, help=did_you_mean(part, existing))


def _deep_merge(base: dict, overlay: dict) -> None:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def _record(result: Overlaid, source: LoadedSource, target: tuple, key_path: tuple, value: Any) -> None:
    """Point the merged document's positions for `target` (and below) at the overlay."""
    prefix_len = len(target)
    for path in [p for p in result.positions.values if p[:prefix_len] == target]:
        if not isinstance(value, dict):
            del result.positions.values[path]
    for overlay_path, span in source.positions.values.items():
        if overlay_path[:len(key_path)] == key_path:
            merged_path = target + overlay_path[len(key_path):]
            result.positions.values[merged_path] = span
            result.overridden[merged_path] = span
            result.written_at[merged_path] = overlay_path
    for overlay_path, span in source.positions.keys.items():
        if overlay_path[:len(key_path)] == key_path and len(overlay_path) > len(key_path):
            result.positions.keys[target + overlay_path[len(key_path):]] = span
    key_span = source.positions.key_span(key_path)
    if key_span is not None:
        result.positions.keys.setdefault(target, key_span)


def _diag(source: LoadedSource, code: str, message: str, path: tuple, on_key: bool = False, **extra) -> Diagnostic:
    _, span = source.positions.nearest(path, prefer_key=on_key)
    return Diagnostic(code, message, source.path, span, path, **extra)


# Values only the files generated per environment read (InferenceServices, canary analysis):
# once every environment overrides one, the base's value feeds nothing. Kept to what is known
# to feed nothing else (a base `serving.format` still decides the training pipeline's model
# flavor, a base `platform.feast` the shared feature_store.yaml); tests/cli/test_warnings.py
# holds each against `mlspec explain`.
PER_ENVIRONMENT_ONLY = (
    ("models", "*", "serving", "replicas"),
    ("models", "*", "serving", "resources"),
    ("models", "*", "rollout", "canaryTrafficPercent"),
    ("slos",),
)


def shadowed_base_values(source: LoadedSource, overlays: dict[str, Overlaid]) -> list[Diagnostic]:
    """W604 for each value written in the base spec that every environment overrides, where
    only per-environment files read it."""
    if not overlays:
        return []
    found = []
    data = source.data
    for path, span in sorted(source.positions.values.items(), key=lambda item: (item[1].line, item[1].col)):
        if not path or path[0] == "environments" or not _per_environment_only(path):
            continue
        if isinstance(value_at(data, path), (dict, list)):
            continue  # its scalars are reported one by one
        if all(path in overlaid.overridden for overlaid in overlays.values()):
            names = ", ".join(f"`{env}`" for env in overlays)
            found.append(Diagnostic("W604", f"`{'.'.join(map(str, path))}` is overridden by every environment"
                                            f" ({names}), so this value feeds no generated file",
                                    source.path, span, path, label="never in effect",
                                    help="remove it from the base spec, or let one environment keep it"))
    return found


def _per_environment_only(path: tuple) -> bool:
    return any(len(path) >= len(pattern) and _matches(pattern, path) for pattern in PER_ENVIRONMENT_ONLY)
