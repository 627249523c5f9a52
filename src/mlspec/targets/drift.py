"""Evidently 0.7 drift checks: `monitoring/<model>_drift.py` per model with drift monitoring,
the check the drift DAG runs on the reference (training) data and the recent prediction log.

Current API only: `evidently.Report`, `evidently.presets.DataDriftPreset`, `Report.run(current,
reference)` (current first) and the `DriftedColumnsCount` metric's share; the module imports
Evidently inside the function, so loading it is cheap.
"""

from __future__ import annotations

from mlspec.ir.coltypes import COLUMN_TYPES
from mlspec.ir.model import IRProject
from mlspec.targets.base import Artifact, Target
from mlspec.ir.layout import drift_check_path
from mlspec.targets.templating import pyliteral, render_template


class DriftTarget(Target):
    name = "drift"
    description = "Evidently drift check per drift-monitored model"

    def generate(self, project: IRProject) -> list[Artifact]:
        system = project.base
        artifacts = []
        for model in system.models:
            if model.drift is None:
                continue
            numerical = [f.name for f in model.features if COLUMN_TYPES[f.type].numerical]
            categorical = [f.name for f in model.features if f.type in ("string", "bool")]
            skipped = [f.name for f in model.features if f.name not in numerical + categorical]
            text = render_template("monitoring/drift.py.j2", model=model, system=system,
                                   numerical=pyliteral(numerical, 4), categorical=pyliteral(categorical, 4),
                                   skipped=pyliteral(skipped, 4), threshold=model.drift.max_drift_share)
            artifacts.append(self.artifact(drift_check_path(model), text))
        return artifacts
