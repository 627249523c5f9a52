"""The requests a local run sends to a served model: rows of the model's features as the
training data has them (undrifted), or moved by a few standard deviations (drifted).

The rows come from the same synthesis that wrote the sources (mlspec.local.data), so the
undrifted traffic is drawn from the very distribution the model was trained on, and the
drifted traffic differs from it in every numeric feature."""

from __future__ import annotations

import json

from mlspec.local.data import ROWS, label_time
from mlspec.local.synth import drifted, synthesize

TRAFFIC_ROWS = 200
SEED = 1
DRIFT_SHIFT = 2.0  # standard deviations every numeric feature moves in the drifted traffic


def feature_rows(system, model, shift: float = 0.0, rows: int = TRAFFIC_ROWS) -> tuple[list[str], list[list]]:
    """(feature names in the model's order, rows of plain JSON values)."""
    import pandas as pd

    sample = synthesize(system, rows=ROWS, seed=0, when=label_time())
    columns = [feature.name for feature in model.features]
    values = {}
    views = {view.name: view for view in system.feature_views}
    picked = {}  # source dataset -> its rows in the traffic: a random draw, not the first rows
    for feature in model.features:
        source = views[feature.view].source
        frame = sample.frames[source.name]
        if source.name not in picked:
            picked[source.name] = frame.sample(n=min(rows, len(frame)), random_state=SEED).index
        frame = frame.loc[picked[source.name]]
        if shift:
            frame = drifted(frame, [c for c in source.columns if c.name == feature.name], shift)
        values[feature.name] = frame[feature.name].reset_index(drop=True)
    table = pd.DataFrame(values)[columns].dropna()
    # to_json keeps each column's type (integers stay integers: the model's signature says so)
    return columns, json.loads(table.to_json(orient="values"))
