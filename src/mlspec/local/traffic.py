"""The requests a local run sends to a served model: rows of the model's features as the
training data has them (undrifted), or moved by a few standard deviations (drifted).

For a drift-monitored model the rows are the drift check's own reference (the training data
the drift DAG compares with, read from the work folder's store), every row of it: traffic
that IS the reference cannot drift by chance, so the undrifted run checks the wiring (served,
logged, read back, compared) and the drifted run checks detection. Other models get rows of the
sample the sources were written from (mlspec.local.data)."""

from __future__ import annotations

import json
from pathlib import Path

from mlspec.local.synth import drifted

SAMPLE_ROWS = 200  # traffic of a model without a drift reference
MAX_ROWS = 10_000  # a reference larger than this is sampled
SEED = 1
DRIFT_SHIFT = 2.0  # standard deviations every numeric feature moves in the drifted traffic


def _feature_columns(system, model) -> dict[str, object]:
    """feature name -> its IRColumn in the view's source dataset."""
    views = {view.name: view for view in system.feature_views}
    out = {}
    for feature in model.features:
        source = views[feature.view].source
        out[feature.name] = next((c for c in source.columns if c.name == feature.name), None)
    return out


def _synthesized(frames: dict, system, model, rows: int):
    import pandas as pd

    views = {view.name: view for view in system.feature_views}
    picked, values = {}, {}  # source dataset -> its rows in the traffic: a random draw
    for feature in model.features:
        frame = frames[views[feature.view].source.name]
        name = views[feature.view].source.name
        if name not in picked:
            picked[name] = frame.sample(n=min(rows, len(frame)), random_state=SEED).index
        values[feature.name] = frame.loc[picked[name], feature.name].reset_index(drop=True)
    return pd.DataFrame(values)


def read_reference(location: Path):
    """The reference as the drift DAG reads it: one Parquet file, or a folder of partitions."""
    import pandas as pd

    return pd.read_parquet(location)


def feature_rows(system, model, reference: Path | None = None, shift: float = 0.0, sample: dict | None = None
                 ) -> tuple[list[str], list[list]]:
    """(feature names in the model's order, rows of plain JSON values): from the drift
    `reference`, else from `sample` (dataset -> the frame the run's sources were written from)."""
    columns = [feature.name for feature in model.features]
    if reference is not None:
        table = read_reference(reference)[columns]
        if len(table) > MAX_ROWS:
            table = table.sample(n=MAX_ROWS, random_state=SEED)
    else:
        table = _synthesized(sample or {}, system, model, SAMPLE_ROWS)
    table = table.dropna().reset_index(drop=True)
    if shift:
        known = [c for c in _feature_columns(system, model).values() if c is not None]
        table = drifted(table, known, shift)
    # to_json keeps each column's type (integers stay integers: the model's signature says so)
    return columns, json.loads(table[columns].to_json(orient="values"))
