"""resolve: checked spec (and each environment's checked, overlaid spec) -> the frozen IR.

References become objects, defaults are applied and names are derived once, here; the
sections that are only copied into their IR types (platform, training, serving...) come
from `convert`. The front end (`mlspec.compiler.session`) has already validated and checked
every spec it hands over, so nothing here reports a diagnostic.
"""

from __future__ import annotations

from mlspec import names
from mlspec.ir import convert
from mlspec.ir.model import (
    IRColumn,
    IRDataset,
    IREntity,
    IREnvironment,
    IRFeature,
    IRFeatureView,
    IRGate,
    IRModel,
    IRProject,
    IRSlo,
    IRSystem,
)
from mlspec.spec.models import GATE_RE, MLSystemSpec, primary_metric, training_triggers
from mlspec.spec.types import duration_seconds

def resolve_project(spec: MLSystemSpec, environment_specs: dict[str, MLSystemSpec], spec_path: str) -> IRProject:
    """The IR of a checked spec: the base system and one system per environment, each built
    from that environment's overlaid spec (`environment_specs`, in the spec's order).
    `spec_path` is the spec's path as recorded in generated files (machine-independent)."""
    base = build_system(spec, spec_path, environment=None)
    environments: list[IREnvironment] = []
    for env_name, env in spec.environments.items():
        system = build_system(environment_specs[env_name], spec_path, environment=env_name)
        environments.append(IREnvironment(env_name, env.namespace, env.cluster, env.clusterName, system))
    if not spec.environments and any(m.serving for m in spec.models.values()):
        # Serving without environments still deploys somewhere: one namespace named after the system.
        environments.append(IREnvironment("default", spec.metadata.name, None, None, base, implicit=True))
    return IRProject(base, tuple(environments))


def build_system(spec: MLSystemSpec, spec_path: str, environment: str | None) -> IRSystem:
    system = spec.metadata.name
    azure_account = spec.platform.azure.account if spec.platform.azure else None
    datasets = tuple(_dataset(system, name, d, azure_account, spec.platform.connections)
                     for name, d in spec.datasets.items())
    by_name = {d.name: d for d in datasets}
    entities = tuple(_entity(spec, name) for name in spec.entities)
    entity_by_name = {e.name: e for e in entities}
    views = tuple(
        IRFeatureView(
            name=name, entities=tuple(entity_by_name[e] for e in view.entities), source=by_name[view.source],
            timestamp_field=view.timestampField, ttl=view.ttl, ttl_seconds=int(duration_seconds(view.ttl)),
            online=view.online,
            features=tuple(IRFeature(name, feature, dtype) for feature, dtype in view.features.items()),
            description=view.description)
        for name, view in spec.featureViews.items())
    view_by_name = {v.name: v for v in views}
    slos = tuple(_slo(name, slo) for name, slo in spec.slos.items())
    slo_by_name = {s.name: s for s in slos}
    models = tuple(_model(system, name, model, by_name, view_by_name, slo_by_name)
                   for name, model in spec.models.items())
    return IRSystem(
        name=system, py_name=names.py_name(system), environment=environment, spec_path=spec_path,
        metadata=convert.metadata(spec.metadata), platform=convert.platform(spec.platform),
        datasets=datasets, entities=entities, feature_views=views, models=models, slos=slos,
        deploy=convert.deploy(spec.deploy))


def _dataset(system: str, name: str, dataset, azure_account: str | None = None, connections=None) -> IRDataset:
    columns = tuple(
        IRColumn(col_name, c.type, c.nullable, c.unique, c.min, c.max,
                 tuple(c.in_) if c.in_ is not None else None, c.description)
        for col_name, c in dataset.columns.items())
    return IRDataset(
        name=name, py_name=names.py_name(name), description=dataset.description,
        source=convert.source(dataset.source, connections),
        storage=dataset.storage, schedule=dataset.schedule,
        dvc_remote=dataset.versioning.dvc.remote if dataset.versioning else None,
        columns=columns, expectations=tuple(convert.expectation(e) for e in dataset.expectations),
        ingest_dag_id=names.dag_id(system, "ingest", name), retries=dataset.retries,
        azure_account=azure_account)


def _entity(spec: MLSystemSpec, name: str) -> IREntity:
    entity = spec.entities[name]
    key = entity.joinKeys[0]
    value_type = "int64"
    # The join key's type is the column's type in a dataset some feature view of this entity reads.
    for view in spec.featureViews.values():
        if name in view.entities:
            column = spec.datasets[view.source].columns.get(key)
            if column is not None:
                value_type = column.type
                break
    return IREntity(name, tuple(entity.joinKeys), value_type, entity.description)


def _slo(name: str, slo) -> IRSlo:
    queries = slo.queries
    return IRSlo(
        name=name, error_rate_max=slo.errorRate.max if slo.errorRate else None,
        latency_p95_ms_max=slo.latencyP95Ms.max if slo.latencyP95Ms else None,
        min_requests=slo.minRequests, interval=slo.interval, interval_seconds=max(1, int(duration_seconds(slo.interval))),
        iterations=slo.iterations,
        # The spec's own queries; without them the analysis uses its deployment mode's (targets/k8s.py).
        error_rate_query=queries.errorRate if queries else None,
        latency_query=queries.latencyP95Ms if queries else None)


def _model(system: str, name: str, model, datasets, views, slos) -> IRModel:
    features: list[IRFeature] = []
    for reference in model.features:
        view_name, _, feature = reference.partition(".")
        view = views[view_name]
        chosen = view.features if feature == "*" else [f for f in view.features if f.name == feature]
        features += [f for f in chosen if f not in features]
    label_dataset, _, label_column = model.label.partition(".")
    gates = []
    for metric, condition in model.evaluation.gates.items():
        match = GATE_RE.match(condition)
        gates.append(IRGate(metric, match.group(1), float(match.group(2))))
    drift = model.monitoring.drift if model.monitoring else None
    sources = tuple({views[f.view].source.name: views[f.view].source for f in features}.values())
    reference, snapshot = None, False
    if drift is not None:
        if len(sources) == 1 and sources[0].storage:
            reference = sources[0].storage
        else:
            reference, snapshot = names.monitoring_uri(system, name, "reference.parquet"), True
    return IRModel(
        name=name, k8s_name=names.k8s_name(name), py_name=names.py_name(name), task=model.task,
        description=model.description, features=tuple(features),
        feature_views=tuple(dict.fromkeys(f.view for f in features)), feature_sources=sources,
        label_dataset=datasets[label_dataset], label_column=label_column,
        training=convert.training(model.training, training_triggers(model)), split=convert.split(model.evaluation.split),
        gates=tuple(gates),
        fairness=convert.fairness(model.evaluation.fairness),
        registry_name=model.registry.name if model.registry else names.py_name(system, name),
        registry_alias=model.registry.alias if model.registry else "champion",
        serving=convert.serving(model.serving), rollout=convert.rollout(model.rollout),
        slo=slos[model.rollout.slo] if model.rollout else None, drift=convert.drift(drift),
        card=convert.card(model.card),
        inference_service=names.inference_service_name(system, name),
        train_dag_id=names.dag_id(system, "train", name),
        drift_dag_id=names.dag_id(system, "drift", name) if drift else None,
        drift_reference=reference, drift_reference_is_snapshot=snapshot, group=model.group,
        label_timestamp=_label_timestamp(model, datasets[label_dataset], views), primary_metric=primary_metric(model))


def _label_timestamp(model, label_dataset, views) -> str | None:
    """The column check/references.py made sure is clear (spec.models.label_timestamp_choice)."""
    from mlspec.spec.models import label_timestamp_choice

    timestamps = [c.name for c in label_dataset.columns if c.type == "timestamp"]
    fields = {views[reference.split(".", 1)[0]].timestamp_field for reference in model.features
              if reference.split(".", 1)[0] in views}
    return (label_timestamp_choice(timestamps, fields, model.labelTimestamp) or [None])[0]
