"""The IR: what targets see. Frozen, references resolved, defaults applied, names derived.

Spec models mirror the YAML and keep references as strings; here a model's features are
the feature objects, its label is a dataset and a column, its SLO is the SLO. Targets and
templates read only these classes, so a change in the spec language touches the resolver,
not every target. Nothing here imports the spec models: fields are snake_case, values are
copied as the spec's validators left them (quantities as strings, dicts in spec order).
"""

from __future__ import annotations

from typing import Any, ClassVar, Union

from mlspec.ir.record import record

# --- sections copied from the spec ----------------------------------------------------------


@record
class IRMetadata:
    name: str
    owner: str | None
    description: str | None
    labels: dict[str, str]


@record
class IRObjectStore:
    endpoint: str
    credentials_secret: str  # Kubernetes Secret name, and Airflow connection id, of the access keys
    region: str | None


@record
class IRMlflow:
    tracking_uri: str


@record
class IRLineage:
    url: str
    namespace: str


@record
class IRPrometheus:
    url: str


@record
class IRKubeflow:
    host: str


@record
class IRFeastStore:
    provider: str
    registry: str
    online_store: dict[str, Any]  # Feast's own blocks, written as given
    offline_store: dict[str, Any]


@record
class IRDeployments:
    repo_url: str
    revision: str
    path: str


@record
class IRGcsStore:
    credentials_secret: str  # Airflow connection id and Kubernetes Secret name of the service-account key
    endpoint: str | None


@record
class IRAzureStore:
    account: str
    credentials_secret: str  # Airflow connection id and Kubernetes Secret name of the account's credentials
    endpoint: str | None


@record
class IRPlatform:
    object_store: IRObjectStore | None
    mlflow: IRMlflow | None
    lineage: IRLineage | None
    prometheus: IRPrometheus | None
    kubeflow: IRKubeflow | None
    feast: IRFeastStore
    deployments: IRDeployments | None
    gcs: IRGcsStore | None = None
    azure: IRAzureStore | None = None


@record
class IRSqlSource:
    kind: ClassVar[str] = "sql"
    sql: str
    connection: str  # Airflow connection id
    tables: tuple[str, ...] = ()  # what the query reads, as OpenLineage dataset URIs


@record
class IRFileSource:
    kind: ClassVar[str] = "file"
    uri: str
    format: str  # parquet, csv or json
    delimiter: str = ","  # csv: the field separator
    header: bool = True  # csv: whether the first line names the columns
    encoding: str = "utf-8"  # csv: the files' text encoding
    lines: bool = False  # json: JSON Lines (else one document per file)

    @property
    def options(self) -> dict | None:
        """What a reader of the files needs beyond the format (None for Parquet)."""
        if self.format == "csv":
            return {"delimiter": self.delimiter, "header": self.header, "encoding": self.encoding}
        if self.format == "json":
            return {"lines": self.lines}
        return None


IRSource = Union[IRSqlSource, IRFileSource]


@record
class IRExpectation:
    expect: str
    column: str | None
    min: float | str | None  # a string only for a timestamp column: an ISO 8601 date or time
    max: float | str | None
    values: tuple | None
    regex: str | None
    mostly: float | None
    value: int | None = None  # the `*_to_equal` expectations' exact value


@record
class IRResources:
    cpu: str | None  # Kubernetes quantities, as text
    memory: str | None
    gpu: int | None


@record
class IRSecretRef:
    name: str  # Kubernetes Secret
    key: str


@record
class IRTraining:
    estimator: str
    params: dict[str, Any]  # in spec order
    image: str
    packages: tuple[str, ...]
    resources: IRResources | None
    retries: int  # of each Kubeflow step, inside the run
    schedule: str | None
    env: dict[str, str]  # plain values
    secret_env: dict[str, IRSecretRef]  # values taken from Kubernetes Secrets
    submit_retries: int = 0  # of the Airflow task that submits the pipeline
    # What starts the training DAG (spec.models.training_triggers): schedule, data, drift.
    triggers: tuple[str, ...] = ("data",)


@record
class IRSplit:
    test: float
    seed: int
    method: str = "random"  # or "time"
    column: str | None = None  # the label dataset's timestamp column a time split orders by


@record
class IRFairness:
    sensitive: tuple[str, ...]
    metric: str
    max_disparity: float


@record
class IRReplicas:
    min: int
    max: int


@record
class IRServing:
    format: str
    runtime: str | None
    storage_uri: str | None
    model_version: str | None
    replicas: IRReplicas
    resources: IRResources | None
    service_account: str | None
    model_format: str | None = None  # modelFormat.name of a custom runtime
    mode: str = "knative"  # KServe deployment mode: knative or standard


@record
class IRRollout:
    backend: str  # kserve-analysis or iter8
    canary_traffic_percent: int
    slo_name: str  # the SLO itself is IRModel.slo
    phase: str  # canary, promoted or rolledBack
    # Standard mode: the version that stays the stable predictor during the canary (rollout.stable)
    stable_storage_uri: str | None = None
    stable_model_version: str | None = None


@record
class IRDrift:
    schedule: str
    window: str
    window_seconds: int
    max_drift_share: float
    on_drift: str  # retrain or alert
    predictions: str | None  # dataset holding the prediction log, when not the default
    logger_url: str | None = None  # HTTP sink of the InferenceService's logger, instead of the object store
    alert_email: tuple[str, ...] = ()  # onDrift: alert, sent by Airflow's SmtpNotifier
    alert_smtp_connection: str | None = None


@record
class IREthicalConsideration:
    name: str
    mitigation: str


@record
class IRCard:
    overview: str | None
    use_cases: tuple[str, ...]
    users: tuple[str, ...]
    limitations: tuple[str, ...]
    tradeoffs: tuple[str, ...]
    ethical_considerations: tuple[IREthicalConsideration, ...]
    references: tuple[str, ...]
    license: str | None


@record
class IRAutomatedSync:
    prune: bool
    self_heal: bool


@record
class IRArgoCd:
    project: str
    namespace: str
    automated: IRAutomatedSync | None


@record
class IROperator:
    """mlspec in the cluster (targets/operator.py)."""

    image: str
    spec_repo_url: str
    spec_revision: str
    git_credentials_secret: str  # Kubernetes Secret name
    webhook_secret: str  # Kubernetes Secret name (key `secret`)
    mlflow_namespace: str
    decide_schedule: str


@record
class IRDeploy:
    argocd: IRArgoCd | None
    operator: IROperator | None = None
    promotion: str = "direct"  # or "kargo" (targets/kargo.py)


# --- resolved objects ------------------------------------------------------------------------


@record
class IRColumn:
    name: str
    type: str
    nullable: bool
    unique: bool
    min: float | None
    max: float | None
    allowed: tuple | None
    description: str | None


@record
class IRDataset:
    name: str
    py_name: str
    description: str | None
    source: IRSource | None
    storage: str | None
    schedule: str | None
    dvc_remote: str | None
    columns: tuple[IRColumn, ...]
    expectations: tuple[IRExpectation, ...]
    ingest_dag_id: str
    retries: int = 0  # of each ingestion task
    azure_account: str | None = None  # the storage account of its abfs:// locations (`platform.azure`)

    def column(self, name: str) -> IRColumn | None:
        return next((c for c in self.columns if c.name == name), None)


@record
class IREntity:
    name: str
    join_keys: tuple[str, ...]
    value_type: str  # the column type of the (first) join key, "int64" when unknown
    description: str | None


@record
class IRFeature:
    view: str
    name: str
    type: str

    @property
    def reference(self) -> str:
        """Feast's `view:feature` form."""
        return f"{self.view}:{self.name}"


@record
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


@record
class IRSlo:
    name: str
    error_rate_max: float | None
    latency_p95_ms_max: float | None
    min_requests: int
    interval: str
    interval_seconds: int
    iterations: int
    error_rate_query: str | None  # the spec's own query; None: the deployment mode's default
    latency_query: str | None


@record
class IRGate:
    metric: str
    operator: str
    threshold: float


@record
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
    training: IRTraining
    split: IRSplit
    gates: tuple[IRGate, ...]
    fairness: IRFairness | None
    registry_name: str
    registry_alias: str
    serving: IRServing | None
    rollout: IRRollout | None
    slo: IRSlo | None
    drift: IRDrift | None
    card: IRCard | None
    inference_service: str
    train_dag_id: str
    drift_dag_id: str | None
    # What the drift check compares production data with: the features' source dataset when
    # they all come from one, else a snapshot of the training data the pipeline writes.
    drift_reference: str | None = None
    drift_reference_is_snapshot: bool = False
    group: str | None = None  # ranking: the label dataset's column grouping the rows ranked together
    # The label dataset's timestamp column the point-in-time join stands on (None: it has none).
    label_timestamp: str | None = None
    # What a new version must beat the alias holder on (spec.models.primary_metric); lower is better for some.
    primary_metric: str = ""


@record
class IRSystem:
    """One ML system as seen in one environment (or the base, for shared artifacts)."""

    name: str
    py_name: str
    environment: str | None
    spec_path: str
    metadata: IRMetadata
    platform: IRPlatform
    datasets: tuple[IRDataset, ...]
    entities: tuple[IREntity, ...]
    feature_views: tuple[IRFeatureView, ...]
    models: tuple[IRModel, ...]
    slos: tuple[IRSlo, ...]
    deploy: IRDeploy | None

    def dataset(self, name: str) -> IRDataset:
        return next(d for d in self.datasets if d.name == name)


@record
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


@record
class IRProject:
    """Everything a compile of one spec file produces from: the shared system and its environments."""

    base: IRSystem
    environments: tuple[IREnvironment, ...]
