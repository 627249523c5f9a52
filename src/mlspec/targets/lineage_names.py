"""OpenLineage names of everything the generated system reads and writes, decided once.

Two producers describe the same lineage and Marquez joins them only where they name a dataset
alike: Airflow's OpenLineage provider, at run time, from the inlets and outlets each DAG task
declares; and `mlspec lineage emit`, before anything has run, from the spec. Both take their
names from here, and the static jobs are the DAG tasks themselves (`{dag_id}.{task_id}`, the
job names Airflow's provider uses), so static and runtime events describe one graph.

Data stores are named as OpenLineage's naming conventions say
(https://openlineage.io/docs/spec/naming):

- objects: `s3://bucket` + key, `gs://bucket` + key; an `abfs://container/key` of the spec's
  Azure storage account as ABFSS (Azure Data Lake Gen2), `abfss://container@account.dfs.core.windows.net`
  + key (the naming table's row for ADLS Gen2; its WASBS row names the same namespace with
  `wasbs://`, but abfs:// is what the spec writes and the tasks use);
- local files: `file` + absolute path (`file://host` + path when the URI names a host), as
  Airflow's own file assets are named;
- SQL tables: every table the query reads, named from the connection the spec describes under
  `platform.connections` (`postgres://host:port` + `database.schema.table`, per the database's
  type: spec/sql.py), else as the source's `tables` write them (see ir.convert.source). The host,
  port and database are the Airflow connection's, which only exist at run time, so the spec
  states them; at run time the provider names the tables the query reads from the connection
  itself (a separate per-query event), and the two agree when the spec says what the
  connection reaches.

What no data store convention covers (Feast feature views, registered MLflow models, KServe
deployments) is named in the system's lineage namespace, the namespace of its jobs.

The staging copy an ingestion DAG extracts to is a file on the worker, one per run; it is not
a dataset anyone else reads, so tasks that read it name the source it was extracted from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlspec.ir.model import (
    IRDataset,
    IREnvironment,
    IRFileSource,
    IRModel,
    IRProject,
    IRSqlSource,
    IRSystem,
)
from mlspec.targets import airflow_common as common
from mlspec.ir import layout

# URI schemes Airflow's OpenLineage provider names as `scheme://bucket` + key (its
# `File` conversion), which is also OpenLineage's convention for them.
OBJECT_SCHEMES = ("s3", "gs")


@dataclass(frozen=True, order=True)
class OLDataset:
    namespace: str
    name: str


@dataclass(frozen=True)
class OLJob:
    name: str  # `{dag_id}.{task_id}` for a DAG task
    inputs: tuple[OLDataset, ...]
    outputs: tuple[OLDataset, ...]
    dag_id: str | None = None
    task_id: str | None = None


# --- datasets -------------------------------------------------------------------------------


def of_uri(uri: str, azure_account: str | None = None) -> OLDataset:
    """A file or object URI (or an absolute path) as an OpenLineage dataset; an abfs:// one
    needs the storage account its container is in."""
    match = re.match(r"^([a-z][a-z0-9+.-]*)://([^/]*)(/.*)?$", uri)
    if match is None:  # an absolute path
        return OLDataset("file", uri)
    scheme, authority, path = match.group(1), match.group(2), match.group(3) or "/"
    if scheme == "abfs":
        return OLDataset(f"abfss://{authority}@{azure_account}.dfs.core.windows.net", path.lstrip("/") or "/")
    if scheme == "file":
        return OLDataset(f"file://{authority}" if authority else "file", path)
    return OLDataset(f"{scheme}://{authority}", path.lstrip("/") or "/")


def of_table(uri: str) -> OLDataset:
    """`postgres://host:port/database.schema.table` -> (`postgres://host:port`, `database.schema.table`)."""
    namespace, _, name = uri.partition("://")
    authority, _, name = name.partition("/")
    return OLDataset(f"{namespace}://{authority}", name)


def job_namespace(system: IRSystem) -> str:
    """The namespace of the system's jobs (Airflow's AIRFLOW__OPENLINEAGE__NAMESPACE)."""
    return system.platform.lineage.namespace if system.platform.lineage else system.name


def source_datasets(dataset: IRDataset) -> tuple[OLDataset, ...]:
    """What the dataset is extracted from: the tables its query reads, or its files."""
    source = dataset.source
    if isinstance(source, IRSqlSource):
        return tuple(of_table(t) for t in source.tables)
    if isinstance(source, IRFileSource):
        return (of_uri(source.uri, dataset.azure_account),)
    return ()


def storage_dataset(dataset: IRDataset) -> OLDataset | None:
    return of_uri(dataset.storage, dataset.azure_account) if dataset.storage else None


def dvc_dataset(dataset: IRDataset) -> OLDataset | None:
    """The copy `dvc push` puts on the remote (under the path dvc.yaml tracks)."""
    if not dataset.dvc_remote:
        return None
    return of_uri(f"{dataset.dvc_remote.rstrip('/')}/{common.dvc_data_path(dataset)}", dataset.azure_account)


def feature_view_dataset(system: IRSystem, view: str) -> OLDataset:
    return OLDataset(job_namespace(system), f"feast.{view}")


def model_dataset(system: IRSystem, model: IRModel) -> OLDataset:
    """The registered model (MLflow) the training pipeline writes a version of."""
    return OLDataset(job_namespace(system), f"mlflow.{model.registry_name}")


def deployment_dataset(system: IRSystem, environment: str, model: IRModel) -> OLDataset:
    return OLDataset(job_namespace(system), f"kserve.{environment}.{model.name}")


def training_inputs(system: IRSystem, model: IRModel) -> tuple[OLDataset, ...]:
    """The label rows and the feature views the pipeline asks Feast for."""
    found = [storage_dataset(model.label_dataset)] + [feature_view_dataset(system, v) for v in model.feature_views]
    return tuple(dict.fromkeys(d for d in found if d is not None))


def drift_inputs(system: IRSystem, model: IRModel, env: IREnvironment | None) -> tuple[OLDataset, ...]:
    """What the drift check compares: the training reference and the prediction log."""
    uris = [model.drift_reference, layout.drift_predictions(system, model, env)[0]]
    account = system.platform.azure.account if system.platform.azure else None
    return tuple(dict.fromkeys(of_uri(u, account) for u in uris if u))


# --- jobs: every task of every generated DAG ------------------------------------------------


def ingest_tasks(dataset: IRDataset) -> list[tuple[str, tuple, tuple]]:
    """(task_id, inputs, outputs) of the dataset's ingestion DAG, in task order."""
    sources = source_datasets(dataset)
    tasks = [("extract", sources, ()), ("validate", sources, ())]
    if dataset.dvc_remote:
        tasks.append(("version", sources, (dvc_dataset(dataset),)))
    if dataset.storage:
        tasks.append(("upload", sources, (storage_dataset(dataset),)))
    return tasks


def train_tasks(system: IRSystem, model: IRModel) -> list[tuple[str, tuple, tuple]]:
    return [("submit_pipeline", training_inputs(system, model), (model_dataset(system, model),))]


def drift_tasks(system: IRSystem, model: IRModel, env: IREnvironment | None) -> list[tuple[str, tuple, tuple]]:
    on_drift = "trigger_retraining" if model.drift.on_drift == "retrain" else "alert_drift"
    return [("check_drift", drift_inputs(system, model, env), ()), ("decide", (), ()), (on_drift, (), ()),
            ("no_action", (), ())]


def feast_tasks(system: IRSystem) -> list[tuple[str, tuple, tuple]]:
    """The Feast DAG's tasks: apply reads the views' sources and writes every view's
    definition; materialize writes the online views (all views when none is online)."""
    sources = tuple(dict.fromkeys(d for d in (storage_dataset(v.source) for v in system.feature_views) if d))
    views = tuple(feature_view_dataset(system, v.name) for v in system.feature_views)
    online = tuple(feature_view_dataset(system, v.name) for v in system.feature_views if v.online)
    return [("apply", sources, views), ("materialize", sources, online or views)]


def dag_jobs(system: IRSystem, env: IREnvironment | None) -> list[OLJob]:
    """Every task of every DAG the airflow target writes, with the datasets it declares; `env`
    is the environment whose prediction log the drift DAGs read (the last one)."""
    dags = [(d.ingest_dag_id, ingest_tasks(d)) for d in common.ingested_datasets(system)]
    if system.feature_views:
        dags.append((layout.feast_dag_id(system), feast_tasks(system)))
    for model in system.models:
        dags.append((model.train_dag_id, train_tasks(system, model)))
        if model.drift_dag_id:
            dags.append((model.drift_dag_id, drift_tasks(system, model, env)))
    return [OLJob(f"{dag_id}.{task_id}", tuple(inputs), tuple(outputs), dag_id, task_id)
            for dag_id, tasks in dags for task_id, inputs, outputs in tasks]


def static_jobs(project: IRProject) -> list[OLJob]:
    """The jobs `mlspec lineage emit` describes: the DAG tasks (the Feast DAG's reads each
    feature view from its source dataset), plus what no DAG runs: each deployment (KServe
    serves the registered model)."""
    system = project.base
    jobs = dag_jobs(system, layout.monitored_environment(project))
    for env in project.environments:
        for model in env.system.models:
            if model.serving:
                jobs.append(OLJob(f"deployment.{env.name}.{model.name}", (model_dataset(system, model),),
                                  (deployment_dataset(system, env.name, model),)))
    return sorted(jobs, key=lambda j: j.name)


# --- how a DAG file declares a dataset -------------------------------------------------------


def airflow_entity_kind(dataset: OLDataset) -> str:
    """The class `airflow_entity` declares `dataset` with: File, Asset, Dataset or Table."""
    namespace = dataset.namespace
    if "://" in namespace and namespace.split("://", 1)[0] in OBJECT_SCHEMES:
        return "File"
    if namespace.startswith("abfss://"):
        return "Dataset"
    if namespace == "file" or namespace.startswith("file://"):
        return "Asset"
    return "Table"


def airflow_entity(dataset: OLDataset) -> str:
    """Python source of the lineage object a DAG task declares for `dataset`, chosen so that
    Airflow's OpenLineage provider turns it back into exactly this namespace and name, without
    importing openlineage.client when the DAG file is parsed (about 0.3 s per parse):

    - objects: `File(url="s3://bucket/key")` -> (`s3://bucket`, `key`);
    - local files: `Asset(uri="file:///path")`, which the common-io provider names (`file`, `/path`)
      (a `File` would lose the path's first slash);
    - abfs:// objects: an OpenLineage `Dataset` itself, which the provider passes through (it names
      a `File(url="abfss://c@a.dfs.core.windows.net/k")` (`abfss`, `c@a.dfs.core.windows.net/k`),
      not as the naming conventions say; this costs the DAG file the openlineage.client import);
    - anything else: `Table(cluster=namespace, database=a, name=b)` -> (namespace, `a.b`); these
      names are qualified (`database.schema.table`, `mlflow.Model`), so they split at a dot."""
    namespace, name = dataset.namespace, dataset.name
    kind = airflow_entity_kind(dataset)
    if kind == "File":
        return f"File(url={ascii(namespace + '/' + name)})"
    if kind == "Asset":
        return f"Asset(uri={ascii('file://' + namespace[len('file://'):] + name)})"
    if kind == "Dataset":
        return f"Dataset(namespace={ascii(namespace)}, name={ascii(name)})"
    database, dot, rest = name.partition(".")
    if not (dot and database and rest):
        raise ValueError(f"lineage dataset {namespace} {name} has no qualified name")  # a bug in this module
    return f"Table(cluster={ascii(namespace)}, database={ascii(database)}, name={ascii(rest)})"


def airflow_entities(datasets, indent: int = 8, extra: tuple[str, ...] = ()) -> str:
    """A Python list of `airflow_entity`s (and `extra` expressions, such as the asset a task
    updates), one per line when they do not fit on one."""
    items = [airflow_entity(d) for d in datasets] + list(extra)
    one_line = "[" + ", ".join(items) + "]"
    if len(one_line) + indent + len("outlets=") <= 110:
        return one_line
    pad = " " * (indent + 4)
    return "[\n" + "".join(f"{pad}{item},\n" for item in items) + " " * indent + "]"
