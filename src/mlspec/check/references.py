"""References between sections resolve: datasets, entities, feature views, features,
label columns, SLOs and the columns expectations name."""

from __future__ import annotations

from mlspec.check.context import CheckContext
from mlspec.diagnostics import did_you_mean

# Great Expectations 1.x expectations mlspec can express (without the `expect_` prefix): whether
# each needs a `column`, the spec fields it takes besides `column`, and those it needs. GX refuses
# a whole suite when one expectation has a keyword its class does not declare, so a field an
# expectation does not take is an error here, not a suite that fails to load at run time.
# tests/integration/gx/test_expectation_arguments.py checks this table against GX's own classes.
_BOUNDS = frozenset({"min", "max"})
_MAP = frozenset({"mostly"})  # per-row ("map") expectations: a share of the rows may fail
EXPECTATION_FIELDS: dict[str, tuple[bool, frozenset[str], frozenset[str]]] = {
    "table_row_count_to_be_between": (False, _BOUNDS, frozenset()),
    "table_row_count_to_equal": (False, frozenset({"value"}), frozenset({"value"})),
    "table_column_count_to_equal": (False, frozenset({"value"}), frozenset({"value"})),
    "table_column_count_to_be_between": (False, _BOUNDS, frozenset()),
    "table_columns_to_match_set": (False, frozenset({"values"}), frozenset({"values"})),
    "column_to_exist": (True, frozenset(), frozenset()),
    "column_values_to_not_be_null": (True, _MAP, frozenset()),
    "column_values_to_be_null": (True, _MAP, frozenset()),
    "column_values_to_be_unique": (True, _MAP, frozenset()),
    "column_values_to_be_between": (True, _BOUNDS | _MAP, frozenset()),
    "column_values_to_be_in_set": (True, frozenset({"values"}) | _MAP, frozenset({"values"})),
    "column_values_to_not_be_in_set": (True, frozenset({"values"}) | _MAP, frozenset({"values"})),
    "column_values_to_match_regex": (True, frozenset({"regex"}) | _MAP, frozenset({"regex"})),
    "column_values_to_not_match_regex": (True, frozenset({"regex"}) | _MAP, frozenset({"regex"})),
    "column_value_lengths_to_be_between": (True, _BOUNDS | _MAP, frozenset()),
    "column_mean_to_be_between": (True, _BOUNDS, frozenset()),
    "column_median_to_be_between": (True, _BOUNDS, frozenset()),
    "column_min_to_be_between": (True, _BOUNDS, frozenset()),
    "column_max_to_be_between": (True, _BOUNDS, frozenset()),
    "column_stdev_to_be_between": (True, _BOUNDS, frozenset()),
    "column_sum_to_be_between": (True, _BOUNDS, frozenset()),
    "column_unique_value_count_to_be_between": (True, _BOUNDS, frozenset()),
    "column_proportion_of_unique_values_to_be_between": (True, _BOUNDS, frozenset()),
    "column_distinct_values_to_be_in_set": (True, frozenset({"values"}), frozenset({"values"})),
}
KNOWN_EXPECTATIONS = {name: column for name, (column, _, _) in EXPECTATION_FIELDS.items()}
# The spec fields of an expectation that carry an argument (`expect` and `column` aside).
ARGUMENT_FIELDS = ("min", "max", "value", "values", "regex", "mostly")


def check_dataset_expectations(ctx: CheckContext) -> None:
    for name, dataset in ctx.spec.datasets.items():
        for index, expectation in enumerate(dataset.expectations):
            path = ("datasets", name, "expectations", index)
            kind = expectation.expect.removeprefix("expect_")
            if kind not in KNOWN_EXPECTATIONS:
                ctx.error("E205", f"unknown expectation `{expectation.expect}`", path + ("expect",),
                          label="not a Great Expectations expectation mlspec knows",
                          help=did_you_mean(kind, KNOWN_EXPECTATIONS))
                continue
            needs_column = KNOWN_EXPECTATIONS[kind]
            if needs_column and not expectation.column:
                ctx.error("E102", f"`{kind}` needs a `column`", path, on_key=True)
            elif not needs_column and expectation.column:
                ctx.error("E110", f"`{kind}` is a table expectation and takes no `column`", path + ("column",))
            _check_expectation_arguments(ctx, kind, expectation, path)
            if expectation.column and dataset.columns and expectation.column not in dataset.columns:
                ctx.unknown("E204", "column", expectation.column, f"datasets.{name}.columns", dataset.columns,
                            path + ("column",))
            column = dataset.columns.get(expectation.column) if expectation.column else None
            _check_expectation_bounds(ctx, expectation, column, path)


def _check_expectation_arguments(ctx: CheckContext, kind: str, expectation, path: tuple) -> None:
    _, takes, needs = EXPECTATION_FIELDS[kind]
    given = {field for field in ARGUMENT_FIELDS if getattr(expectation, field) is not None}
    takes_shown = ", ".join(f"`{field}`" for field in sorted(takes)) or "no argument but `column`"
    for field in sorted(given - takes):
        ctx.error("E110", f"`{kind}` takes no `{field}`", path + (field,),
                  label="Great Expectations refuses the whole suite with this argument",
                  help=f"`{kind}` takes {takes_shown}")
    for field in sorted(needs - given):
        ctx.error("E102", f"`{kind}` needs `{field}`", path, on_key=True, help=f"`{kind}` takes {takes_shown}")


def _check_expectation_bounds(ctx: CheckContext, expectation, column, path: tuple) -> None:
    """Bounds are of the column's type: ISO 8601 dates or times for a timestamp column (as a
    column's own `min`/`max`), numbers for any other."""
    from mlspec.spec.models import timestamp_value

    for bound in ("min", "max"):
        value = getattr(expectation, bound)
        if value is None:
            continue
        if column is not None and column.type == "timestamp":
            if not isinstance(value, str) or timestamp_value(value) is None:
                shown = f"{value:g}" if isinstance(value, float) else value
                ctx.error("E111", f"`{bound}` of an expectation on the timestamp column `{expectation.column}` must be"
                                  f" an ISO 8601 date or time, found `{shown}`", path + (bound,),
                          help="write a date such as `2024-01-31` or a time such as `2024-01-31T12:00:00Z`")
        elif isinstance(value, str):
            what = (f"the {column.type} column `{expectation.column}`" if column is not None
                    else "a table or an untyped column")
            ctx.error("E103", f"expected a number as `{bound}` of an expectation on {what}, found string `{value}`",
                      path + (bound,), help="dates are bounds of timestamp columns only")


def check_feature_views(ctx: CheckContext) -> None:
    spec = ctx.spec
    reported_keys: set[tuple] = set()
    for name, view in spec.featureViews.items():
        path = ("featureViews", name)
        for index, entity in enumerate(view.entities):
            if entity not in spec.entities:
                ctx.unknown("E202", "entity", entity, "entities", spec.entities, path + ("entities", index))
        dataset = spec.datasets.get(view.source)
        if dataset is None:
            ctx.unknown("E201", "dataset", view.source, "datasets", spec.datasets, path + ("source",))
            continue
        columns = dataset.columns
        if not columns:
            continue  # an untyped dataset cannot be checked column by column
        where = f"datasets.{view.source}.columns"
        timestamp = columns.get(view.timestampField)
        if timestamp is None:
            ctx.unknown("E204", "column", view.timestampField, where, columns, path + ("timestampField",))
        elif timestamp.type != "timestamp":
            ctx.error("E206", f"`{view.timestampField}` is a column of type {timestamp.type}, not timestamp",
                      path + ("timestampField",), help="name the dataset's event-time column")
        for entity_name in view.entities:
            for index, key in enumerate(getattr(spec.entities.get(entity_name), "joinKeys", [])):
                if key not in columns and (entity_name, key, view.source) not in reported_keys:
                    # Reported where the key is written (a typo is made there), once per dataset.
                    reported_keys.add((entity_name, key, view.source))
                    close = did_you_mean(key, columns)
                    ctx.error("E204", f"join key `{key}` of entity `{entity_name}` is not a column of"
                                      f" dataset `{view.source}` (the source of feature view `{name}`)",
                              ("entities", entity_name, "joinKeys", index),
                              label=f"not defined under `{where}`",
                              help=close if close.startswith("did you mean") else f"add `{key}` under `{where}`")
        for feature, dtype in view.features.items():
            column = columns.get(feature)
            if column is None:
                ctx.unknown("E204", "column", feature, where, columns, path + ("features", feature))
            elif column.type != dtype:
                ctx.error("E206", f"feature `{feature}` is declared {dtype} but the column is {column.type}",
                          path + ("features", feature), help=f"write `{feature}: {column.type}`")


def check_model_references(ctx: CheckContext) -> None:
    spec = ctx.spec
    for name, model in spec.models.items():
        path = ("models", name)
        for index, reference in enumerate(model.features):
            _check_feature_reference(ctx, reference, path + ("features", index))
        label_dataset = _check_column_reference(ctx, model.label, path + ("label",), "label")
        fairness = model.evaluation.fairness
        if fairness and label_dataset is not None and label_dataset.columns:
            dataset_name = model.label.split(".", 1)[0]
            for index, column in enumerate(fairness.sensitive):
                if column not in label_dataset.columns:
                    ctx.unknown("E204", "sensitive column", column, f"datasets.{dataset_name}.columns",
                                label_dataset.columns, path + ("evaluation", "fairness", "sensitive", index))
        if label_dataset is not None and label_dataset.columns:
            _check_ranking_columns(ctx, model, path, label_dataset)
        if label_dataset is not None and label_dataset.columns:
            _check_label_timestamp(ctx, spec, model, path, label_dataset)
        split = model.evaluation.split
        if split.column and label_dataset is not None and label_dataset.columns:
            where = path + ("evaluation", "split", "column")
            column = label_dataset.columns.get(split.column)
            if column is None:
                ctx.unknown("E204", "split column", split.column, f"datasets.{model.label.split('.', 1)[0]}.columns",
                            label_dataset.columns, where)
            elif column.type != "timestamp":
                ctx.error("E206", f"a time split orders rows by a timestamp column; `{split.column}` is"
                                  f" {column.type}", where, help="name a timestamp column of the label dataset")
        if model.rollout and model.rollout.slo not in spec.slos:
            ctx.unknown("E207", "SLO", model.rollout.slo, "slos", spec.slos, path + ("rollout", "slo"))
        drift = model.monitoring.drift if model.monitoring else None
        if drift and drift.predictions and drift.predictions not in spec.datasets:
            ctx.unknown("E201", "dataset", drift.predictions, "datasets", spec.datasets,
                        path + ("monitoring", "drift", "predictions"))


def _check_label_timestamp(ctx: CheckContext, spec, model, path: tuple, label_dataset) -> None:
    """The column the point-in-time join stands on is the spec's to say when it is not clear:
    never the first of several timestamp columns, taken silently."""
    from mlspec.spec.models import label_timestamp_choice

    dataset_name = model.label.split(".", 1)[0]
    timestamps = [name for name, column in label_dataset.columns.items() if column.type == "timestamp"]
    written = model.labelTimestamp
    if written is not None:
        column = label_dataset.columns.get(written)
        if column is None:
            ctx.unknown("E204", "column", written, f"datasets.{dataset_name}.columns", label_dataset.columns,
                        path + ("labelTimestamp",))
        elif column.type != "timestamp":
            ctx.error("E206", f"the label's timestamp must be a timestamp column; `{written}` is {column.type}",
                      path + ("labelTimestamp",), help="name a timestamp column of the label dataset: "
                      + (", ".join(f"`{c}`" for c in timestamps) or "it has none"))
        return
    views = {reference.split(".", 1)[0] for reference in model.features}
    fields = {spec.featureViews[v].timestampField for v in views if v in spec.featureViews}
    choice = label_timestamp_choice(timestamps, fields, None)
    if len(choice) > 1:
        ctx.error("E212", f"the label dataset `{dataset_name}` has several timestamp columns"
                          f" ({', '.join(f'`{c}`' for c in choice)}): which one is each label observed at?",
                  path + ("label",), label="the point-in-time join needs one",
                  help=f"write `labelTimestamp: {choice[0]}` (or another of them) in the model")


def check_left_out_model_references(ctx: CheckContext) -> None:
    """The references of a model validation left out for an error elsewhere in it (a malformed
    estimator, say), read as written: a misspelled view, label or SLO beside that error is
    reported in the same run."""
    spec = ctx.spec
    for name, raw in ctx.left_out("models"):
        path = ("models", name)
        features = raw.get("features")
        for index, reference in enumerate(features if isinstance(features, list) else []):
            if isinstance(reference, str):
                _check_feature_reference(ctx, reference, path + ("features", index))
        if isinstance(raw.get("label"), str):
            _check_column_reference(ctx, raw["label"], path + ("label",), "label")
        rollout = raw.get("rollout")
        slo = rollout.get("slo") if isinstance(rollout, dict) else None
        if isinstance(slo, str) and slo not in spec.slos:
            ctx.unknown("E207", "SLO", slo, "slos", spec.slos, path + ("rollout", "slo"))


def _check_ranking_columns(ctx: CheckContext, model, path: tuple, label_dataset) -> None:
    """The group column of a ranking model is a column of the label's dataset, and the label a
    whole-number relevance grade (what rankers learn from)."""
    dataset_name, _, label = model.label.partition(".")
    if model.group is not None:
        column = label_dataset.columns.get(model.group)
        if column is None:
            ctx.unknown("E204", "group column", model.group, f"datasets.{dataset_name}.columns",
                        label_dataset.columns, path + ("group",))
        elif model.group == label:
            ctx.error("E206", f"`{model.group}` is the label; the group column is another column, the query or"
                              " session the rows are ranked in", path + ("group",))
        elif not (column.type.startswith("int") or column.type == "string"):
            ctx.error("E206", f"a group column holds query or session ids; `{model.group}` is {column.type}",
                      path + ("group",), help="name an integer or string column of the label's dataset")
    column = label_dataset.columns.get(label)
    if model.task == "ranking" and column is not None and not (column.type.startswith("int") or column.type == "bool"):
        ctx.error("E206", f"a ranking label is a whole-number relevance grade (0 irrelevant, higher more relevant);"
                          f" `{label}` is {column.type}", path + ("label",),
                  help="label the rows with an integer grade such as clicked (1) or not (0)")


def _check_feature_reference(ctx: CheckContext, reference: str, path: tuple) -> None:
    view_name, dot, feature = reference.partition(".")
    if not dot or not feature:
        ctx.error("E203", f"feature reference `{reference}` must be `view.feature` or `view.*`", path)
        return
    view = ctx.spec.featureViews.get(view_name)
    if view is None:
        ctx.unknown("E203", "feature view", view_name, "featureViews", ctx.spec.featureViews, path)
    elif feature != "*" and feature not in view.features:
        ctx.unknown("E204", "feature", feature, f"featureViews.{view_name}.features", view.features, path)


def _check_column_reference(ctx: CheckContext, reference: str, path: tuple, what: str):
    dataset_name, dot, column = reference.partition(".")
    if not dot or not column:
        ctx.error("E204", f"{what} `{reference}` must be `dataset.column`", path)
        return None
    dataset = ctx.spec.datasets.get(dataset_name)
    if dataset is None:
        ctx.unknown("E201", "dataset", dataset_name, "datasets", ctx.spec.datasets, path)
        return None
    if dataset.columns and column not in dataset.columns:
        ctx.unknown("E204", f"{what} column", column, f"datasets.{dataset_name}.columns", dataset.columns, path)
    return dataset
