"""Targets: one module per tool, each a `Target` subclass registered in `registry`.

This package is also the one module a target plugin imports from: the base classes, the
registry, the header and emit helpers, the template helpers and the IR types a target reads:

    from mlspec.targets import Artifact, IRProject, Target, dump_yaml

Names are imported on first use (PEP 562), so `import mlspec.targets.base`, which every
CLI command does, does not load the YAML emitter or anything else it does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# exported name -> the module that defines it
_EXPORTS = {
    **dict.fromkeys(("Artifact", "Target", "header_lines", "header_note"), "mlspec.targets.base"),
    **dict.fromkeys(("register", "unregister", "available_targets"), "mlspec.targets.registry"),
    **dict.fromkeys(("dump_yaml", "dump_yaml_all", "dump_json"), "mlspec.targets.emit"),
    **dict.fromkeys(("render_template", "pyliteral"), "mlspec.targets.templating"),
    **dict.fromkeys((
        "IRArgoCd", "IRAutomatedSync", "IRCard", "IRColumn", "IRDataset", "IRDeploy", "IRDeployments", "IRDrift",
        "IREntity", "IREnvironment", "IREthicalConsideration", "IRExpectation", "IRFairness", "IRFeastStore",
        "IRFeature", "IRFeatureView", "IRFileSource", "IRGate", "IRKubeflow", "IRLineage", "IRMetadata",
        "IRMlflow", "IRModel", "IRObjectStore", "IROperator", "IRPlatform", "IRProject", "IRPrometheus", "IRReplicas",
        "IRResources", "IRRollout", "IRSecretRef", "IRServing", "IRSlo", "IRSource", "IRSplit", "IRSqlSource",
        "IRSystem", "IRTraining"), "mlspec.ir.model"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        # Not an export: let `from mlspec.targets import kfp` find the submodule.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from mlspec.ir.model import (  # noqa: F401
        IRArgoCd, IRAutomatedSync, IRCard, IRColumn, IRDataset, IRDeploy, IRDeployments, IRDrift, IREntity,
        IREnvironment, IREthicalConsideration, IRExpectation, IRFairness, IRFeastStore, IRFeature, IRFeatureView,
        IRFileSource, IRGate, IRKubeflow, IRLineage, IRMetadata, IRMlflow, IRModel, IRObjectStore, IROperator,
        IRPlatform,
        IRProject, IRPrometheus, IRReplicas, IRResources, IRRollout, IRSecretRef, IRServing, IRSlo, IRSource,
        IRSplit, IRSqlSource, IRSystem, IRTraining)
    from mlspec.targets.base import Artifact, Target, header_lines, header_note  # noqa: F401
    from mlspec.targets.emit import dump_json, dump_yaml, dump_yaml_all  # noqa: F401
    from mlspec.targets.registry import available_targets, register, unregister  # noqa: F401
    from mlspec.targets.templating import pyliteral, render_template  # noqa: F401
