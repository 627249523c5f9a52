"""Kubeflow Pipelines: per model, a readable pipeline source and the IR YAML that kfp's own
compiler produces from it.

The source uses the current KFP 2.17 forms (`@dsl.component(base_image=...,
packages_to_install=...)`, `@dsl.pipeline`, `Input`/`Output` artifacts, `kfp.kubernetes`
for secret references). Values that differ between a cluster and a local run (the Feast store
configuration, label data, MLflow tracking URI, registry name and alias, gates) are pipeline
parameters whose defaults come from the spec (`airflow_common.training_arguments`, which the training
DAG submits too), so the IR names no machine and no absolute path.

The IR is compiled by `compile_pipeline_source(source)`, a pure function of the source text
(memoized on its sha256): kfp is imported only there, and only when some source was not
compiled before in this process. The IR file starts with a `# pipeline source sha256: ...`
line, so a later run can tell whether a committed IR is still the one of its source
without importing kfp (see `ir_is_current`).
"""

from __future__ import annotations

import re

import hashlib
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

from mlspec import names
from mlspec.ir.layout import (feature_service_name, model_flavor, pipeline_function_name, pipeline_ir_path,
                              pipeline_source_path)
from mlspec.ir.model import IRModel, IRProject, IRResources, IRSystem
from mlspec.runtime import ALWAYS, emitted_source
from mlspec.targets.base import Artifact, Target
from mlspec.targets.kfp_version import installed_kfp_version
from mlspec.targets.feast_store import registry_is_remote
from mlspec.targets.model_card_document import card_document, hf_card_parts
from mlspec.targets.airflow_common import training_arguments
from mlspec.targets.templating import pyliteral, render_template

SOURCE_HASH_PREFIX = "# pipeline source sha256: "
# Feature types the training step one-hot encodes inside the model.
CATEGORICAL_TYPES = ("string", "bool")
# Keys of the object-store credentials Secret (the same keys KServe's S3 secrets use).
OBJECT_STORE_SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
GCS_KEY_DIR = "/var/run/secrets/mlspec/gcs"  # where each step mounts `platform.gcs`'s Secret

_compiled: dict[str, str] = {}


def source_sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def compile_pipeline_source(source: str, function_name: str) -> str:
    """kfp's IR YAML for the pipeline `function_name` defined in `source` (a module's text).

    Deterministic: the module is loaded from a temporary file under a name derived from the
    source hash; lightweight components embed only their function's text, never the path."""
    key = f"{source_sha256(source)}:{function_name}"
    if key not in _compiled:
        _compiled[key] = _compile(source, function_name)
    return _compiled[key]


class _CheapStack:
    """Stands in for `inspect` inside kfp's pipeline_task while we compile.

    kfp calls `inspect.stack()` on every `.set_env_variable()`/`.set_cpu_limit()` only to
    name the caller in an error message; a full stack walk reads source files and scans
    sys.modules per frame, which made one pipeline take ~0.5 s. This returns the same
    (frame, filename, lineno, function, ...) tuples without touching source files. The
    compiled IR is unchanged (tests compare it with a pristine kfp compile)."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    @staticmethod
    def stack(context: int = 1):
        frame, frames = sys._getframe(1), []
        while frame is not None:
            code = frame.f_code
            frames.append((frame, code.co_filename, frame.f_lineno, code.co_name, None, None))
            frame = frame.f_back
        return frames


def _compile(source: str, function_name: str) -> str:
    import inspect

    from kfp import compiler
    from kfp.dsl import pipeline_task

    module_name = f"_mlspec_pipeline_{source_sha256(source)[:16]}"
    with tempfile.TemporaryDirectory(prefix="mlspec-kfp-") as tmp:
        path = Path(tmp) / "pipeline.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # inspect.getsource needs to find the module
        pipeline_task.inspect = _CheapStack(inspect)
        try:
            spec.loader.exec_module(module)
            package = Path(tmp) / "pipeline.yaml"
            compiler.Compiler().compile(pipeline_func=getattr(module, function_name), package_path=str(package))
            return package.read_text(encoding="utf-8")
        finally:
            pipeline_task.inspect = inspect
            sys.modules.pop(module_name, None)


# Below this many pipelines to compile, a process pool costs more than it saves.
PARALLEL_THRESHOLD = 8


def compile_many(jobs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Compile several (source, function) pairs; on every core when there are many and we are
    not already a worker of `mlspec compile`'s own pool (one spec with hundreds of models)."""
    import multiprocessing
    import os

    jobs = list(dict.fromkeys(jobs))
    workers = min(len(jobs), os.cpu_count() or 1)
    if len(jobs) < PARALLEL_THRESHOLD or workers < 2 or multiprocessing.parent_process() is not None:
        return {job: compile_pipeline_source(*job) for job in jobs}
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        results = pool.map(_compile_job, jobs, chunksize=max(1, len(jobs) // (workers * 4)))
        return dict(zip(jobs, results))


def _compile_job(job: tuple[str, str]) -> str:
    return compile_pipeline_source(*job)


def ir_is_current(ir_text: str, source: str) -> bool:
    """Whether a previously generated IR file was compiled from exactly this source (the
    hash line stands among the comment lines at the top, after the generated-by header)."""
    wanted = SOURCE_HASH_PREFIX + source_sha256(source)
    for line in ir_text.split("\n", 16)[:16]:
        if not line.startswith("#"):
            return False
        if line == wanted:
            return True
    return False


# Feast 0.67 online store types whose client is an extra of the `feast` package, not one of its
# requirements (ONLINE_STORE_CLASS_FOR_TYPE in feast/repo_config.py; the extras in its metadata):
# type -> (extra, the distribution that provides the client).
FEAST_ONLINE_STORE_EXTRAS = {
    "redis": ("redis", "redis"),
    "postgres": ("postgres", "psycopg"),
    "mysql": ("mysql", "pymysql"),
    "cassandra": ("cassandra", "cassandra-driver"),
    "hbase": ("hbase", "happybase"),
    "elasticsearch": ("elasticsearch", "elasticsearch"),
    "mongodb": ("mongodb", "pymongo"),
    "snowflake.online": ("snowflake", "snowflake-connector-python"),
    "datastore": ("gcp", "google-cloud-datastore"),
    "bigtable": ("gcp", "google-cloud-bigtable"),
}


class KfpTarget(Target):
    name = "kfp"
    description = "Kubeflow training pipeline per model (source and compiled IR)"

    def generate(self, project: IRProject) -> list[Artifact]:
        system = project.base
        if system.models and not registry_is_remote(system):
            self.warn(f"the Feast registry `{system.platform.feast.registry}` is a path inside the feature repo,"
                      " which a training step in a cluster does not have: put it on the object store"
                      " (`platform.feast.registry: s3://bucket/registry.db`), or run the pipelines with a"
                      " `feast_config` that names a registry they can read", system.spec_path,
                      ("platform", "feast", "registry"))
        pipelines = []
        for model in system.models:  # one flavor in every environment: check/environments.py (E418)
            source = self.pipeline_source(system, model)
            if source is not None:
                pipelines.append((model, source, self._previous_ir(pipeline_ir_path(model), source)))
        if not self.derived:  # the IR is a function of the source: its hash stands in for it
            pipelines = [(model, source, previous or "") for model, source, previous in pipelines]
        compiled = compile_many([(source, pipeline_function_name(model))
                                 for model, source, previous in pipelines if previous is None])
        artifacts = []
        for model, source, previous in pipelines:
            ir = previous if previous is not None else compiled[(source, pipeline_function_name(model))]
            artifacts += [
                self.artifact(pipeline_source_path(model), source),
                self.artifact(pipeline_ir_path(model), f"{SOURCE_HASH_PREFIX}{source_sha256(source)}\n{ir}"),
            ]
        return artifacts

    def _previous_ir(self, path: str, source: str) -> str | None:
        """The IR already on disk when it was compiled from this very source by this kfp
        version: then kfp is not even imported (most compiles change no pipeline)."""
        previous = self.previous_file(path)
        if previous is None or not ir_is_current(previous, source):
            return None
        ir = previous.split(SOURCE_HASH_PREFIX + source_sha256(source) + "\n", 1)[1]
        return ir if f"sdkVersion: kfp-{installed_kfp_version()}\n" in ir else None

    def _warn_online_store_extra(self, system: IRSystem, model: IRModel) -> None:
        """The training step builds Feast's `RepoConfig` from the spec's store, which imports the
        online store's module: a store type whose client is a Feast extra fails there (and in the
        Airflow workers of the Feast DAG) with `FeastModuleImportError` unless it is installed."""
        kind = str(system.platform.feast.online_store.get("type", "sqlite"))
        if kind not in FEAST_ONLINE_STORE_EXTRAS:
            return
        extra_name, client = FEAST_ONLINE_STORE_EXTRAS[kind]
        for package in model.training.packages:
            name, _, rest = package.partition("[")
            name = re.split(r"[<>=!~ ;]", name, maxsplit=1)[0].strip().lower().replace("_", "-")
            extras = {e.strip().lower() for e in rest.split("]", 1)[0].split(",")} if rest else set()
            if name == client or (name == "feast" and extra_name in extras):
                return
        self.warn(f"model `{model.name}`: Feast's `{kind}` online store (`platform.feast.onlineStore`) needs"
                  f" `feast[{extra_name}]` wherever Feast loads the store's configuration: add it to"
                  " `training.packages` unless `training.image` has it (the Airflow workers that run the Feast"
                  " DAG need it too)", system.spec_path, ("models", model.name, "training"))

    def pipeline_source(self, system: IRSystem, model: IRModel) -> str | None:
        where = ("models", model.name)
        views = {v.name: v for v in system.feature_views}
        join_keys = list(dict.fromkeys(k for v in model.feature_views for e in views[v].entities for k in e.join_keys))
        timestamp_column = model.label_timestamp
        # The label dataset has the join keys, a timestamp column and storage, and the feature
        # names are distinct: check/training_data.py (E415, E208), so validate reports them too.
        feature_names = [f.name for f in model.features]
        fairness = model.fairness  # a metric the task has: check/consistency.py (E403)
        sensitive = list(fairness.sensitive) if fairness else []
        split = model.split
        split_column = "" if split.column is None else \
            "event_timestamp" if split.column == timestamp_column else split.column  # the join renames it
        label_columns = list(dict.fromkeys([*join_keys, timestamp_column, model.label_column, *sensitive,
                                            *([model.group] if model.group else []),
                                            *([split.column] if split.column else [])]))
        training = model.training
        env_plain = sorted(training.env.items())
        secret_env = {(ref.name, ref.key, name) for name, ref in training.secret_env.items()}
        store = system.platform.object_store
        if store is not None:
            # boto3 and pyarrow, MLflow's artifact store and Feast's registry each read their own.
            env_plain += [("AWS_ENDPOINT_URL", store.endpoint), ("FEAST_S3_ENDPOINT_URL", store.endpoint),
                          ("MLFLOW_S3_ENDPOINT_URL", store.endpoint)]
            secret_env |= {(store.credentials_secret, key, key) for key in OBJECT_STORE_SECRET_KEYS}
        gcs, azure = system.platform.gcs, system.platform.azure
        secret_volumes = []
        if gcs is not None:
            # gcsfs and google-cloud-storage (Feast's gs:// registry) read the service-account key
            # file GOOGLE_APPLICATION_CREDENTIALS names: the Secret's `key.json`, mounted.
            secret_volumes.append((gcs.credentials_secret, GCS_KEY_DIR))
            env_plain.append(("GOOGLE_APPLICATION_CREDENTIALS", f"{GCS_KEY_DIR}/key.json"))
            if gcs.endpoint:
                env_plain += [("STORAGE_EMULATOR_HOST", gcs.endpoint), ("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")]
        if azure is not None:
            # adlfs reads the account and its connection string from the environment.
            env_plain.append(("AZURE_STORAGE_ACCOUNT_NAME", azure.account))
            secret_env |= {(azure.credentials_secret, "connection-string", "AZURE_STORAGE_CONNECTION_STRING")}
        label_store = (model.label_dataset.storage or "").split("://")[0]
        needed = {"gs": "gcsfs", "abfs": "adlfs"}.get(label_store)
        if needed and not any(re.match(rf"{needed}\b", p) for p in training.packages):
            self.warn(f"model `{model.name}`: its label data is on {label_store}://, which pandas reads through"
                      f" `{needed}`: add it to `training.packages` unless `training.image` has it",
                      system.spec_path, ("models", model.name, "training"))
        self._warn_online_store_extra(system, model)
        arguments = training_arguments(system, model)
        if not arguments["mlflow_tracking_uri"]:
            self.warn(f"model `{model.name}`: no `platform.mlflow.trackingUri`; the pipeline logs to MLflow's"
                      " default store unless the run passes `mlflow_tracking_uri`", system.spec_path, where)
        return render_template(
            "kfp/pipeline.py.j2",
            system=system, model=model, training=training, fairness=fairness, sensitive=sensitive,
            packages=list(training.packages),
            components=pipeline_components(bool(fairness)),
            params_json=json.dumps(training.params, sort_keys=True),
            card_literal=pyliteral(card_document(system, model, for_pipeline=True), sort_dicts=True),
            hf_card_literal=pyliteral(hf_card_parts(system, model)),
            env_plain=env_plain,
            env_secrets=_secret_env_calls(secret_env),
            secret_volumes=sorted(secret_volumes),
            retries=training.retries, resources=_resource_calls(training.resources),
            pipeline_name=names.pipeline_name(system.name, model.k8s_name),
            pipeline_description=f"Train, evaluate and register model {model.name} of {system.name}",
            pipeline_function=pipeline_function_name(model),
            arguments=arguments, experiment=f"{system.name}/{model.name}",
            gates=[f"{g.metric} {g.operator} {g.threshold:g}" for g in model.gates],
            feature_service=feature_service_name(model), timestamp_column=timestamp_column,
            label_columns=label_columns, features=feature_names,
            categorical=[f.name for f in model.features if f.type in CATEGORICAL_TYPES],
            split_method=split.method, split_column=split_column, flavor=model_flavor(model))



def pipeline_components(fairness: bool) -> str:
    """The component functions of a training pipeline: mlspec.runtime.kfp_components as it is
    written, with the fairness gate only when the model has one."""
    sections = (ALWAYS, "fairness") if fairness else (ALWAYS,)
    return emitted_source("kfp_components", sections).strip("\n")


def _secret_env_calls(secret_env: set[tuple[str, str, str]]) -> list[dict]:
    """(secret, key, env var) triples as `use_secret_as_env` calls. One call maps each key of a
    secret to one variable, so a key that feeds two variables (or a key the object store's
    credentials use as well) takes a second call instead of overwriting the first mapping."""
    calls: list[dict] = []
    for secret, key, env in sorted(secret_env):
        call = next((c for c in calls if c["name"] == secret and key not in c["key_to_env"]), None)
        if call is None:
            call = {"name": secret, "key_to_env": {}}
            calls.append(call)
        call["key_to_env"][key] = env
    return calls


def _resource_calls(resources: IRResources | None) -> list[str]:
    if resources is None:
        return []
    calls = []
    if resources.cpu:
        calls += [f"set_cpu_request({str(resources.cpu)!r})", f"set_cpu_limit({str(resources.cpu)!r})"]
    if resources.memory:
        calls += [f"set_memory_request({str(resources.memory)!r})", f"set_memory_limit({str(resources.memory)!r})"]
    if resources.gpu:
        calls += ["set_accelerator_type('nvidia.com/gpu')", f"set_accelerator_limit({int(resources.gpu)})"]
    return calls
