"""The realistic specs of the tests' corpus (tests/cases/spec/), each written as a new user would
from README.md and docs/spec-reference.md, none tuned to the code: beside the examples in specs/,
what the integration test (test_spec_corpus.py) loads into the real tools and the CLI test
(tests/cli/test_spec_corpus_commands.py) runs every command on."""

from __future__ import annotations

from pathlib import Path

CASES = Path(__file__).resolve().parents[1] / "cases" / "spec"

CORPUS = [CASES / f"{name}.yaml" for name in (
    "recommender",             # ranking, three datasets, two entities, LightGBM ranker
    "weekly-demand",           # regression, joined SQL sources on a weekly schedule, gs://, a (store, product) view
    "card-fraud",              # multiclass, a CTE, MySQL, JSON and Parquet files, Standard mode, logger sink
    "delivery-time",           # regression, CSV and JSON file sources, LightGBM server, Iter8 (legacy), three envs
    "credit-risk",             # binary, fairness over two columns, Snowflake, Kargo, mlspec's operator
    "predictive-maintenance",  # binary x2, abfs://, three entities, a multi-entity view, an offline-only view
)]
