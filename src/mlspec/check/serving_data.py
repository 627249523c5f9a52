"""What a served model needs from the data side: features materialized online (E409), and a
prediction log its drift check reads (E410, W410); and features something reads (W211)."""

from __future__ import annotations

from mlspec import names
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


def check_monitoring_store(ctx: CheckContext) -> None:
    """What a drift check keeps outside the spec's datasets lives in the monitoring bucket on the
    S3 object store (names.monitoring_uri): the prediction log KServe's logger writes (its
    blob-storage logger writes to S3 only: KServe's "Store Logs in Blob Storage"), and the
    snapshot of the training data the pipeline takes when the model's features come from more
    than one dataset (ir/resolve.py). A spec whose data is on gs:// or abfs:// alone has no
    endpoint or credentials for it: the InferenceService would log nowhere and the training
    pipeline's snapshot write would fail at run time. A spec that names no object store at all
    (local paths; `mlspec run --local`'s copy, whose monitoring bucket is a folder) is left alone."""
    spec = ctx.spec
    platform = spec.platform
    if platform.objectStore is not None or {("platform",), ("platform", "objectStore")} & ctx.dropped:
        return
    if platform.gcs is None and platform.azure is None:
        return
    help_text = ("add `platform: {objectStore: {endpoint: ..., credentialsSecret: ...}}` (an S3-compatible store,"
                 " e.g. MinIO in the cluster or Google Cloud Storage's S3 interoperability endpoint)")
    served = bool(spec.environments) or any(path[0] == "environments" for path in ctx.dropped)
    for name, model in spec.models.items():
        drift = model.monitoring.drift if model.monitoring else None
        if drift is None:
            continue
        where = ("models", name, "monitoring", "drift")
        if model.serving is not None and served and drift.loggerUrl is None:
            ctx.error("E501", f"model `{name}`'s InferenceService logs its predictions for the drift check to"
                              f" s3://{names.MONITORING_BUCKET}/ (KServe's blob-storage logger writes to S3 only),"
                              " which needs `platform.objectStore`", where, on_key=True,
                      label="no S3 store to log predictions to",
                      help=help_text + "; or send the log to an HTTP sink with `loggerUrl` and name the dataset it"
                                       " fills with `predictions`")
            continue
        views = {reference.partition(".")[0] for reference in model.features}
        sources = {spec.featureViews[v].source for v in views if v in spec.featureViews}
        if not sources or any(s not in spec.datasets for s in sources):
            continue  # an unknown view or dataset has its own error
        if len(sources) > 1 or not spec.datasets[next(iter(sources))].storage:
            ctx.error("E501", f"model `{name}` reads features from {len(sources)} datasets, so its training"
                              " pipeline snapshots the training data its drift check compares against to"
                              f" s3://{names.MONITORING_BUCKET}/, which needs `platform.objectStore`",
                      where, on_key=True, label="no S3 store for the drift reference", help=help_text)


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
