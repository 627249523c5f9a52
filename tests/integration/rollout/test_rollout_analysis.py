"""The canary analysis judges the canary's own revision, proven against a real Prometheus.

A loopback exporter serves Knative queue-proxy metrics for a stable and a canary revision of
each predictor (support/prometheus.py); Debian's Prometheus scrapes it. The queries mlspec
generated (rendered with the args the analysis binds: `revision` = `.+`) run through
Prometheus' HTTP API, and each result is judged:

- Argo Rollouts: the metric's `successCondition`, evaluated by `support/expr_subset.py`, a
  small evaluator of exactly the expr-lang subset mlspec writes (no expr-lang
  implementation with a known provenance installs from PyPI, and there is no Go here);
- Iter8 v2alpha2: the Metric's params interpolated as Iter8 does (a Python
  `string.Template`, `$elapsedTime`), the value Iter8's `jqExpression`
  (`.data.result[0].value[1] | tonumber`) takes, compared with the Experiment's objectives.

For every kind of SLO metric the spec language has (errorRate, latencyP95Ms, minRequests,
and custom `queries`), a bad canary taking a few percent of the traffic fails and a healthy
one passes; and customer-churn's own analysis fails the canary of the issue (4% of the
traffic, 10% errors, a 4 s p95), which the old all-revisions queries passed.
"""

from __future__ import annotations

import math
import re
import string
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SPECS, run_mlspec
from support.lab_spec import lab_spec
from support import expr_subset
from support.prometheus import (PROMETHEUS, Revision, Workload, knative_exporter, prometheus_server, query,
                                vector_values)

GENERATED = REPO / "generated"
GOLDEN = REPO / "tests/cases/golden"

LAB_SPEC = lab_spec(
    models="""\
  argo: &model
    task: binary_classification
    features: [customer_features.total_purchases]
    label: customers.churn
    training: {estimator: sklearn.ensemble.RandomForestClassifier}
    registry: {name: Argo}
    serving: {format: mlflow, storageUri: s3://models/argo/2, modelVersion: "2"}
    rollout: {backend: kserve-analysis, canaryTrafficPercent: 4, slo: defaults}
  custom:
    <<: *model
    registry: {name: Custom}
    rollout: {backend: kserve-analysis, canaryTrafficPercent: 4, slo: custom}
  legacy:
    <<: *model
    registry: {name: Legacy}
    rollout: {backend: iter8, canaryTrafficPercent: 4, slo: defaults}
  standard:
    <<: *model
    registry: {name: Standard}
    serving: {format: mlflow, storageUri: s3://models/standard/2, modelVersion: "2", mode: standard}
    rollout:
      canaryTrafficPercent: 4
      slo: defaults
      stable: {storageUri: s3://models/standard/1, modelVersion: "1"}
  standard-custom:
    <<: *model
    registry: {name: StandardCustom}
    serving: {format: mlflow, storageUri: s3://models/standard-custom/2, modelVersion: "2", mode: standard}
    rollout:
      canaryTrafficPercent: 4
      slo: custom-standard
      stable: {storageUri: s3://models/standard-custom/1, modelVersion: "1"}
""",
    rest="""\
slos:
  defaults: {errorRate: {max: 0.01}, latencyP95Ms: {max: 100}, minRequests: 100, interval: 5s, iterations: 2}
  custom:
    errorRate: {max: 0.01}
    latencyP95Ms: {max: 100}
    minRequests: 100
    interval: 5s
    iterations: 2
    queries:
      errorRate: 'sum by (revision_name) (rate(revision_app_request_count{response_code=~"5..", {{selector}}}[{{window}}])) / sum by (revision_name) (rate(revision_app_request_count{{{selector}}}[{{window}}]))'
      latencyP95Ms: 'histogram_quantile(0.99, sum by (revision_name, le) (rate(revision_app_request_latencies_bucket{{{selector}}}[{{window}}])))'
  custom-standard:
    errorRate: {max: 0.01}
    latencyP95Ms: {max: 100}
    minRequests: 100
    interval: 5s
    iterations: 2
    queries:
      errorRate: 'sum by (destination_workload) (rate(istio_requests_total{response_code=~"5..", {{selector}}}[{{window}}])) / sum by (destination_workload) (rate(istio_requests_total{{{selector}}}[{{window}}]))'
      latencyP95Ms: 'histogram_quantile(0.99, sum by (destination_workload, le) (rate(istio_request_duration_milliseconds_bucket{{{selector}}}[{{window}}])))'
environments:
  healthy: {namespace: healthy}
  errors: {namespace: errors}
  slow: {namespace: slow}
  idle: {namespace: idle}
""")

# (environment/namespace) -> how the canary behaves; the stable revision is healthy everywhere and
# takes the rest of ~1000 requests a second. The canary takes 4% (idle: 0.1%, too few to judge).
SCENARIOS = {
    "healthy": dict(requests_per_second=40, error_share=0.0, latency_ms=20),
    "errors": dict(requests_per_second=40, error_share=0.10, latency_ms=20),
    "slow": dict(requests_per_second=40, error_share=0.0, latency_ms=4000),
    "idle": dict(requests_per_second=1, error_share=0.0, latency_ms=20),
}
# Which metrics fail in each scenario (the rest pass).
EXPECTED_FAILURES = {"healthy": set(), "errors": {"error-rate"}, "slow": {"latency-p95"}, "idle": {"request-count"}}


def _revisions(namespace: str, service: str, canary: dict) -> list[Revision]:
    configuration = f"{service}-predictor"
    return [Revision(namespace, configuration, f"{configuration}-00001", 1000 - canary["requests_per_second"],
                     latency_ms=20),
            Revision(namespace, configuration, f"{configuration}-00002", **canary)]


def _workloads(namespace: str, service: str, canary: dict) -> list[Workload]:
    """KServe Standard mode: the stable predictor's Deployment (version 1) and the canary's (version 2),
    `{isvc}-{name}-predictor` (constants.PredictorServiceName)."""
    return [Workload(namespace, f"{service}-v1-predictor", 1000 - canary["requests_per_second"], latency_ms=20),
            Workload(namespace, f"{service}-v2-predictor", **canary)]


def _documents(folder: Path) -> list[dict]:
    found = []
    for path in sorted(folder.glob("*.yaml")):
        found += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return found


def _render_args(query_text: str, args: list[dict]) -> str:
    """`{{args.NAME}}` replaced by the run's argument values, as Argo Rollouts does."""
    values = {arg["name"]: arg["value"] for arg in args}
    rendered = re.sub(r"\{\{\s*args\.([A-Za-z0-9_-]+)\s*\}\}", lambda m: values[m.group(1)], query_text)
    assert "{{" not in rendered, rendered
    return rendered


def _judge_analysis_run(url: str, run: dict) -> dict[str, bool]:
    """Each metric of the AnalysisRun -> whether its successCondition holds on Prometheus' answer now."""
    outcome = {}
    for metric in run["spec"]["metrics"]:
        promql = _render_args(metric["provider"]["prometheus"]["query"], run["spec"]["args"])
        outcome[metric["name"]] = expr_subset.evaluate(metric["successCondition"], vector_values(query(url, promql)))
    return outcome


def _judge_iter8(url: str, experiment: dict, metrics: list[dict], elapsed_seconds: int) -> dict[str, bool]:
    """Each objective of the Experiment -> whether the candidate meets it with Iter8's value of the metric."""
    by_name = {f"{m['metadata']['namespace']}/{m['metadata']['name']}": m for m in metrics}
    candidate = experiment["spec"]["versionInfo"]["candidates"][0]["name"]
    outcome = {}
    for objective in experiment["spec"]["criteria"]["objectives"]:
        metric = by_name[objective["metric"]]
        assert metric["spec"]["jqExpression"] == ".data.result[0].value[1] | tonumber"
        params = {p["name"]: string.Template(p["value"]).substitute(elapsedTime=elapsed_seconds, name=candidate)
                  for p in metric["spec"]["params"]}
        result = query(url, params["query"])["result"]
        value = float(result[0]["value"][1]) if result else None
        if value is None or math.isnan(value):
            met = False  # no value: the objective is not met
        elif "upperLimit" in objective:
            met = value <= float(objective["upperLimit"])
        else:
            met = value >= float(objective["lowerLimit"])
        outcome[objective["metric"].removeprefix(experiment["spec"]["target"] + "-")] = met
    return outcome


# --- without Prometheus: the conditions are the expr-lang subset, the queries are per revision ----


def _analysis_objects() -> list[tuple[str, dict]]:
    found = []
    for folder in sorted({p.parent for p in [*GENERATED.glob("*/k8s/*/*.yaml"), *GOLDEN.glob("*/expected/k8s/*/*.yaml")]}):
        for document in _documents(folder):
            if document["kind"] in ("AnalysisTemplate", "AnalysisRun", "Metric"):
                found.append((str(folder.relative_to(REPO)), document))
    return found


ANALYSIS_OBJECTS = _analysis_objects()


def test_there_are_analysis_objects_to_check():
    assert {d["kind"] for _, d in ANALYSIS_OBJECTS} == {"AnalysisTemplate", "AnalysisRun", "Metric"}


@pytest.mark.parametrize("folder,document", ANALYSIS_OBJECTS,
                         ids=[f"{f}:{d['kind']}:{d['metadata']['name']}" for f, d in ANALYSIS_OBJECTS])
def test_every_query_keeps_one_sample_per_revision(folder, document):
    if document["kind"] == "Metric":
        queries = [p["value"] for p in document["spec"]["params"] if p["name"] == "query"]
    else:
        queries = [m["provider"]["prometheus"]["query"] for m in document["spec"]["metrics"]]
        for metric in document["spec"]["metrics"]:
            expr_subset.parse(metric["successCondition"])  # the subset the evaluator knows (else Unsupported)
            assert metric["successCondition"].startswith(("all(result", "len(result) > 0 && all(result"))
    assert queries
    # Knative mode: one sample per revision; Standard mode: per Deployment (stable and canary).
    for promql in queries:
        assert "by (revision_name" in promql or "by (destination_workload" in promql, promql
        if "istio_" in promql:
            assert 'reporter="destination"' in promql, promql  # each request counted once


@pytest.mark.parametrize("condition,result,expected", [
    ("all(result, {isNaN(#) || # <= 0.01})", [], True),  # no revision served: judged by the request count
    ("all(result, {isNaN(#) || # <= 0.01})", [0.0, float("nan")], True),
    ("all(result, {isNaN(#) || # <= 0.01})", [0.001, 0.1], False),
    ("len(result) > 0 && all(result, {# >= 100})", [], False),
    ("len(result) > 0 && all(result, {# >= 100})", [5000.0, 99.0], False),
    ("len(result) > 0 && all(result, {# >= 100})", [5000.0, 100.0], True),
    ("len(result) == 0 || isNaN(result[0]) || result[0] <= 0.01", [0.004], True),
    ("!(result[0] > 1) && any(result, {# == 2})", [1.0, 2.0], True),
])
def test_the_expr_subset_evaluator_follows_expr_lang(condition, result, expected):
    assert expr_subset.evaluate(condition, result) is expected


def test_the_expr_subset_evaluator_refuses_what_it_does_not_know():
    with pytest.raises(expr_subset.Unsupported):
        expr_subset.parse("filter(result, # > 1)")
    with pytest.raises(expr_subset.EvalError):
        expr_subset.evaluate("result[0] > 1", [])


# --- with a real Prometheus -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (.ci/run installs Debian's package)")
def test_a_bad_canary_at_a_few_percent_fails_and_a_healthy_one_passes(tmp_path):
    spec = tmp_path / "lab.yaml"
    spec.write_text(LAB_SPEC)
    run_mlspec("compile", str(spec), "--out", str(tmp_path / "out"), cwd=tmp_path, check=True)
    run_mlspec("compile", str(SPECS / "customer-churn.yaml"), "--out", str(tmp_path / "out"), cwd=tmp_path,
               check=True)
    revisions, workloads = [], []
    for namespace, canary in SCENARIOS.items():
        for model in ("argo", "custom", "legacy"):
            revisions += _revisions(namespace, f"lab-{model}", canary)
        for model in ("standard", "standard-custom"):
            workloads += _workloads(namespace, f"lab-{model}", canary)
    # customer-churn in prod: the canary (4% of the traffic, 10% errors, a 4 s p95); in dev a healthy one.
    revisions += _revisions("models", "customer-churn-churn",
                            dict(requests_per_second=40, error_share=0.10, latency_ms=4000))
    revisions += _revisions("models-dev", "customer-churn-churn", SCENARIOS["healthy"])

    with knative_exporter(revisions, workloads) as target, prometheus_server(target, tmp_path / "prometheus") as url:
        _wait_for_data(url, seconds=12)
        for namespace, failing in EXPECTED_FAILURES.items():
            folder = tmp_path / "out/lab/k8s" / namespace
            runs = {d["metadata"]["labels"]["mlspec.dev/model"]: d for d in _documents(folder)
                    if d["kind"] == "AnalysisRun"}
            assert set(runs) == {"argo", "custom", "standard", "standard-custom"}
            for model, run in runs.items():
                outcome = _judge_analysis_run(url, run)
                assert {name for name, ok in outcome.items() if not ok} == failing, (namespace, model, outcome)
            documents = _documents(folder)
            experiment = next(d for d in documents if d["kind"] == "Experiment")
            metrics = [d for d in documents if d["kind"] == "Metric"]
            outcome = _judge_iter8(url, experiment, metrics, elapsed_seconds=10)
            assert {name for name, ok in outcome.items() if not ok} == failing, (namespace, "legacy", outcome)

        prod = next(d for d in _documents(tmp_path / "out/customer-churn/k8s/prod") if d["kind"] == "AnalysisRun")
        assert _judge_analysis_run(url, prod) == {"error-rate": False, "latency-p95": False, "request-count": True}
        dev = next(d for d in _documents(tmp_path / "out/customer-churn/k8s/dev") if d["kind"] == "AnalysisRun")
        assert _judge_analysis_run(url, dev) == {"error-rate": True, "latency-p95": True, "request-count": True}
        # The issue: summed over every revision, prod's canary hid behind the stable revision.
        selector = 'namespace_name="models", configuration_name="customer-churn-churn-predictor"'
        overall = vector_values(query(url, f'sum(rate(revision_app_request_count{{response_code_class="5xx", {selector}}}[10s]))'
                                           f" / sum(rate(revision_app_request_count{{{selector}}}[10s]))"))
        p95 = vector_values(query(url, "histogram_quantile(0.95, sum(rate(revision_app_request_latencies_bucket"
                                       f"{{{selector}}}[10s])) by (le))"))
        assert overall[0] <= 0.01 and p95[0] <= 100, (overall, p95)
        # The same in Standard mode: over both Deployments the errors namespace's canary is diluted.
        selector = 'reporter="destination", destination_workload_namespace="errors"'
        overall = vector_values(query(url, f'sum(rate(istio_requests_total{{response_code=~"5..", {selector},'
                                           f' destination_workload=~"lab-standard-v.-predictor"}}[10s])) / sum(rate('
                                           f'istio_requests_total{{{selector}, destination_workload=~"lab-standard-v.-predictor"}}[10s]))'))
        assert overall[0] <= 0.01, overall


def _wait_for_data(url: str, seconds: float) -> None:
    """Until Prometheus has scraped the exporter for `seconds` (so every window holds samples)."""
    import time

    deadline = time.monotonic() + 60
    first = None
    while time.monotonic() < deadline:
        data = query(url, "count(revision_app_request_count)")
        if data["result"]:
            first = first or time.monotonic()
            if time.monotonic() - first >= seconds:
                return
        time.sleep(0.5)
    raise AssertionError("Prometheus never scraped the exporter")
