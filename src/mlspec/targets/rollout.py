"""Canary analysis gated on the model's SLO, with two backends chosen per model.

- `kserve-analysis` (maintained): KServe's canary split plus an Argo Rollouts
  `AnalysisTemplate` (Prometheus queries for error rate and p95 latency against the SLO,
  and the minimum request count) and an `AnalysisRun` for the version being rolled out.
- `iter8` (legacy): the last released Iter8 API, `iter8.tools/v2alpha2` `Experiment` and
  `Metric` objects. Iter8 has shipped no CRD since v0.8 and no release since 2024, so nothing
  acts on them; every compile says so (W411). Iter8's last release, v1.1.2, is no substitute:
  its `release` chart splits KServe traffic between one InferenceService per version through
  an Istio VirtualService (charts/release/templates/_kserve.canary.routemap.tpl) with weights
  set by hand, and its HTTP/gRPC experiments only measure (charts/iter8/templates/_task-*.tpl;
  the `assess` task that judged them went in iter8-tools/iter8#1565, base/assess.go), so no
  v1.1 result says whether a version passed.

Every query is per revision: it keeps `revision_name` in its result (one sample per Knative
revision of the predictor; in Standard mode `destination_workload`, one sample per Deployment,
the stable predictor's and the canary's: see k8s.py for the series each mode has), and every revision that serves must meet the SLO and have served
`minRequests`, so the canary is judged on its own requests, not diluted by the stable
revision's. (Binding the canary's revision name when the run starts is not possible for an
AnalysisRun committed to git: Argo Rollouts resolves `valueFrom.fieldRef` only for runs a
`Rollout` creates, against that Rollout (utils/analysis/factory.go,
BuildArgumentsForRolloutAnalysisRun); a standalone run's controller resolves `secretKeyRef`
only (analysis/analysis.go, resolveArgs). The run's `revision` argument (a regex, `.+`) can
still narrow the queries to one revision in a run made by hand from the template.)

A consequence worth knowing: the stable revision is judged too, so a stable revision that
breaks the SLO fails its canary's analysis as well.
"""

from __future__ import annotations

from mlspec.ir.model import IREnvironment, IRModel, IRProject, IRSlo
from mlspec.targets import k8s
from mlspec.targets.base import Artifact, Target
from mlspec.targets.emit import dump_yaml, dump_yaml_all
from mlspec.ir.layout import (analysis_run_name, iter8_experiment_name, k8s_dir, kargo_project,
                                   kargo_verification_template, uses_kargo)

ALL_REVISIONS = ".+"


class RolloutTarget(Target):
    name = "rollout"
    description = "SLO-gated canary analysis: Argo Rollouts AnalysisTemplate/AnalysisRun, or Iter8 (legacy)"
    kinds = ("AnalysisTemplate", "AnalysisRun", "Experiment", "Metric")

    def generate(self, project: IRProject) -> list[Artifact]:
        artifacts = []
        kargo = uses_kargo(project)
        for env in project.environments:
            for model in k8s.deployed_models(env.system):
                files = rollout_files(model)
                if not files:
                    continue
                documents = (iter8_documents if model.rollout.backend == "iter8" else analysis_documents)(env, model)
                for file, content in zip(files, documents):
                    artifacts.append(self.artifact(f"{k8s_dir(env)}/{file}", content, deployable=True,
                                                   environment=env.name))
                if kargo and model.rollout.backend == "kserve-analysis":
                    # Kargo verifies the environment's Stage with it, from the Project's namespace.
                    template = analysis_template(env, model)
                    template["metadata"] = {**template["metadata"], "name": kargo_verification_template(env, model),
                                            "namespace": kargo_project(project)}
                    artifacts.append(self.artifact(f"kargo/analysistemplate-{env.name}-{model.k8s_name}.yaml",
                                                   dump_yaml(template)))
        return artifacts


def rollout_files(model: IRModel) -> list[str]:
    """Files written for a deployed model in one environment (none without a canary); the
    analysis run (or experiment) only while the canary is on."""
    if model.rollout is None:
        return []
    if model.rollout.backend == "iter8":
        return [f"iter8-metrics-{model.k8s_name}.yaml"] + (
            [f"iter8-experiment-{model.k8s_name}.yaml"] if model.rollout.phase == "canary" else [])
    files = [f"analysistemplate-{model.k8s_name}.yaml"]
    if analysed(model):
        files.append(f"analysisrun-{model.k8s_name}.yaml")
    return files


def analysed(model: IRModel) -> bool:
    """Whether the canary is analysed now: while it is on, except a Standard-mode dark launch
    (`spec.canary` at 0%: no request reaches it, so there is nothing to judge and the request
    count would always fail it). `rollout decide` then finds no run and changes nothing; raise the
    share to start the analysis, or complete the canary with `mlspec promote --force`."""
    rollout = model.rollout
    if rollout.phase != "canary":
        return False
    return not (k8s.standard_canary_active(model) and rollout.canary_traffic_percent == 0)


# --- Argo Rollouts analysis -----------------------------------------------------------------


def analysis_documents(env: IREnvironment, model: IRModel) -> list[str]:
    documents = [dump_yaml(analysis_template(env, model))]
    if analysed(model):
        documents.append(dump_yaml(analysis_run(env, model)))
    return documents


def _template_name(model: IRModel) -> str:
    return f"{model.inference_service}-slo"


def analysis_metrics(env: IREnvironment, model: IRModel) -> list[dict]:
    slo: IRSlo = model.slo
    address = env.system.platform.prometheus.url
    selector = k8s.canary_selector(env, model)
    window = slo.interval
    whole_run = f"{slo.interval_seconds * slo.iterations}s"
    metrics = []

    def metric(name: str, query: str, condition: str, **extra) -> dict:
        entry = {"name": name, "interval": slo.interval, "count": slo.iterations, "failureLimit": 0,
                 "successCondition": condition, **extra,
                 "provider": {"prometheus": {"address": address, "query": query}}}
        return entry

    # Argo Rollouts hands a vector result to the condition as a list of floats, one per series
    # (metricproviders/prometheus/prometheus.go, processResponse), and evaluates the condition
    # with expr-lang (utils/evaluate/evaluate.go, EvalCondition: `result`, `isNaN` = math.IsNaN).
    # `all(array, predicate)` and `len` are expr-lang builtins; `all` is true for an empty list
    # (expr-lang docs/language-definition.md); Argo Rollouts' docs/analysis/prometheus.md uses
    # `all(result, # < 1000)` to judge every value returned. A revision without requests in a
    # window gives NaN: that is no error, and the request-count metric guards volume.
    if slo.error_rate_max is not None:
        metrics.append(metric(
            "error-rate", k8s.render_query(k8s.error_rate_query(model), selector, window),
            f"all(result, {{isNaN(#) || # <= {_number(slo.error_rate_max)}}})"))
    if slo.latency_p95_ms_max is not None:
        metrics.append(metric(
            "latency-p95", k8s.render_query(k8s.latency_query(model), selector, window),
            f"all(result, {{isNaN(#) || # <= {_number(slo.latency_p95_ms_max)}}})"))
    metrics.append({
        "name": "request-count",
        # Judged once, after the canary has run all its iterations: too little traffic fails the analysis
        # rather than passing a canary that was never exercised. Every revision must have served enough.
        "initialDelay": whole_run,
        "count": 1,
        "failureLimit": 0,
        "successCondition": f"len(result) > 0 && all(result, {{# >= {slo.min_requests}}})",
        "provider": {"prometheus": {"address": address, "query": k8s.request_count_query(model, selector, whole_run)}},
    })
    return metrics


def analysis_template(env: IREnvironment, model: IRModel) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": k8s.metadata(_template_name(model), env.namespace, env.system, env, model,
                                 {"mlspec.dev/slo": model.slo.name}),
        "spec": {
            "args": [{"name": "revision", "value": ALL_REVISIONS}],
            "metrics": analysis_metrics(env, model),
        },
    }


def analysis_run(env: IREnvironment, model: IRModel) -> dict:
    version = model.serving.model_version or "latest"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": k8s.metadata(analysis_run_name(model), env.namespace, env.system, env, model,
                                 {"mlspec.dev/model-version": version, "mlspec.dev/slo": model.slo.name}),
        "spec": {
            "args": [{"name": "revision", "value": ALL_REVISIONS}],
            "metrics": analysis_metrics(env, model),
        },
    }


# --- Iter8 v2alpha2 (legacy) --------------------------------------------------------------


def iter8_documents(env: IREnvironment, model: IRModel) -> list[str]:
    documents = [dump_yaml_all(iter8_metrics(env, model))]
    if model.rollout.phase == "canary":
        documents.append(dump_yaml(iter8_experiment(env, model)))
    return documents


def _iter8_metric_name(model: IRModel, metric: str) -> str:
    return f"{model.inference_service}-{metric}"


def iter8_metrics(env: IREnvironment, model: IRModel) -> list[dict]:
    slo = model.slo
    url = env.system.platform.prometheus.url.rstrip("/") + "/api/v1/query"
    selector = k8s.canary_selector(env, model).replace(' revision_name=~"{{args.revision}}"', "").rstrip(",")
    window = "${elapsedTime}s"  # Iter8 fills in the experiment's elapsed time
    # Iter8 takes one number per metric (`jqExpression`) for each version: the per-revision
    # queries are folded into the worst revision (the highest error rate and latency, the fewest
    # requests), so a candidate passes only when every revision meets the objective, as in the
    # Argo Rollouts analysis. `or on() vector(0)`: no requests at all is 0 requests, and no 5xx
    # series (a queue-proxy exports one only after its first 5xx) is no errors, not "no value".
    entries = [("request-count", "Counter",
                f"min({k8s.request_count_query(model, selector, window)}) or on() vector(0)",
                "Requests served by the revision that served the fewest during the experiment")]
    if slo.error_rate_max is not None:
        entries.append(("error-rate", "Gauge", f"max({k8s.render_query(k8s.error_rate_query(model), selector, window)}) or on() vector(0)",
                        "Share of 5xx responses of the revision with the most"))
    if slo.latency_p95_ms_max is not None:
        entries.append(("latency-p95", "Gauge", f"max({k8s.render_query(k8s.latency_query(model), selector, window)})",
                        "95th percentile latency in milliseconds of the slowest revision"))
    metrics = []
    for metric, kind, query, description in entries:
        spec = {"description": description, "type": kind, "provider": "prometheus",
                "urlTemplate": url, "params": [{"name": "query", "value": query}],
                "jqExpression": ".data.result[0].value[1] | tonumber"}
        if kind == "Gauge":
            spec["sampleSize"] = f"{env.namespace}/{_iter8_metric_name(model, 'request-count')}"
        metrics.append({"apiVersion": "iter8.tools/v2alpha2", "kind": "Metric",
                        "metadata": k8s.metadata(_iter8_metric_name(model, metric), env.namespace, env.system, env,
                                                 model),
                        "spec": spec})
    return metrics


def iter8_experiment(env: IREnvironment, model: IRModel) -> dict:
    slo, ns = model.slo, env.namespace
    objectives = []
    if slo.error_rate_max is not None:
        objectives.append({"metric": f"{ns}/{_iter8_metric_name(model, 'error-rate')}",
                           "upperLimit": _number(slo.error_rate_max)})
    if slo.latency_p95_ms_max is not None:
        objectives.append({"metric": f"{ns}/{_iter8_metric_name(model, 'latency-p95')}",
                           "upperLimit": _number(slo.latency_p95_ms_max)})
    objectives.append({"metric": f"{ns}/{_iter8_metric_name(model, 'request-count')}",
                       "lowerLimit": str(slo.min_requests)})
    version = model.serving.model_version or "latest"
    weight_ref = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                  "name": model.inference_service, "namespace": ns,
                  "fieldPath": ".spec.predictor.canaryTrafficPercent"}
    return {
        "apiVersion": "iter8.tools/v2alpha2",
        "kind": "Experiment",
        "metadata": k8s.metadata(iter8_experiment_name(model), ns, env.system, env, model,
                                 {"mlspec.dev/model-version": version}),
        "spec": {
            "target": f"{ns}/{model.inference_service}",
            "strategy": {
                "testingPattern": "Canary",
                "deploymentPattern": "Progressive",
                "weights": {"maxCandidateWeight": 100,
                            "maxCandidateWeightIncrement": model.rollout.canary_traffic_percent or 100},
            },
            "criteria": {
                "requestCount": f"{ns}/{_iter8_metric_name(model, 'request-count')}",
                "objectives": objectives,
            },
            "duration": {"intervalSeconds": slo.interval_seconds, "iterationsPerLoop": slo.iterations},
            "versionInfo": {
                "baseline": {"name": "stable"},
                "candidates": [{"name": f"v{version}", "weightObjRef": weight_ref}],
            },
        },
    }


def _number(value: float) -> str:
    """Iter8 and Argo Rollouts conditions take numbers as text; `0.01`, not `0.010000`."""
    return f"{value:g}" if value != int(value) else str(int(value))
