"""Typed readers of the two analysis objects `rollout decide` reads: an Argo Rollouts
AnalysisRun and an Iter8 v2alpha2 Experiment, as `kubectl get -o json` prints them or the
Kubernetes API returns them.

Whoever can create or patch these objects in the namespace writes what is read here, so
every field decide uses is checked for its type (a string, a list of mappings...) before it
is used, and anything else is a `MalformedAnalysis`: a clean refusal naming the field, never
a crash. Only the fields decide reads are taken; the rest of the object is ignored. The
shapes are those of the CRDs (argo-rollouts manifests/crds/analysis-run-crd.yaml, iter8-tools
etc3 config/crd/bases/iter8.tools_experiments.yaml, see vendor/crds).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlspec.errors import UsageError
from mlspec.textsafe import printable

MAX_TEXT = 300  # a controller's message, as far as it is quoted in a decision


class MalformedAnalysis(UsageError):
    """The analysis object does not have the shape its CRD gives it (a field of another type)."""


def quoted(text: str, limit: int = MAX_TEXT) -> str:
    """A string from the cluster as it may be quoted in a message or a commit: one line,
    control characters escaped (a newline cannot forge a line or a trailer), bounded."""
    text = printable(text)
    return text if len(text) <= limit else text[:limit] + "..."


_NAMES = {str: "a string", bool: "true or false", int: "an integer", list: "a list", dict: "a mapping"}


def _kind_of(value) -> str:
    if value is None:
        return "null"
    for kind, name in _NAMES.items():
        if isinstance(value, kind):
            return name
    return type(value).__name__


class _Reader:
    """Field access with a type check; `where` is the object's description for messages."""

    def __init__(self, where: str):
        self.where = where

    def refuse(self, path: str, problem: str) -> MalformedAnalysis:
        return MalformedAnalysis(f"{self.where}: `{path}` {problem}; it is not an object the controller wrote, so"
                                 " nothing was decided")

    def get(self, parent: dict, path: str, key: str, kind: type, required: bool = False):
        value = parent.get(key)
        where = f"{path}.{key}" if path else key
        if value is None:
            if required:
                raise self.refuse(where, "is missing")
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.refuse(where, f"is {_kind_of(value)}, not {_NAMES[kind]}")
        return value

    def mapping(self, parent: dict, path: str, key: str) -> dict:
        return self.get(parent, path, key, dict) or {}

    def items(self, parent: dict, path: str, key: str) -> list[tuple[str, dict]]:
        """(path of the item, item) of a list of mappings; an absent list is empty."""
        values = self.get(parent, path, key, list) or []
        where = f"{path}.{key}" if path else key
        for index, item in enumerate(values):
            if not isinstance(item, dict):
                raise self.refuse(f"{where}[{index}]", f"is {_kind_of(item)}, not a mapping")
        return [(f"{where}[{index}]", item) for index, item in enumerate(values)]


@dataclass(frozen=True)
class Identity:
    api_version: str | None
    kind: str | None
    name: str | None
    namespace: str | None
    annotations: dict[str, str]


def read_identity(obj: dict, where: str) -> Identity:
    reader = _Reader(where)
    metadata = reader.mapping(obj, "", "metadata")
    annotations = reader.mapping(metadata, "metadata", "annotations")
    for key, value in annotations.items():
        if not isinstance(value, str):
            raise reader.refuse(f"metadata.annotations.{printable(key)}", f"is {_kind_of(value)}, not a string")
    return Identity(reader.get(obj, "", "apiVersion", str), reader.get(obj, "", "kind", str),
                    reader.get(metadata, "metadata", "name", str), reader.get(metadata, "metadata", "namespace", str),
                    dict(annotations))


# --- Argo Rollouts AnalysisRun ------------------------------------------------------------


@dataclass(frozen=True)
class MetricResult:
    name: str
    phase: str
    measurement_phases: tuple[str, ...]


@dataclass(frozen=True)
class AnalysisRunDoc:
    metrics: tuple[str, ...]  # spec.metrics[].name, in order
    terminate: bool
    phase: str  # status.phase; "" before the controller wrote one
    message: str
    results: tuple[MetricResult, ...]  # status.metricResults


def read_analysis_run(obj: dict, where: str) -> AnalysisRunDoc:
    reader = _Reader(where)
    spec = reader.mapping(obj, "", "spec")
    metrics = tuple(reader.get(item, path, "name", str, required=True) for path, item in reader.items(spec, "spec",
                                                                                                        "metrics"))
    terminate = bool(reader.get(spec, "spec", "terminate", bool))
    status = reader.mapping(obj, "", "status")
    results = []
    for path, item in reader.items(status, "status", "metricResults"):
        phases = tuple(reader.get(m, mpath, "phase", str, required=True)
                       for mpath, m in reader.items(item, path, "measurements"))
        results.append(MetricResult(reader.get(item, path, "name", str, required=True),
                                    reader.get(item, path, "phase", str, required=True), phases))
    return AnalysisRunDoc(metrics, terminate, reader.get(status, "status", "phase", str) or "",
                          reader.get(status, "status", "message", str) or "", tuple(results))


# --- Iter8 v2alpha2 Experiment ------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    status: str
    reason: str
    message: str


@dataclass(frozen=True)
class ExperimentDoc:
    objectives: tuple[str, ...]  # spec.criteria.objectives[].metric, in order
    baseline: str | None
    candidates: tuple[str, ...]
    stage: str
    conditions: dict[str, Condition]
    recommended: str | None  # status.versionRecommendedForPromotion
    assessments: dict[str, tuple[bool, ...]] | None  # status.analysis.versionAssessments.data


def read_experiment(obj: dict, where: str) -> ExperimentDoc:
    reader = _Reader(where)
    spec = reader.mapping(obj, "", "spec")
    criteria = reader.mapping(spec, "spec", "criteria")
    objectives = tuple(reader.get(item, path, "metric", str, required=True)
                       for path, item in reader.items(criteria, "spec.criteria", "objectives"))
    info = reader.mapping(spec, "spec", "versionInfo")
    baseline = reader.get(reader.mapping(info, "spec.versionInfo", "baseline"), "spec.versionInfo.baseline", "name",
                          str)
    candidates = tuple(reader.get(item, path, "name", str, required=True)
                       for path, item in reader.items(info, "spec.versionInfo", "candidates"))
    status = reader.mapping(obj, "", "status")
    conditions = {}
    for path, item in reader.items(status, "status", "conditions"):
        kind = reader.get(item, path, "type", str, required=True)
        conditions[kind] = Condition(reader.get(item, path, "status", str, required=True),
                                     reader.get(item, path, "reason", str) or "",
                                     reader.get(item, path, "message", str) or "")
    assessments = None
    analysis = reader.mapping(status, "status", "analysis")
    if analysis.get("versionAssessments") is not None:
        data = reader.get(reader.mapping(analysis, "status.analysis", "versionAssessments"),
                          "status.analysis.versionAssessments", "data", dict, required=True)
        assessments = {}
        for version, values in data.items():
            path = f"status.analysis.versionAssessments.data.{printable(version)}"
            if not isinstance(values, list) or not all(isinstance(v, bool) for v in values):
                raise reader.refuse(path, "is not a list of true or false")
            assessments[version] = tuple(values)
    return ExperimentDoc(objectives, baseline, candidates, reader.get(status, "status", "stage", str) or "",
                         conditions, reader.get(status, "status", "versionRecommendedForPromotion", str),
                         assessments)
