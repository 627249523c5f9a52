"""Images that run in the cluster with credentials are pinned by digest."""

from __future__ import annotations

from mlspec.check.context import CheckContext


def check_operator_image(ctx: CheckContext) -> None:
    """E313: the webhook and decision pods hold git push credentials, so the image they run
    is named by its digest (`registry/mlspec:0.1.0@sha256:...`), never by a tag alone, which
    whoever can push to the registry can move. There is no default: the image is the one the
    user built from mlspec's Dockerfile and pushed."""
    operator = ctx.spec.deploy.operator if ctx.spec.deploy else None
    if operator is None:
        return
    if operator.image is None:
        ctx.error("E313", "`deploy.operator` names no image; the pods that hold the git credentials need one pinned"
                          " by digest", ("deploy", "operator"), on_key=True, label="no `image`", help=_HELP)
    elif "@sha256:" not in operator.image:
        ctx.error("E313", f"the image `{operator.image}` is a tag without a digest; the pods that hold the git"
                          " credentials would run whatever the tag points to when they start",
                  ("deploy", "operator", "image"), label="not pinned by digest", help=_HELP)


_HELP = ("build mlspec's Dockerfile, push it and write the digest the push printed, e.g. `image:"
         " ghcr.io/myorg/mlspec:0.1.0@sha256:<digest>` (see the README's `mlspec in the cluster`)")
