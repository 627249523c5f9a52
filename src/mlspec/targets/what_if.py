"""What-If Tool notebook per model: loads the version registered under the model's alias (with
the MLflow flavor it was logged in) and the held-out rows its training run logged, prints the
fairness gate's metric per slice (fairlearn, counted as the gate counts it) and opens the
What-If widget with the label vocabulary and the sensitive columns as slicing features.

The notebook is written from one template in "percent" format (`# %%` code cells,
`# %% [markdown]` text cells) and assembled into nbformat 4.5 JSON here, with stable cell
ids and no outputs, so it is a pure function of the spec. witwidget (2021-era) is only
needed where the notebook runs, not to compile it.
"""

from __future__ import annotations

import json

from mlspec.ir.model import IRModel, IRProject, IRSystem
from mlspec.targets.base import Artifact, Target, header_note
from mlspec.targets.naming import mlflow_flavor_module
from mlspec.targets.templating import render_template

CELL_MARKER = "# %%"


def notebook_path(model: IRModel) -> str:
    return f"analysis/{model.py_name}_what_if.ipynb"


def label_vocabulary(model: IRModel) -> list[str]:
    """Class names in the order of the model's `predict_proba` columns (sorted classes)."""
    if model.task in ("regression", "ranking"):
        return []
    column = model.label_dataset.column(model.label_column)
    if column is not None and column.allowed:
        return [str(v) for v in sorted(column.allowed, key=lambda v: (str(type(v)), v))]
    return ["0", "1"] if model.task == "binary_classification" else []


def split_cells(text: str) -> list[tuple[str, str]]:
    """Percent-format text -> [(cell_type, source)]."""
    cells: list[tuple[str, str]] = []
    for block in text.split(CELL_MARKER)[1:]:
        first, _, body = block.partition("\n")
        kind = "markdown" if first.strip() == "[markdown]" else "code"
        source = body.strip("\n")
        if kind == "markdown":
            source = source.replace("\n\n\n", "\n\n")
        cells.append((kind, source))
    return cells


def notebook(cells: list[tuple[str, str]], note: str) -> dict:
    nb_cells = []
    for index, (kind, source) in enumerate(cells, start=1):
        cell = {"cell_type": kind, "id": f"cell-{index}", "metadata": {}, "source": source.splitlines(keepends=True)}
        if kind == "code":
            cell.update({"execution_count": None, "outputs": []})
        nb_cells.append(cell)
    return {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "mlspec": {"generated": note},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


class WhatIfTarget(Target):
    name = "what_if"
    description = "What-If Tool notebook per model"

    def generate(self, project: IRProject) -> list[Artifact]:
        system = project.base
        artifacts = []
        for model in system.models:
            text = self.notebook_text(system, model)
            artifacts.append(self.artifact(notebook_path(model), text, header="embedded"))
        return artifacts

    def notebook_text(self, system: IRSystem, model: IRModel) -> str:
        note = header_note(system.spec_path)
        vocab = label_vocabulary(model)
        if model.task == "multiclass_classification" and not vocab:
            self.warn(f"model `{model.name}`: the label column has no `in:` values, so the What-If notebook"
                      " shows class indices instead of names", system.spec_path, ("models", model.name, "label"))
        source = render_template(
            "what_if/notebook.py.j2", system=system, model=model, note=note,
            tracking_uri=system.platform.mlflow.tracking_uri if system.platform.mlflow else "",
            features=[f.name for f in model.features],
            sensitive=list(model.fairness.sensitive) if model.fairness else [],
            # the slices are measured by the fairness gate's own metric
            fairness_metric=model.fairness.metric if model.fairness else None,
            max_disparity=model.fairness.max_disparity if model.fairness else None,
            flavor_module=mlflow_flavor_module(model),
            label_vocab=vocab, classification=model.task.endswith("_classification"))
        return json.dumps(notebook(split_cells(source), note), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
