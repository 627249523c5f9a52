"""What the Kubernetes targets share: which models are deployed, labels and metadata, and
the PromQL selector of a model's revisions.

(Each environment's folder is `layout.k8s_dir`; the kustomization lists whatever deployable
files the targets write there, so a target names its own files.)
"""

from __future__ import annotations

from mlspec import names
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


def canary_name(model: IRModel) -> str:
    return names.predictor_name(model.serving.model_version, "canary")


def stable_name(model: IRModel) -> str:
    return names.predictor_name(model.rollout.stable_model_version, "stable")


def standard_canary_active(model: IRModel) -> bool:
    """Standard mode with a stable version to keep serving: the new version is a `spec.canary`."""
    rollout = model.rollout
    return (model.serving.mode == "standard" and rollout is not None and rollout.phase == "canary"
            and rollout.stable_storage_uri not in (None, model.serving.storage_uri))


def predictor_deployments(model: IRModel) -> list[str]:
    """Standard mode: the Deployments whose requests a canary analysis judges, stable first."""
    rollout = model.rollout
    if rollout is None:
        return [names.predictor_deployment(model.inference_service, None)]
    found = [canary_name(model)]
    if standard_canary_active(model):
        found.insert(0, stable_name(model))
    return [names.predictor_deployment(model.inference_service, name) for name in found]


# Per revision, the label a query keeps (one sample per revision) and the default queries, per
# KServe deployment mode; `{{selector}}` and `{{window}}` are filled in (render_query).
#
# Knative mode: every predictor revision's queue-proxy exports `revision_app_request_count`
# (labels `namespace_name`, `configuration_name`, `revision_name`, `response_code_class`...) and
# `revision_app_request_latencies` (a histogram in ms) (Knative serving, pkg/metrics).
#
# Standard mode has no queue-proxy: the predictor and each canary are Deployments named
# `{isvc}-predictor` / `{isvc}-{name}-predictor` (KServe constants.PredictorServiceName) behind a
# Gateway API HTTPRoute whose backend weights split the traffic (httproute_reconciler.go,
# applyCanaryWeights). Their per-Deployment request series are the mesh's: Istio's standard
# metrics `istio_requests_total` (a counter) and `istio_request_duration_milliseconds` (a
# histogram in ms), labelled `destination_workload` (the Deployment), `destination_workload_namespace`,
# `response_code` and `reporter` (istio.io docs/reference/config/telemetry/metrics; Iter8's
# `metrics.istio` template queries them the same way). `reporter="destination"`: the predictor
# pods' own sidecars (or ambient waypoint) count each request once. KServe's model server exports
# only latency (`request_predict_seconds`, python/kserve/kserve/metrics.py, labelled `model_name`,
# no status code, no Deployment), so it cannot give an error rate per canary: with another Gateway
# implementation, override the queries (`slos.*.queries`).
REVISION_LABEL = names.REVISION_LABELS
DEFAULT_ERROR_RATE_QUERY = {
    "knative": 'sum by (revision_name) (rate(revision_app_request_count{response_code_class="5xx", {{selector}}}'
               '[{{window}}])) / sum by (revision_name) (rate(revision_app_request_count{{{selector}}}[{{window}}]))',
    "standard": 'sum by (destination_workload) (rate(istio_requests_total{response_code=~"5..", {{selector}}}'
                '[{{window}}])) / sum by (destination_workload) (rate(istio_requests_total{{{selector}}}[{{window}}]))',
}
DEFAULT_LATENCY_QUERY = {
    "knative": "histogram_quantile(0.95, sum by (revision_name, le)"
               " (rate(revision_app_request_latencies_bucket{{{selector}}}[{{window}}])))",
    "standard": "histogram_quantile(0.95, sum by (destination_workload, le)"
                " (rate(istio_request_duration_milliseconds_bucket{{{selector}}}[{{window}}])))",
}
REQUEST_COUNT = {"knative": "revision_app_request_count", "standard": "istio_requests_total"}


def canary_selector(env: IREnvironment, model: IRModel) -> str:
    """PromQL label selector for the predictor's revisions, in the model's deployment mode.

    `{{args.revision}}` is the analysis' `revision` argument (a regex, `.+` by default): the
    queries keep the revision label in their result (`revision_name` in Knative mode, the
    Deployment's `destination_workload` in Standard mode), one sample per revision, and the
    conditions judge each of them, the canary's included (see targets/rollout.py)."""
    if model.serving.mode == "standard":
        deployments = "|".join(predictor_deployments(model))
        return (f'reporter="destination", destination_workload_namespace="{env.namespace}",'
                f' destination_workload=~"{deployments}", destination_workload=~"{{{{args.revision}}}}"')
    return (f'namespace_name="{env.namespace}", configuration_name="{model.inference_service}-predictor",'
            ' revision_name=~"{{args.revision}}"')


def error_rate_query(model: IRModel) -> str:
    return model.slo.error_rate_query or DEFAULT_ERROR_RATE_QUERY[model.serving.mode]


def latency_query(model: IRModel) -> str:
    return model.slo.latency_query or DEFAULT_LATENCY_QUERY[model.serving.mode]


def request_count_query(model: IRModel, selector: str, window: str) -> str:
    """Requests each revision served in `window`: one sample per revision."""
    mode = model.serving.mode
    return f"sum by ({REVISION_LABEL[mode]}) (increase({REQUEST_COUNT[mode]}{{{selector}}}[{window}]))"


def render_query(template: str, selector: str, window: str) -> str:
    return template.replace("{{selector}}", selector).replace("{{window}}", window)
