"""Helpers for the data-side tests (Airflow, Great Expectations, DVC, Evidently): compile a
spec with the data targets into a folder, and read its IR."""

from __future__ import annotations

from pathlib import Path

DATA_TARGETS = ["airflow", "great_expectations", "dvc", "drift", "lineage"]


def compile_data_targets(spec: Path, out_root: Path) -> Path:
    """Compile `spec` with the data-side targets into out_root/<system>/; returns that folder."""
    from mlspec.compiler.compile import compile_spec

    result = compile_spec(spec, out_root, targets=DATA_TARGETS)
    if not result.ok:
        raise AssertionError([d.message for d in result.diagnostics])
    folder = out_root / result.system
    for path, text in result.files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return folder


def project_of(spec: Path):
    from mlspec.compiler.session import load_unit

    unit = load_unit(spec)
    assert unit.ok, [d.message for d in unit.diagnostics]
    return unit.project
