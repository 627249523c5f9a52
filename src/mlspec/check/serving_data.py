"""What a served model needs from the data side: features materialized online (E409), and a
prediction log its drift check reads (E410, W410); and features something reads (W211)."""

from __future__ import annotations

from mlspec.check.context import CheckContext
from mlspec.diagnostics import Severity


def check_served_features(ctx: CheckContext) -> None:
    """A served model's features must be in Feast's online store: views marked `online: false`
    are never materialized, so the model would be answered with empty features."""
    spec = ctx.spec
    for name, model in spec.models.items():
        if model.serving is None:
            continue
        reported = set()
        for index, reference in enumerate(model.features):
            view_name = reference.partition(".")[0]
            view = spec.featureViews.get(view_name)
            if view is None or view.online or view_name in reported:
                continue
            reported.add(view_name)
            ctx.error("E409", f"model `{name}` is served but feature view `{view_name}` is offline only"
                              " (`online: false`), so its features are never materialized for serving",
                      ("models", name, "features", index),
                      label="not in Feast's online store",
                      help=f"set `online: true` on `featureViews.{view_name}`, or stop reading it in this model")


def check_prediction_log_sink(ctx: CheckContext) -> None:
    """A logger sending to an HTTP sink leaves the object store empty: the drift DAG must be told
    which dataset the sink fills."""
    for name, model in ctx.spec.models.items():
        drift = model.monitoring.drift if model.monitoring else None
        if drift is None or drift.loggerUrl is None or drift.predictions is not None:
            continue
        ctx.error("E410", f"model `{name}` logs its predictions to {drift.loggerUrl} but names no dataset that"
                          " sink fills, so its drift DAG would read a prediction log nothing writes",
                  ("models", name, "monitoring", "drift", "loggerUrl"),
                  label="the drift DAG cannot read this",
                  help="name the dataset with `monitoring.drift.predictions`, or drop `loggerUrl` to log to the"
                       " object store")


def check_drift_has_predictions(ctx: CheckContext) -> None:
    """Without `predictions`, the drift DAG reads the prediction log the model's InferenceService
    writes in the last environment: a model that is not served, or a spec with no environment
    to serve it in, writes none, and the drift check would never find drift."""
    spec = ctx.spec
    for name, model in spec.models.items():
        drift = model.monitoring.drift if model.monitoring else None
        if drift is None or drift.predictions is not None or drift.loggerUrl is not None:
            continue  # no drift check, or E410 (logger sink) speaks of it
        if model.serving is None:
            why = f"model `{name}` is not served, so no InferenceService logs its predictions"
        elif not spec.environments and not any(path[0] == "environments" for path in ctx.dropped):
            why = (f"the spec has no environment to serve model `{name}` in, so no InferenceService logs its"
                   " predictions")
        else:
            continue
        ctx.error("W410", f"drift monitoring reads a prediction log nothing writes: {why}",
                  ("models", name, "monitoring", "drift"), on_key=True, severity=Severity.WARNING,
                  label="this drift DAG would never find drift",
                  help="serve the model (`serving` and an `environments` entry), or name the dataset that holds its"
                       " predictions with `monitoring.drift.predictions`")


def check_feature_views_read(ctx: CheckContext) -> None:
    """A feature view no model reads is still applied and materialized by Feast, for nothing:
    usually a model names the wrong view, or a view was left behind."""
    spec = ctx.spec
    if not spec.models or any(path[0] == "models" for path in ctx.dropped):
        return  # a feature-store-only spec; or a model left out may read it
    read = {reference.partition(".")[0] for model in spec.models.values() for reference in model.features}
    if read - set(spec.featureViews):
        return  # a misspelled view name (E203): the view it meant looks unread
    for name in spec.featureViews:
        if name not in read:
            ctx.error("W211", f"feature view `{name}` is read by no model", ("featureViews", name), on_key=True,
                      severity=Severity.WARNING, label="Feast materializes it for nothing",
                      help=f"read it in a model (`features: [{name}.*]`), or remove it")
