"""What a model's training and its features need from the data side: a label dataset the
features can be joined to (E415), feature names that stay apart (E208), feature sources Feast
can read (E416), and a training schedule the training DAG can combine with the ingestion
assets it waits for (E417), and training triggers that can fire (E419).

These were found only by the kfp, Feast and Airflow targets, so `mlspec compile` refused specs
`mlspec validate` passed; they are checked here, once, for both."""

from __future__ import annotations

from mlspec.check.context import CheckContext

# Airflow presets that are not a timetable, so they cannot be combined with assets
# (AssetOrTimeSchedule takes a timetable).
NOT_COMBINABLE_WITH_ASSETS = ("@once", "@continuous")


def _model_views(spec, model) -> list[str]:
    """The feature views a model reads, in the order its features name them (known ones only)."""
    views = [reference.partition(".")[0] for reference in model.features]
    return [v for v in dict.fromkeys(views) if v in spec.featureViews]


def check_label_dataset(ctx: CheckContext) -> None:
    """The training pipeline reads the label dataset (its `storage`) and joins the features to
    it point-in-time with Feast: by the join keys of every entity of every view the model reads,
    as of the label rows' event time."""
    spec = ctx.spec
    for name, model in spec.models.items():
        dataset_name, dot, column = model.label.partition(".")
        dataset = spec.datasets.get(dataset_name)
        if not dot or dataset is None or (dataset.columns and column not in dataset.columns):
            # An unknown or malformed label (check_model_references reports it): which dataset
            # was meant is not known either.
            _check_feature_names(ctx, name, model)
            continue
        where = ("models", name, "label")
        views = _model_views(spec, model)
        if dataset.columns:
            missing: dict[str, str] = {}
            for view_name in views:
                source = spec.datasets.get(spec.featureViews[view_name].source)
                for entity_name in spec.featureViews[view_name].entities:
                    for key in getattr(spec.entities.get(entity_name), "joinKeys", []):
                        # A key the view's own source lacks is a mistake in the entity (E204 there).
                        known = source is None or not source.columns or key in source.columns
                        if key not in dataset.columns and known:
                            missing.setdefault(key, f"entity `{entity_name}` of feature view `{view_name}`")
            for key, whose in missing.items():
                ctx.error("E415", f"the label dataset `{dataset_name}` has no column `{key}`, the join key of"
                                  f" {whose}: the training pipeline looks the model's features up by it",
                          where, label="the features cannot be joined to these labels",
                          help=f"add `{key}` under `datasets.{dataset_name}.columns`, or label the model from a"
                               " dataset that has it")
        if not any(column.type == "timestamp" for column in dataset.columns.values()):
            ctx.error("E415", f"the label dataset `{dataset_name}` has no timestamp column: Feast's point-in-time"
                              " join takes each feature as of the label row's event time",
                      where, help=f"add the event-time column under `datasets.{dataset_name}.columns`"
                                  " (`event_timestamp: {type: timestamp}`)")
        if dataset.storage is None:
            ctx.error("E415", f"the label dataset `{dataset_name}` has no `storage`, so the training pipeline has"
                              " nothing to read the labels from", where,
                      help=f"set `datasets.{dataset_name}.storage` (where its ingestion writes it)")
        _check_feature_names(ctx, name, model)


def _check_feature_names(ctx: CheckContext, name: str, model) -> None:
    """The pipeline's training frame has one column per feature name: two views may not give
    the model a feature of the same name."""
    spec, seen = ctx.spec, {}
    for index, reference in enumerate(model.features):
        view_name, _, feature = reference.partition(".")
        view = spec.featureViews.get(view_name)
        if view is None:
            continue
        for feature_name in (list(view.features) if feature == "*" else [feature]):
            other = seen.setdefault(feature_name, view_name)
            if other != view_name:
                ctx.error("E208", f"model `{name}` reads a feature `{feature_name}` from both `{other}` and"
                                  f" `{view_name}`: the training frame has one column per feature name",
                          ("models", name, "features", index), help="read it from one view, or rename one of them")
                return


def check_feature_sources(ctx: CheckContext) -> None:
    """Feast reads a feature view's source as Parquet: the dataset's `storage` (written by its
    ingestion), or a Parquet file source."""
    for name, view in ctx.spec.featureViews.items():
        dataset = ctx.spec.datasets.get(view.source)
        if dataset is None or dataset.storage is not None:
            continue
        source = dataset.source
        uri, fmt = getattr(source, "uri", None), getattr(source, "format", None)
        if uri is not None and fmt == "parquet" and uri.endswith(".parquet"):
            continue
        ctx.error("E416", f"feature view `{name}` reads dataset `{view.source}`, which has neither `storage` nor a"
                          " Parquet file `source`: Feast reads its features from a Parquet file",
                  ("featureViews", name, "source"),
                  help=f"set `datasets.{view.source}.storage`, where its ingestion writes a validated Parquet copy")


def check_training_schedules(ctx: CheckContext) -> None:
    """What starts a training DAG (`training.triggers`, or its default) must be there: a schedule
    for `schedule`, ingested data for `data`, drift monitoring that retrains for `drift` (E419);
    and a schedule combined with the ingestion assets must be a timetable Airflow can combine
    with them (E417)."""
    from mlspec.spec.models import training_triggers

    spec = ctx.spec
    for name, model in spec.models.items():
        where = ("models", name, "training")
        written = model.training.triggers
        if written is not None:
            if not written:
                ctx.error("E419", f"model `{name}` lists no training trigger: nothing would start its training DAG",
                          (*where, "triggers"), help="list `schedule`, `data`, `drift` or a combination, or remove"
                                                     " `triggers` for the default")
                continue
            for index, trigger in enumerate(written):
                if trigger in written[:index]:
                    ctx.error("E419", f"training trigger `{trigger}` of model `{name}` is listed twice",
                              (*where, "triggers", index), help="list it once")
        triggers = training_triggers(model)
        schedule = model.training.schedule
        drift = model.monitoring.drift if model.monitoring else None
        read = [model.label.partition(".")[0]]
        read += [spec.featureViews[v].source for v in _model_views(spec, model)]
        landed = [d for d in dict.fromkeys(read)
                  if d in spec.datasets and spec.datasets[d].source is not None and spec.datasets[d].storage]
        if written is not None:
            def at(trigger: str) -> tuple:
                return (*where, "triggers", written.index(trigger))

            if "schedule" in triggers and schedule is None:
                ctx.error("E419", f"model `{name}` retrains on a `schedule` but has no `training.schedule`",
                          at("schedule"), help="set `training.schedule` (a cron expression or a preset such as"
                                               " `@weekly`), or drop `schedule` from the triggers")
            elif schedule is not None and "schedule" not in triggers:
                ctx.error("E419", f"model `{name}` has a `training.schedule` its triggers leave out, so it would"
                                  " never be used", (*where, "schedule"),
                          help="add `schedule` to `training.triggers`, or remove the schedule")
            if "data" in triggers and not landed:
                ctx.error("E419", f"model `{name}` retrains when its `data` lands, but no dataset it reads is"
                                  " ingested into `storage` by this spec, so nothing would land",
                          at("data"), help="give the label dataset a `source` and `storage`, or drop `data`")
            if "drift" in triggers and drift is None:
                ctx.error("E419", f"model `{name}` retrains on `drift` but has no drift monitoring",
                          at("drift"), help="add `monitoring.drift` (with `onDrift: retrain`), or drop `drift`")
            elif "drift" in triggers and drift.onDrift != "retrain":
                ctx.error("E419", f"model `{name}` retrains on `drift`, but its drift monitoring only alerts"
                                  " (`onDrift: alert`)", at("drift"),
                          help="set `monitoring.drift.onDrift: retrain`, or drop `drift` from the triggers")
            elif drift is not None and drift.onDrift == "retrain" and "drift" not in triggers:
                ctx.error("E419", f"model `{name}`'s drift monitoring retrains it (`onDrift: retrain`), but its"
                                  " training triggers leave out `drift`", (*where, "triggers"),
                          help="add `drift` to `training.triggers`, or set `monitoring.drift.onDrift: alert`")
        if schedule in NOT_COMBINABLE_WITH_ASSETS and "schedule" in triggers and "data" in triggers and landed:
            ctx.error("E417", f"training schedule `{schedule}` cannot be combined with the ingestion assets the"
                              f" training DAG of model `{name}` waits for ({', '.join(f'`{d}`' for d in landed)})",
                      (*where, "schedule"),
                      help="use a cron schedule or a preset such as `@weekly`, or drop `data` from"
                           " `training.triggers`")
