"""Sample data for `mlspec run --local`, written where the work folder's spec copy reads its
sources (mlspec.local.workspace: one Parquet file per dataset under `sources/`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from mlspec.local.synth import synthesize

ROWS = 2000


def label_time(now: dt.datetime | None = None) -> dt.datetime:
    """When the sample's labels are observed: two hours before the start of this hour (its
    features stand an hour earlier), so the Feast DAG, which materializes each view over its
    TTL up to now, finds them. Naive UTC, as synthesize takes it."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.replace(minute=0, second=0, microsecond=0, tzinfo=None) - dt.timedelta(hours=2)


def write_sources(system, rows: int = ROWS, seed: int = 0, when: dt.datetime | None = None) -> dict[str, Path]:
    """A Parquet file per dataset with a file source, from synthesize; returns dataset -> path."""
    sample = synthesize(system, rows=rows, seed=seed, when=when or label_time())
    written = {}
    for dataset in system.datasets:
        source = dataset.source
        if source is None or source.kind != "file" or dataset.name not in sample.frames:
            continue
        path = Path(source.uri[len("file://"):] if source.uri.startswith("file://") else source.uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        sample.frames[dataset.name].to_parquet(path, index=False)
        written[dataset.name] = path
    return written
