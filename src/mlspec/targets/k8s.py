"""What the Kubernetes targets share: which models are deployed, labels and metadata, and
the PromQL selector of a model's revisions.

(Each environment's folder is `naming.k8s_dir`; the kustomization lists whatever deployable
files the targets write there, so a target names its own files.)
"""

from __future__ import annotations

from mlspec.ir.model import IREnvironment, IRModel, IRSystem

MANAGED_BY = {"app.kubernetes.io/managed-by": "mlspec"}


def deployed_models(system: IRSystem) -> list[IRModel]:
    """Models with something to serve: a serving section and a model location."""
    return [m for m in system.models if m.serving is not None and m.serving.storage_uri is not None]


def labels(system: IRSystem, env: IREnvironment, model: IRModel | None = None) -> dict[str, str]:
    found = dict(sorted(system.metadata.labels.items()))
    found.update({
        "app.kubernetes.io/part-of": system.name,
        **MANAGED_BY,
        "mlspec.dev/environment": env.name,
    })
    if model is not None:
        found["app.kubernetes.io/name"] = model.inference_service
        found["mlspec.dev/model"] = model.k8s_name
    return dict(sorted(found.items()))


def metadata(name: str, namespace: str, system: IRSystem, env: IREnvironment, model: IRModel | None = None,
             annotations: dict[str, str] | None = None) -> dict:
    meta = {"name": name, "namespace": namespace, "labels": labels(system, env, model)}
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return meta


def canary_selector(env: IREnvironment, model: IRModel) -> str:
    """PromQL label selector for the predictor's revisions in Knative (serverless) mode.

    `{{args.revision}}` is the analysis' `revision` argument (a regex, `.+` by default): the
    queries keep `revision_name` in their result, one sample per revision, and the conditions
    judge each of them, the canary's included (see targets/rollout.py)."""
    return (f'namespace_name="{env.namespace}", configuration_name="{model.inference_service}-predictor",'
            ' revision_name=~"{{args.revision}}"')


def request_count_query(selector: str, window: str) -> str:
    """Requests each revision served in `window`: one sample per revision."""
    return f"sum by (revision_name) (increase(revision_app_request_count{{{selector}}}[{window}]))"


def render_query(template: str, selector: str, window: str) -> str:
    return template.replace("{{selector}}", selector).replace("{{window}}", window)
