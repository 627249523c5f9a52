"""Property: the check of `--data` accepts what Great Expectations accepts. The local run's
sample of any valid set of typed columns passes the dataset's GX suite (test_sample_property);
given as the user's data, written to a Parquet file as a user would write it, the same rows
pass mlspec.local.user_data's check."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspec.local.synth import synthesize
from mlspec.local.user_data import _read_file, check_frame
from property.test_sample_property import ROWS, dataset
from support.sample_specs import one_dataset


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=dataset(), seed=st.integers(0, 2**16))
def test_the_sample_of_any_valid_columns_passes_the_check_of_user_data(data, seed):
    columns, expectations = data
    system, spec_dataset, _ = one_dataset(columns, expectations)
    frame = synthesize(system, rows=ROWS, seed=seed).frames["d"]
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.parquet"
        frame.to_parquet(path, index=False)
        read = _read_file(path, spec_dataset, problems)
    assert read is not None, problems
    check_frame(read, spec_dataset, "d.parquet", lambda i: f"d.parquet:{i + 1}", lambda key: "spec.yaml", problems)
    assert problems == [], (columns, expectations)
