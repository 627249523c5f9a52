"""What a served model needs from the data side: features materialized online (E409)."""

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
