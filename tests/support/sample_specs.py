"""A spec of one dataset with the columns and expectations a test names, its IR, and the Great
Expectations suite the compiler writes for it: what tests of the local run's sample data need."""

from __future__ import annotations

from pathlib import Path

import yaml


def one_dataset(columns: dict, expectations: list | None = None):
    """(system, dataset, suite) of a spec holding one dataset `d` with `columns` and `expectations`."""
    from mlspec.compiler.session import load_text
    from mlspec.targets.great_expectations import GreatExpectationsTarget

    spec = {"apiVersion": "mlspec/v1alpha1", "kind": "MLSystem", "metadata": {"name": "sample"},
            "datasets": {"d": {"columns": columns, "expectations": expectations or []}}}
    unit = load_text(Path("sample.yaml"), yaml.safe_dump(spec, sort_keys=False))
    errors = [d.message for d in unit.diagnostics if d.severity.name.lower() == "error"]
    assert not errors, errors
    system = unit.project.base
    dataset = system.datasets[0]
    return system, dataset, GreatExpectationsTarget().suite(system, dataset)
