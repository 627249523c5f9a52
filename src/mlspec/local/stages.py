"""The stages of `mlspec run --local`, each run with the real tool on the generated files:

  ingest, validate, version   one ingestion DAG run per dataset (`airflow dags test`); its tasks
                              map to the stages: extract + upload, validate (GX), version (DVC)
  materialize                 the Feast DAG: `feast apply`, then materialization into the online store
  train, register             the training DAG, its pipeline run by kfp's local runner (the
                              `kfp_local` Variable); register checks MLflow for the version and alias
  promote, serve, drift, retrain   the registered model through git, a scoring server, the
                              drift DAG and retraining (mlspec.local.loop_stages)

`run_stages` yields one StageResult per stage, in order; after a failed stage the rest are
skipped. Core code: it returns data, the CLI prints it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterator, Mapping

from mlspec.local.result import StageResult, StageStatus, Step, error_line, listed

STAGES = ("ingest", "validate", "version", "materialize", "train", "register", "promote", "serve", "drift",
          "retrain")
INGEST_TASKS = {"ingest": ("extract", "upload"), "validate": ("validate",), "version": ("version",)}
SKIPPED_WHY = {"ingest": "the spec has no dataset with a source", "validate": "no dataset has a validate task",
               "version": "no dataset is versioned (versioning.dvc)"}
INGEST_WORDS = {"ingest": "extract + upload", "validate": "Great Expectations suite", "version": "dvc add + push"}
# kfp local runner's task names (the component functions, dashed) that register the model.
REGISTER_STEPS = ("register-model", "challenge-champion", "write-model-card", "set-alias")


def materialized_summary(dag_id: str, views) -> str:
    """What the Feast DAG did: the online views materialized into the online store; the
    offline-only ones (`online: false`) registered, read from the offline store by training,
    never materialized (the DAG skips them: nothing of theirs is in the online store)."""
    online = [v.name for v in views if v.online]
    offline = [v.name for v in views if not v.online]
    parts = [f"{dag_id}: feast apply (when the repository changed)"]
    if online:
        parts.append(f"{', '.join(online)} materialized into the online store")
    if offline:
        parts.append(f"{', '.join(offline)} offline only (`online: false`): registered, read from the offline store,"
                     f" not materialized")
    return ", then ".join(parts[:2]) + ("; " + parts[2] if len(parts) > 2 else "")


@dataclass(frozen=True)
class LocalRun:
    """The generated system of one workspace, run stage by stage in its Airflow home. Nothing
    here changes once the run is prepared: each stage returns its results and what the next
    one needs (Step), and run_stages hands that on."""

    ws: object  # mlspec.local.workspace.Workspace
    home: object  # mlspec.local.airflow_home.AirflowHome
    models: tuple = None  # the models to train (default: every model of the spec)
    logical_date: str | None = None  # the training and feature runs' logical date (default: today, UTC)
    # The ingestion runs' logical date (a query's `{{ ds }}`): the day the sample starts on
    # (mlspec.local.data.Sources.day), which is yesterday just after midnight (default: logical_date).
    data_date: str | None = None
    sample: Mapping = field(default_factory=dict)  # dataset -> the sample frame its source was written from
    deployer: object = None  # mlspec.local.repos.Deployer: publish and promote, for the promote stage
    own_data: tuple[str, ...] = ()  # the datasets whose rows `--data DIR` gave (the others are synthetic)
    # called while a DAG runs: (dag id, tasks finished, tasks); the CLI draws a bar with it
    progress: Callable[[str, int, int], None] | None = None

    def __post_init__(self) -> None:
        models = self.ws.system.models if self.models is None else self.models
        object.__setattr__(self, "models", tuple(models))
        if self.logical_date is None:
            object.__setattr__(self, "logical_date", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"))
        if self.data_date is None:
            object.__setattr__(self, "data_date", self.logical_date)

    @property
    def system(self):
        return self.ws.system

    @property
    def date(self) -> str:
        return self.logical_date

    @property
    def logs(self) -> Path:
        return self.ws.root / "logs"

    # --- settings the generated DAGs read (Airflow Variables, as environment variables) -------------

    def variable(self, *parts: str) -> str:
        """The environment variable that sets one of the generated DAGs' Airflow Variables."""
        from mlspec.targets.airflow_common import variable_key

        return "AIRFLOW_VAR_" + variable_key(self.system, *parts).upper()

    def env(self, extra: Mapping[str, str] = MappingProxyType({})) -> dict[str, str]:
        """The environment of the generated DAGs' runs; `extra`: settings of one run (the drift
        check's predictions folder)."""
        from mlspec.local import lineage_events
        from mlspec.local.database import connection_env
        from mlspec.local.workspace import store_folder

        env = {
            **connection_env(self.system, self.ws.databases),  # AIRFLOW_CONN_<ID> of each SQL source
            self.variable("dvc_repo"): str(self.ws.root / "dvc-repo"),
            self.variable("staging_dir"): str(self.ws.root / "staging"),
        }
        for model in self.models:
            env[self.variable(model.name, "kfp_local")] = "true"
            env[self.variable(model.name, "kfp_local_root")] = str(self.ws.root / "kfp")
            env[self.variable(model.name, "mlflow_tracking_uri")] = self.ws.tracking_uri
            if model.drift is not None and model.drift_reference_is_snapshot and model.drift_reference:
                # The training data snapshot the pipeline writes and the drift DAG compares with:
                # a location mlspec names (not a spec value), so the spec copy cannot move it.
                snapshot = Path(store_folder(self.ws.root, model.drift_reference))
                snapshot.parent.mkdir(parents=True, exist_ok=True)
                env[self.variable(model.name, "reference_uri")] = str(snapshot)
                env[self.variable(model.name, "reference")] = str(snapshot)
        env.update(lineage_events.airflow_env(self.ws))  # OpenLineage on, into the work folder
        env.update(extra)
        return env

    def _file(self, dag_id: str) -> str:
        return f"airflow/dags/{dag_id}.py"

    def _dags_test(self, dag_id: str, date: str | None = None) -> tuple[object, Path]:
        log = self.logs / f"{dag_id}.log"
        return self.home.dags_test(dag_id, date or self.date, self.env(), log, progress=self.progress), log

    # --- stages ---------------------------------------------------------------------------------

    def ingestion(self) -> dict[str, StageResult]:
        """Run every ingestion DAG (stopping at the first that fails); the three stages' results."""
        from mlspec.targets.airflow_common import ingested_datasets
        from mlspec.ir.layout import suite_path

        datasets = ingested_datasets(self.system)
        seconds = dict.fromkeys(INGEST_TASKS, 0.0)
        done = {stage: [] for stage in INGEST_TASKS}
        for dataset in datasets:
            result, log = self._dags_test(dataset.ingest_dag_id, self.data_date)
            runs = self.home.task_runs(dataset.ingest_dag_id)
            for stage, tasks in INGEST_TASKS.items():
                seconds[stage] += sum(runs[t].seconds for t in tasks if t in runs)
            failed = [t for t, r in runs.items() if r.state == "failed"]
            if result.returncode == 0 and not failed and all(r.state == "success" for r in runs.values()):
                for stage, tasks in INGEST_TASKS.items():
                    if any(t in runs for t in tasks):
                        done[stage].append(dataset.name)
                continue
            task = failed[0] if failed else None
            stage = next((s for s, tasks in INGEST_TASKS.items() if task in tasks), "ingest")
            key = {"ingest": "source", "validate": "columns", "version": "storage"}[stage]
            anchor = ("datasets", dataset.name, key)  # where() falls back to the dataset's line
            if stage == "validate" and self.ws.has(("datasets", dataset.name, "expectations")) \
                    and "table_row_count" in error_line(result, log):
                anchor = ("datasets", dataset.name, "expectations")
            what = f"task `{task}` failed" if task else f"`airflow dags test` exited {result.returncode}"
            # The suite is what failed validation; the DAG file, what failed otherwise.
            file = suite_path(dataset) if stage == "validate" else self._file(dataset.ingest_dag_id)
            failure = StageResult(stage, StageStatus.FAILED, seconds[stage],
                                  f"{dataset.ingest_dag_id}: {what}: {error_line(result, log)} (log: {log})",
                                  file, self.ws.where(anchor))
            out = {}
            for name, tasks in INGEST_TASKS.items():
                if name == stage:
                    out[name] = failure
                    continue
                # what this run did of the stage (an upload can fail after validate and version passed)
                ran = [t for t in tasks if t in runs and runs[t].state == "success"]
                names = listed(done[name] + ([dataset.name] if ran else []))
                if not ran:
                    earlier = f" (done for {listed(done[name])} before)" if done[name] else ""
                    out[name] = StageResult(name, StageStatus.SKIPPED, 0.0, f"not run: {stage} failed{earlier}")
                elif ran != [t for t in tasks if t in runs]:
                    out[name] = StageResult(name, StageStatus.PASSED, seconds[name],
                                            f"{INGEST_WORDS[name]}: {names} ({dataset.name}: {' + '.join(ran)} only)")
                else:
                    out[name] = StageResult(name, StageStatus.PASSED, seconds[name], f"{INGEST_WORDS[name]}: {names}")
            return out
        return {stage: (StageResult(stage, StageStatus.PASSED, seconds[stage],
                                    f"{INGEST_WORDS[stage]}: {listed(done[stage])}")
                        if done[stage] else
                        StageResult(stage, StageStatus.SKIPPED, 0.0, SKIPPED_WHY[stage]))
                for stage in INGEST_TASKS}

    def materialize(self) -> StageResult:
        from mlspec.ir.layout import feast_dag_id

        dag_id = feast_dag_id(self.system)
        if not (self.ws.dags / f"{dag_id}.py").exists():
            return StageResult("materialize", StageStatus.SKIPPED, 0.0, "the spec has no feature views")
        started = time.monotonic()
        result, log = self._dags_test(dag_id)
        runs = self.home.task_runs(dag_id)
        seconds = time.monotonic() - started
        failed = [t for t, r in runs.items() if r.state == "failed"]
        if result.returncode != 0 or failed or not runs:
            what = f"task `{failed[0]}` failed" if failed else f"`airflow dags test` exited {result.returncode}"
            views = [("featureViews", v.name) for v in self.system.feature_views]
            anchor = next((v for v in views if self.ws.has(v)), ())
            return StageResult("materialize", StageStatus.FAILED, seconds,
                               f"{dag_id}: {what}: {error_line(result, log)} (log: {log})",
                               self._file(dag_id), self.ws.where(anchor))
        return StageResult("materialize", StageStatus.PASSED, seconds,
                           materialized_summary(dag_id, self.system.feature_views))

    def training(self) -> dict[str, StageResult]:
        """Run each model's training DAG; train and register results."""
        train_seconds, register_seconds = 0.0, 0.0
        trained, registered = [], []
        for model in self.models:
            self._prepare_experiment(model)
            since = time.time()
            started = time.monotonic()
            result, log = self._dags_test(model.train_dag_id)
            train_seconds += time.monotonic() - started
            runs = self.home.task_runs(model.train_dag_id)
            output = log.read_text(encoding="utf-8", errors="replace")
            if result.returncode != 0 or any(r.state != "success" for r in runs.values()) or not runs:
                step = _failed_step(output)
                stage = "register" if step in REGISTER_STEPS else "train"
                anchor = {"evaluate-model": ("models", model.name, "evaluation", "gates"),
                          "check-fairness": ("models", model.name, "evaluation", "fairness")
                          }.get(step, ("models", model.name))
                source = f"kfp/{Path(_pipeline_source(model)).name}"
                # A gate failed on data mlspec made up: say so, and how to bring real data (--data).
                from mlspec.local.user_data import synthetic_note

                note = synthetic_note(self.system, model, self.own_data) \
                    if step in ("evaluate-model", "check-fairness") else ""
                failure = StageResult(
                    stage, StageStatus.FAILED, train_seconds,
                    f"{model.train_dag_id}: pipeline step `{step or '?'}` of {source} failed: {error_line(result, log)}"
                    f" (log: {log}){note}", source, self.ws.where(anchor))
                if stage == "register":
                    return {"train": StageResult("train", StageStatus.PASSED, train_seconds,
                                                 listed(trained + [model.name])),
                            "register": failure}
                return {"train": failure, "register": StageResult("register", StageStatus.SKIPPED, 0.0, "train failed")}
            trained.append(model.name)
            started = time.monotonic()
            checked = self.check_registered(model, since)
            register_seconds += time.monotonic() - started
            if isinstance(checked, StageResult):
                return {"train": StageResult("train", StageStatus.PASSED, train_seconds, listed(trained)),
                        "register": checked}
            registered.append(checked)
        if not self.models:
            return {s: StageResult(s, StageStatus.SKIPPED, 0.0, "the spec has no models")
                    for s in ("train", "register")}
        return {"train": StageResult("train", StageStatus.PASSED, train_seconds,
                                     "pipeline run by kfp's local runner: " + listed(trained)),
                "register": StageResult("register", StageStatus.PASSED, register_seconds,
                                        "registered by the pipeline's register step; " + "; ".join(registered))}

    def _prepare_experiment(self, model) -> None:
        """The model's MLflow experiment, its artifacts in the work folder (a SQLite tracking
        store would otherwise put them in ./mlruns of whichever process logs first)."""
        import logging

        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # "Creating initial MLflow database tables..."
        client = MlflowClient(tracking_uri=self.ws.tracking_uri)
        name = f"{self.system.name}/{model.name}"
        if client.get_experiment_by_name(name) is None:
            location = self.ws.mlflow_dir / "artifacts" / re.sub(r"\W", "_", name)
            location.mkdir(parents=True, exist_ok=True)
            client.create_experiment(name, artifact_location=location.as_uri())

    def check_registered(self, model, since: float) -> str | StageResult:
        """The version the alias points at, made by this run (not one a previous run left)."""
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=self.ws.tracking_uri)
        try:
            version = client.get_model_version_by_alias(model.registry_name, model.registry_alias)
        except MlflowException as error:
            return StageResult("register", StageStatus.FAILED, 0.0,
                               f"MLflow ({self.ws.tracking_uri}) has no version of {model.registry_name} with alias"
                               f" `{model.registry_alias}`: {error}", f"kfp/{Path(_pipeline_source(model)).name}",
                               self.ws.where(("models", model.name)))
        if (version.creation_timestamp or 0) / 1000 < since - 1:
            # Champion/challenger: a version this run registered that did not beat the champion.
            kept = [v for v in client.search_model_versions(f"name = '{model.registry_name}'")
                    if (v.creation_timestamp or 0) / 1000 >= since - 1 and "mlspec.challenge.reason" in (v.tags or {})]
            if kept:
                newest = max(kept, key=lambda v: int(v.version))
                return (f"{model.registry_name} version {newest.version} is registered without the alias"
                        f" `{model.registry_alias}`, which stays on version {version.version}:"
                        f" {newest.tags['mlspec.challenge.reason']}")
            return StageResult("register", StageStatus.FAILED, 0.0,
                               f"the alias `{model.registry_alias}` of {model.registry_name} points at version"
                               f" {version.version}, registered before this run: this run registered no version",
                               f"kfp/{Path(_pipeline_source(model)).name}", self.ws.where(("models", model.name)))
        metrics = client.get_run(version.run_id).data.metrics
        from mlspec.ir.layout import mlflow_metric_name

        shown = ", ".join(f"{g.metric}={metrics[mlflow_metric_name(g.metric)]:.3f}" for g in model.gates
                          if mlflow_metric_name(g.metric) in metrics)
        return (f"{model.registry_name} version {version.version} has alias `{model.registry_alias}` in"
                f" {self.ws.tracking_uri}" + (f" ({shown})" if shown else ""))


def _pipeline_source(model) -> str:
    from mlspec.ir.layout import pipeline_source_path

    return pipeline_source_path(model)


def _failed_step(output: str) -> str | None:
    """The task kfp's local runner names as failed (`... finished with status FAILURE. Inner task
    failed: 'evaluate-model'.`, coloured on a terminal), or None."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    found = (re.search(r"Inner task failed: '([\w-]+)'", plain)
             or re.search(r"Task '([\w-]+)' finished with status FAILURE", plain))
    return found.group(1) if found else None


def run_stages(run: LocalRun, started: Callable[[tuple[str, ...]], None] = lambda stages: None
               ) -> Iterator[StageResult]:
    """Each stage's result in order; after a failure every later stage is skipped. `started`
    is called with the stages a step is about to run (one DAG run can make several). Each
    step starts from what the one before handed over (promote -> serve -> drift -> retrain).
    The scoring servers the serve stage starts are stopped at the end, whatever happened."""
    from mlspec.local import lineage_events, loop_stages

    failed = None
    described = lineage_events.start(run)
    steps = [(("ingest", "validate", "version"), lambda _: Step(run.ingestion())),
             (("materialize",), lambda _: Step({"materialize": run.materialize()})),
             (("train", "register"), lambda _: Step(run.training())),
             (("promote",), lambda _: loop_stages.promote(run)),
             (("serve",), lambda promoted: loop_stages.serve(run, promoted)),
             (("drift",), lambda served: loop_stages.drift(run, served)),
             (("retrain",), lambda drifted: loop_stages.retrain(run, drifted))]
    handover = None
    serving = []  # what the serve stage started, stopped at the end
    try:
        for stages, action in steps:
            if failed:
                for stage in stages:
                    yield StageResult(stage, StageStatus.SKIPPED, 0.0, f"not run: {failed} failed")
                continue
            started(stages)
            step = action(handover)
            handover = step.handover
            if isinstance(handover, loop_stages.Served):
                serving.append(handover)
            # the events no tool emitted (may fail the step's last stage: its results are its own dict)
            lineage_events.after(run, stages, step.results, handover, described)
            for stage in stages:
                yield step.results[stage]
                if step.results[stage].failed and not failed:
                    failed = stage
    finally:
        for served in serving:
            loop_stages.stop_servers(served)
