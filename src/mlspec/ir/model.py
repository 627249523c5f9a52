"""The IR: what targets see. Frozen, references resolved, defaults applied, names derived.

Spec models mirror the YAML and keep references as strings; here a model's features are
the feature objects, its label is a dataset and a column, its SLO is the SLO. Targets and
templates read only these classes, so a change in the spec language touches the resolver,
not every target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: keep the spec models off the import path of cached runs
    from mlspec.spec import models as spec


@dataclass(frozen=True)
class IRColumn:
    name: str
    type: str
    nullable: bool
    unique: bool
    min: float | None
    max: float | None
    allowed: tuple | None
    description: str | None


@dataclass(frozen=True)
class IRDataset:
    name: str
    py_name: str
    description: str | None
    source: spec.SqlSource | spec.FileSource | None
    storage: str | None
    schedule: str | None
    dvc_remote: str | None
    columns: tuple[IRColumn, ...]
    expectations: tuple[spec.Expectation, ...]
    ingest_dag_id: str

    def column(self, name: str) -> IRColumn | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class IREntity:
    name: str
    join_keys: tuple[str, ...]
    value_type: str  # the column type of the (first) join key, "int64" when unknown
    description: str | None


@dataclass(frozen=True)
class IRFeature:
    view: str
    name: str
    type: str

    @property
    def reference(self) -> str:
        """Feast's `view:feature` form."""
        return f"{self.view}:{self.name}"


@dataclass(frozen=True)
class IRFeatureView:
    name: str
    entities: tuple[IREntity, ...]
    source: IRDataset
    timestamp_field: str
    ttl: str
    ttl_seconds: int
    online: bool
    features: tuple[IRFeature, ...]
    description: str | None


@dataclass(frozen=True)
class IRSlo:
    name: str
    error_rate_max: float | None
    latency_p95_ms_max: float | None
    min_requests: int
    interval: str
    interval_seconds: int
    iterations: int
    error_rate_query: str | None
    latency_query: str | None


@dataclass(frozen=True)
class IRGate:
    metric: str
    operator: str
    threshold: float


@dataclass(frozen=True)
class IRModel:
    name: str
    k8s_name: str
    py_name: str
    task: str
    description: str | None
    features: tuple[IRFeature, ...]
    feature_views: tuple[str, ...]
    feature_sources: tuple[IRDataset, ...]  # datasets the features are read from, in feature order
    label_dataset: IRDataset
    label_column: str
    training: spec.Training
    split: spec.Split
    gates: tuple[IRGate, ...]
    fairness: spec.Fairness | None
    registry_name: str
    registry_alias: str
    serving: spec.Serving | None
    rollout: spec.Rollout | None
    slo: IRSlo | None
    drift: spec.Drift | None
    card: spec.Card | None
    inference_service: str
    train_dag_id: str
    drift_dag_id: str | None
    # What the drift check compares production data with: the features' source dataset when
    # they all come from one, else a snapshot of the training data the pipeline writes.
    drift_reference: str | None = None
    drift_reference_is_snapshot: bool = False


@dataclass(frozen=True)
class IRSystem:
    """One ML system as seen in one environment (or the base, for shared artifacts)."""

    name: str
    py_name: str
    environment: str | None
    spec_path: str
    spec_sha256: str
    metadata: spec.Metadata
    platform: spec.Platform
    datasets: tuple[IRDataset, ...]
    entities: tuple[IREntity, ...]
    feature_views: tuple[IRFeatureView, ...]
    models: tuple[IRModel, ...]
    slos: tuple[IRSlo, ...]
    deploy: spec.Deploy | None

    def dataset(self, name: str) -> IRDataset:
        return next(d for d in self.datasets if d.name == name)


@dataclass(frozen=True)
class IREnvironment:
    name: str
    namespace: str
    cluster: str | None
    cluster_name: str | None
    system: IRSystem  # the system with this environment's overrides applied
    implicit: bool = False  # True when the spec has no environments and this one is made up

    @property
    def destination(self) -> dict[str, Any]:
        """Argo CD's destination: exactly one of `server` or `name`."""
        if self.cluster_name:
            return {"name": self.cluster_name, "namespace": self.namespace}
        return {"server": self.cluster or "https://kubernetes.default.svc", "namespace": self.namespace}


@dataclass(frozen=True)
class IRProject:
    """Everything a compile of one spec file produces from: the shared system and its environments."""

    base: IRSystem
    environments: tuple[IREnvironment, ...]
