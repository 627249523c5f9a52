"""What a served model needs from the data side: features materialized online (E409), and a
prediction log its drift check reads (E410)."""

from __future__ import annotations

from mlspec.check.context import CheckContext


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
