"""Great Expectations 1.x expectation suites, one JSON file per dataset with typed columns
or extra expectations.

Derived from the typed columns in column order (exists, type, not-null, unique, between,
in-set), then the spec's extra expectations in the order written. GX 1.x format: `name`,
`expectations` of `{type, kwargs, meta}` (not `expectation_suite_name`/`expectation_type`);
the generated-file header is carried in the suite's `meta`. Each expectation's `meta.mlspec`
names the spec key it comes from, so a failure report leads back to the spec.
"""

from __future__ import annotations

from mlspec.ir.coltypes import pandas_dtypes, timestamp_text
from mlspec.ir.model import IRColumn, IRDataset, IRProject, IRSystem
from mlspec.targets.base import Artifact, Target, header_note
from mlspec.targets.emit import dump_json
from mlspec.ir.layout import suite_path

# Spec field -> GX kwarg of the extra expectations.
KWARGS = (("column", "column"), ("min", "min_value"), ("max", "max_value"), ("value", "value"),
          ("values", "value_set"), ("regex", "regex"), ("mostly", "mostly"))
# Where GX names an argument otherwise for one expectation.
KWARG_OF = {("table_columns_to_match_set", "values"): "column_set"}


class GreatExpectationsTarget(Target):
    name = "great_expectations"
    description = "Great Expectations 1.x expectation suite per dataset"

    def generate(self, project: IRProject) -> list[Artifact]:
        system = project.base
        artifacts = []
        for dataset in system.datasets:
            if not dataset.columns and not dataset.expectations:
                continue
            artifacts.append(self.artifact(suite_path(dataset),
                                           dump_json(self.suite(system, dataset)), header="embedded"))
        return artifacts

    def suite(self, system: IRSystem, dataset: IRDataset) -> dict:
        expectations = []
        for column in dataset.columns:
            expectations += self.column_expectations(system, dataset, column)
        for index, extra in enumerate(dataset.expectations):
            kind = extra.expect.removeprefix("expect_")
            kwargs = {}
            for field, kwarg in KWARGS:
                value = getattr(extra, field)
                if value is not None:
                    kwargs[KWARG_OF.get((kind, field), kwarg)] = _bound(value) if field in ("min", "max") else _plain(value)
            expectations.append(_expectation(kind, kwargs,
                                             f"datasets.{dataset.name}.expectations[{index}]"))
        meta = {"mlspec": {"note": header_note(system.spec_path),
                           "system": system.name, "dataset": dataset.name}}
        if dataset.description:
            meta["mlspec"]["description"] = dataset.description
        return {"name": suite_name(system, dataset), "expectations": expectations, "meta": meta}

    def column_expectations(self, system: IRSystem, dataset: IRDataset, column: IRColumn) -> list[dict]:
        where = f"datasets.{dataset.name}.columns.{column.name}"
        found = self._column_rules(system, dataset, column, where)
        if column.description:  # shown beside each of the column's results in GX's data docs
            for expectation in found:
                expectation["meta"]["description"] = column.description
        return found

    def _column_rules(self, system: IRSystem, dataset: IRDataset, column: IRColumn, where: str) -> list[dict]:
        found = [
            _expectation("column_to_exist", {"column": column.name}, where),
            _expectation("column_values_to_be_in_type_list",
                         {"column": column.name, "type_list": pandas_dtypes(column.type, column.nullable)},
                         where + ".type"),
        ]
        if not column.nullable:
            found.append(_expectation("column_values_to_not_be_null", {"column": column.name}, where + ".nullable"))
        if column.unique:
            found.append(_expectation("column_values_to_be_unique", {"column": column.name}, where + ".unique"))
        if column.min is not None or column.max is not None:
            bounds = {"column": column.name}
            if column.min is not None:
                bounds["min_value"] = _bound(column.min)
            if column.max is not None:
                bounds["max_value"] = _bound(column.max)
            found.append(_expectation("column_values_to_be_between", bounds, where + ".min/max"))
        if column.allowed is not None:
            found.append(_expectation("column_values_to_be_in_set",
                                      {"column": column.name, "value_set": list(column.allowed)}, where + ".in"))
        return found


def suite_name(system: IRSystem, dataset: IRDataset) -> str:
    return f"{system.name}.{dataset.name}"


def _expectation(kind: str, kwargs: dict, where: str) -> dict:
    return {"type": f"expect_{kind}", "kwargs": kwargs, "meta": {"mlspec": where}}


def _plain(value):
    """The IR keeps value sets as tuples; the suite writes them as lists."""
    return list(value) if isinstance(value, tuple) else value


def _bound(value: float | str) -> int | float | str:
    """A bound as the validated frame compares it: a number as the spec reads; a date or time
    (of a timestamp column) as naive UTC text (see coltypes.timestamp_text)."""
    return timestamp_text(value) if isinstance(value, str) else _number(value)


def _number(value: float) -> int | float:
    """18.0 -> 18, so the suite reads like the spec."""
    return int(value) if float(value).is_integer() else value
