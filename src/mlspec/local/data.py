"""Sample data for `mlspec run --local`, written where the work folder's spec copy reads its
sources: a file per dataset with a file source (mlspec.local.workspace points them at
`sources/`), and the tables each SQL source's query reads, filled so that the query returns the
dataset's sample, in the DuckDB file of the connection the source names (mlspec.local.database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mlspec.local.database import SqlSample, fill_sql_sources, write_tables
from mlspec.errors import SpecError
from mlspec.local.synth import UnsatisfiableRule, synthesize
from mlspec.local.workspace import local_path

ROWS = 2000


@dataclass(frozen=True)
class Sources:
    files: dict[str, Path]  # dataset -> the file its file source reads, in the source's format
    tables: dict[str, SqlSample]  # dataset -> the tables its SQL source's query reads, filled
    databases: dict[str, Path]  # connection -> its DuckDB file
    day: dt.date  # the UTC day the sample's first row stands on: the ingestion runs' logical date
    frames: dict  # dataset -> the sample frame written (the serve stage's traffic of models without a reference)


def label_time(now: dt.datetime | None = None) -> dt.datetime:
    """When the sample's labels are observed: two hours before the start of this hour (its
    features stand an hour earlier), so the Feast DAG, which materializes each view over its
    TTL up to now, finds them. Naive UTC, as synthesize takes it."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.replace(minute=0, second=0, microsecond=0, tzinfo=None) - dt.timedelta(hours=2)


def first_day(frames: dict, default: dt.date) -> dt.date:
    """The day of the earliest timestamp in `frames` (`default` when they have none). An
    ingestion run on that logical date keeps every row of a query like
    `WHERE created_at >= '{{ ds }}'`, also just after midnight, when the rows stand yesterday."""
    import pandas as pd

    earliest = [frame[c].min() for frame in frames.values() for c in frame.columns
                if pd.api.types.is_datetime64_any_dtype(frame[c]) and frame[c].notna().any()]
    return min(earliest).date() if earliest else default


def write_file(frame, path: Path, source) -> None:
    """`frame` as a file of the source's format, written the way its spec says real files are
    (a CSV file's delimiter, header and encoding; JSON Lines or one JSON document), so that the
    generated extract task reads it as it reads production files."""
    if source.format == "csv":
        frame.to_csv(path, sep=source.delimiter, header=source.header, index=False, encoding=source.encoding,
                     date_format="%Y-%m-%dT%H:%M:%S.%f")
    elif source.format == "json":
        frame.to_json(path, orient="records", lines=source.lines, date_format="iso", date_unit="ns")
    else:
        frame.to_parquet(path, index=False)


def write_sources(system, databases: Path, rows: int = ROWS, seed: int = 0, when: dt.datetime | None = None,
                  where: Callable[[str], str] = lambda key: key,
                  locate: Callable[[str, int | None], str] | None = None, own=None) -> Sources:
    """The sample (synthesize) of every dataset with a source: files for file sources, the
    tables each query reads in `databases` for SQL sources. Rules no value meets and query
    conditions no row passes are SpecErrors (`where` turns an anchor key into a spec line,
    `locate` a dataset and a place in its query into `spec.yaml:LINE:COL`), raised before
    any source is written; a query that returns no row from its filled tables, after.
    `own` (mlspec.local.user_data.UserData, checked): the rows of `--data DIR` in place of the
    sample of their datasets, and its SQL dumps as their connections' databases."""
    locate = locate or (lambda name, offset: where(f"datasets.{name}.source"))
    when = when or label_time()
    try:
        sample = synthesize(system, rows=rows, seed=seed, when=when)
    except UnsatisfiableRule as error:
        raise SpecError(f"mlspec run --local cannot make sample data:\n{where(error.key)}: {error.reason}") from None
    frames = {**sample.frames, **(own.frames() if own is not None else {})}
    day = (own.day if own is not None else None) or first_day(frames, when.date())
    dumped = set(own.dumps) if own is not None else set()  # connections whose databases are the user's dumps
    tables = fill_sql_sources(system, {name: frame for name, frame in frames.items()
                                       if getattr(system.dataset(name).source, "connection", None) not in dumped},
                              day, locate)
    files = {}
    for dataset in system.datasets:
        source = dataset.source
        if source is None or source.kind != "file" or dataset.name not in frames:
            continue
        path = local_path(source.uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        from mlspec.local.user_data import copy_as_is

        given = own.datasets.get(dataset.name) if own is not None else None
        if given is None or not copy_as_is(given, path, source):
            write_file(frames[dataset.name], path, source)
        files[dataset.name] = path
    written = write_tables(tables, databases, lambda name: where(f"datasets.{name}.source")) if tables else {}
    if dumped:
        from mlspec.local.user_data import write_dumps

        written.update(write_dumps(own, databases))
    return Sources(files, tables, written, day, frames)
