"""The one registry of targets: the built-ins plus the `mlspec.targets` entry-point group.

A third-party package adds a target with, in its pyproject.toml:

    [project.entry-points."mlspec.targets"]
    my-target = "my_package.module:MyTarget"
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from mlspec.targets.base import Target

ENTRY_POINT_GROUP = "mlspec.targets"

# name -> "module:Class"; imported only when the target runs, so the CLI starts fast.
BUILTIN_TARGETS: dict[str, str] = {
    "kserve": "mlspec.targets.kserve:KServeTarget",
    "rollout": "mlspec.targets.rollout:RolloutTarget",
    "argocd": "mlspec.targets.argocd:ArgoCdTarget",
    "kargo": "mlspec.targets.kargo:KargoTarget",
    "mlspec_operator": "mlspec.targets.operator:OperatorTarget",
    "airflow": "mlspec.targets.airflow:AirflowTarget",
    "great_expectations": "mlspec.targets.great_expectations:GreatExpectationsTarget",
    "dvc": "mlspec.targets.dvc:DvcTarget",
    "drift": "mlspec.targets.drift:DriftTarget",
    "lineage": "mlspec.targets.lineage:LineageTarget",
    "feast": "mlspec.targets.feast:FeastTarget",
    "kfp": "mlspec.targets.kfp:KfpTarget",
    "model_card": "mlspec.targets.model_card:ModelCardTarget",
    "what_if": "mlspec.targets.what_if:WhatIfTarget",
}

_registered: dict[str, type[Target]] = {}


def register(target: type[Target]) -> type[Target]:
    """Register a target class (usable as a decorator); tests and plugins use this."""
    if not target.name:
        raise ValueError(f"{target.__name__} has no name")
    _registered[target.name] = target
    available_targets.cache_clear()
    return target


def unregister(name: str) -> None:
    _registered.pop(name, None)
    available_targets.cache_clear()


@lru_cache(maxsize=1)
def available_targets() -> dict[str, str | type[Target]]:
    """Every known target, by name, in a stable order: built-ins, entry points, registered."""
    found: dict[str, str | type[Target]] = dict(BUILTIN_TARGETS)
    if _may_have_plugins():
        from importlib.metadata import entry_points

        for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            found.setdefault(entry.name, entry.value)
    for name, cls in _registered.items():
        found[name] = cls
    return found


def _may_have_plugins() -> bool:
    """False only when no installed distribution declares an `mlspec.targets` entry point.

    importlib.metadata parses every distribution's metadata to answer (~20 ms in an
    environment of 300 packages, on every compile); looking for the group's name in each
    entry_points.txt is a tenth of that. Anything this scan cannot see (a zip on sys.path)
    sends us to importlib.metadata."""
    import os
    import sys

    marker = f"[{ENTRY_POINT_GROUP}]".encode()
    for folder in sys.path:
        try:
            entries = os.scandir(folder or ".")
        except NotADirectoryError:
            return True  # a zip file: only importlib.metadata can look inside
        except OSError:
            continue  # a path entry that does not exist
        with entries:
            for entry in entries:
                if not entry.name.endswith((".dist-info", ".egg-info")):
                    continue
                try:
                    with open(os.path.join(entry.path, "entry_points.txt"), "rb") as handle:
                        if marker in handle.read():
                            return True
                except OSError:
                    continue
    return False


def load_target(name: str) -> type[Target]:
    spec = available_targets()[name]
    if isinstance(spec, type):
        return spec
    module, _, attribute = spec.partition(":")
    cls = getattr(importlib.import_module(module), attribute)
    if not (isinstance(cls, type) and issubclass(cls, Target)):
        raise TypeError(f"target `{name}` ({spec}) is not a subclass of mlspec.targets.base.Target")
    return cls


def targets_by_kind() -> dict[str, str]:
    """Kubernetes kind -> the name of the target that writes it (from each target's `kinds`;
    when two declare a kind, the first in `available_targets()` order)."""
    found: dict[str, str] = {}
    for name in available_targets():
        for kind in load_target(name).kinds:
            found.setdefault(kind, name)
    return found
