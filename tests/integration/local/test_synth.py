"""Sample data for `mlspec run --local`: each dataset's rows pass the Great Expectations suite
compiled from the same spec (run with GX itself), join across datasets, and carry a signal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SPECS
from mlspec.compiler.compile import compile_spec
from mlspec.compiler.session import load_unit
from mlspec.local.synth import drifted, synthesize
from mlspec.runtime.airflow_tasks import validate_frame


@pytest.fixture(scope="module", params=["customer-churn.yaml", "payments-risk.yaml", "minimal.yaml"])
def compiled(request, tmp_path_factory):
    spec = SPECS / request.param
    unit = load_unit(spec)
    result = compile_spec(spec, tmp_path_factory.mktemp("out"))
    return unit.project.base, result.files


def test_every_sample_passes_its_own_suite(compiled):
    system, files = compiled
    sample = synthesize(system, rows=400, seed=3)
    assert sample.frames
    for name, frame in sample.frames.items():
        suite = files.get(f"great_expectations/{name}.json")
        if suite is None:
            continue
        report = validate_frame(json.loads(suite), frame)
        assert report["success"] and report["failed"] == [], f"{name}: {report}"


def test_samples_are_deterministic_and_join(compiled):
    system, _ = compiled
    one, two = synthesize(system, rows=300, seed=5), synthesize(system, rows=300, seed=5)
    for name in one.frames:
        assert one.frames[name].equals(two.frames[name]), name
    for key, pool in one.keys.items():
        holders = [f for f in one.frames.values() if key in f]
        for frame in holders:
            assert set(frame[key]) <= set(pool), key


def test_labels_follow_the_features_and_drift_moves_them(compiled):
    system, _ = compiled
    sample = synthesize(system, rows=600, seed=1)
    for model in system.models:
        labels = sample.frames[model.label_dataset.name][model.label_column]
        assert labels.nunique() > 1, model.name
    for dataset in system.datasets:
        frame = sample.frames.get(dataset.name)
        numeric = [c for c in dataset.columns if c.type.startswith("float")]
        if frame is None or not numeric:
            continue
        moved = drifted(frame, list(dataset.columns), 2.0)
        column = numeric[0]
        if frame[column.name].std() > 0:
            assert moved[column.name].mean() > frame[column.name].mean()
        assert np.isfinite(moved[column.name].astype(float)).all()


@pytest.mark.parametrize("pattern", [r"^[A-Z]{2}$", r"^\d{3}-\d{4}$", r"(foo|bar)+x?", r"^[a-z0-9_]{1,8}@example\.com$"])
def test_strings_made_for_a_regex_expectation_match_it(pattern):
    import re

    from mlspec.local.synth import _matching_text

    rng = np.random.default_rng(0)
    for _ in range(20):
        assert re.search(pattern, _matching_text(pattern, rng))
