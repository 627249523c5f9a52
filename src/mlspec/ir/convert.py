"""Spec sections that need no resolving, copied into their IR types.

One function per section, field by field: camelCase becomes snake_case, lists become
tuples, and values stay exactly as the spec's validators left them (quantities as text,
dicts in spec order), so targets write what they wrote when they read the spec models.
What needs more than copying (references, derived names) is `resolve`'s job.
"""

from __future__ import annotations

from mlspec.ir.model import (
    IRArgoCd,
    IRAutomatedSync,
    IRCard,
    IRDeploy,
    IRDeployments,
    IROperator,
    IRDrift,
    IREthicalConsideration,
    IRExpectation,
    IRFairness,
    IRFeastStore,
    IRFileSource,
    IRKubeflow,
    IRLineage,
    IRMetadata,
    IRMlflow,
    IRObjectStore,
    IRGcsStore,
    IRAzureStore,
    IRPlatform,
    IRPrometheus,
    IRReplicas,
    IRResources,
    IRRollout,
    IRSecretRef,
    IRServing,
    IRSource,
    IRSplit,
    IRSqlSource,
    IRTraining,
)
from mlspec.spec import models as spec
from mlspec.spec.types import duration_seconds


def metadata(value: spec.Metadata) -> IRMetadata:
    return IRMetadata(value.name, value.owner, value.description, dict(value.labels))


def platform(value: spec.Platform) -> IRPlatform:
    store, feast, deployments = value.objectStore, value.feast, value.deployments
    return IRPlatform(
        object_store=IRObjectStore(store.endpoint, store.credentialsSecret, store.region) if store else None,
        mlflow=IRMlflow(value.mlflow.trackingUri) if value.mlflow else None,
        lineage=IRLineage(value.lineage.url, value.lineage.namespace) if value.lineage else None,
        prometheus=IRPrometheus(value.prometheus.url) if value.prometheus else None,
        kubeflow=IRKubeflow(value.kubeflow.host) if value.kubeflow else None,
        feast=IRFeastStore(feast.provider, feast.registry, dict(feast.onlineStore), dict(feast.offlineStore)),
        deployments=IRDeployments(deployments.repoURL, deployments.revision, deployments.path)
        if deployments else None,
        gcs=IRGcsStore(value.gcs.credentialsSecret, value.gcs.endpoint) if value.gcs else None,
        azure=IRAzureStore(value.azure.account, value.azure.credentialsSecret, value.azure.endpoint)
        if value.azure else None)


def source(value: spec.SqlSource | spec.FileSource | None, connections=None) -> IRSource | None:
    """`connections`: the spec's `platform.connections`; a SQL source on one of them names every
    table its query reads (spec/sql.source_tables), else the tables its `tables` lists."""
    if value is None:
        return None
    if isinstance(value, spec.SqlSource):
        connection = (connections or {}).get(value.connection)
        if connection is None:
            return IRSqlSource(value.sql, value.connection, tuple(value.tables))
        from mlspec.spec.sql import parse_query, source_dialect, source_tables

        parsed = parse_query(value.sql, source_dialect(value.tables, connection))
        return IRSqlSource(value.sql, value.connection, source_tables(parsed, value.tables, connection).uris)
    csv, json = value.csv or spec.CsvOptions(), value.json_ or spec.JsonOptions()
    return IRFileSource(value.uri, value.format, csv.delimiter, csv.header, csv.encoding, json.lines)


def expectation(value: spec.Expectation) -> IRExpectation:
    return IRExpectation(value.expect, value.column, value.min, value.max,
                         tuple(value.values) if value.values is not None else None, value.regex, value.mostly,
                         value.value)


def resources(value: spec.Resources | None) -> IRResources | None:
    return IRResources(value.cpu, value.memory, value.gpu) if value is not None else None


def training(value: spec.Training, triggers: list[str] | tuple[str, ...] = ("data",)) -> IRTraining:
    plain = {name: v for name, v in value.env.items() if isinstance(v, str)}
    secrets = {name: IRSecretRef(v.secretKeyRef.name, v.secretKeyRef.key)
               for name, v in value.env.items() if not isinstance(v, str)}
    return IRTraining(
        estimator=value.estimator, params=dict(value.params), image=value.image, packages=tuple(value.packages),
        resources=resources(value.resources), retries=value.retries, schedule=value.schedule,
        env=plain, secret_env=secrets, submit_retries=value.submitRetries, triggers=tuple(triggers))


def split(value: spec.Split) -> IRSplit:
    return IRSplit(value.test, value.seed, value.method, value.column)


def fairness(value: spec.Fairness | None) -> IRFairness | None:
    if value is None:
        return None
    return IRFairness(tuple(value.sensitive), value.metric, value.maxDisparity)


def serving(value: spec.Serving | None) -> IRServing | None:
    if value is None:
        return None
    return IRServing(
        format=value.format, runtime=value.runtime, storage_uri=value.storageUri, model_version=value.modelVersion,
        replicas=IRReplicas(value.replicas.min, value.replicas.max), resources=resources(value.resources),
        service_account=value.serviceAccount, model_format=value.modelFormat, mode=value.mode)


def rollout(value: spec.Rollout | None) -> IRRollout | None:
    if value is None:
        return None
    stable = value.stable
    return IRRollout(value.backend, value.canaryTrafficPercent, value.slo, value.phase,
                     stable_storage_uri=stable.storageUri if stable else None,
                     stable_model_version=stable.modelVersion if stable else None)


def drift(value: spec.Drift | None) -> IRDrift | None:
    if value is None:
        return None
    return IRDrift(
        schedule=value.schedule, window=value.window, window_seconds=int(duration_seconds(value.window)),
        max_drift_share=value.maxDriftShare, on_drift=value.onDrift, predictions=value.predictions,
        logger_url=value.loggerUrl, alert_email=tuple(value.alert.email.to) if value.alert else (),
        alert_smtp_connection=value.alert.email.connection if value.alert else None)


def card(value: spec.Card | None) -> IRCard | None:
    if value is None:
        return None
    return IRCard(
        overview=value.overview, use_cases=tuple(value.useCases), users=tuple(value.users),
        limitations=tuple(value.limitations), tradeoffs=tuple(value.tradeoffs),
        ethical_considerations=tuple(IREthicalConsideration(e.name, e.mitigation)
                                     for e in value.ethicalConsiderations),
        references=tuple(value.references), license=value.license)


# The image the operator manifests run when the spec names none: the mlspec that compiled them.
DEFAULT_OPERATOR_IMAGE = "ghcr.io/mlspec/mlspec:{version}"


def deploy(value: spec.Deploy | None) -> IRDeploy | None:
    if value is None:
        return None
    argocd = value.argocd
    ir_argocd = None
    if argocd is not None:
        automated = IRAutomatedSync(argocd.automated.prune, argocd.automated.selfHeal) if argocd.automated else None
        ir_argocd = IRArgoCd(argocd.project, argocd.namespace, automated)
    return IRDeploy(ir_argocd, operator(value.operator), value.promotion)


def operator(value: spec.Operator | None) -> IROperator | None:
    if value is None:
        return None
    from mlspec import __version__

    return IROperator(
        image=value.image or DEFAULT_OPERATOR_IMAGE.format(version=__version__),
        spec_repo_url=value.specRepo.repoURL, spec_revision=value.specRepo.revision,
        git_credentials_secret=value.gitCredentialsSecret, webhook_secret=value.webhook.hmacSecret,
        mlflow_namespace=value.webhook.mlflowNamespace, decide_schedule=value.decide.schedule)
