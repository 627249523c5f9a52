"""The second half of `mlspec run --local`: what happens to a registered model.

  promote   what `mlspec promote MODEL --env <production> --version V --storage-uri URI
            --commit --repo deployments/` does, called as a function (mlspec.local.repos.Deployer)
            in a local spec repository: the spec's one-value diff is committed, the recompiled
            manifests are published to a local deployments repository, and the published
            InferenceService is checked to name the registered version
  serve     that InferenceService's model folder served by MLflow's scoring server (see
            mlspec.local.serving for why not MLServer); traffic drawn from the training data is
            scored through it and logged as KServe's logger would, where the drift DAG reads
  drift     the drift DAG on that log (no drift expected), then on drifted traffic scored the
            same way (drift expected: the DAG triggers retraining, or alerts)
  retrain   the training run the drift DAG queued, run with its conf; a new version must be
            registered with the alias

The production environment is the spec's last, as the drift DAGs monitor it
(layout.monitored_environment). Each function returns a Step: its stage's result, and what
the next stage starts from, frozen (Promoted -> Served -> Drifted); nothing is handed on
through the LocalRun, which no stage changes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from mlspec.local.result import StageResult, StageStatus, Step, error_line, listed


@dataclass(frozen=True)
class PromotedModel:
    """One model's promotion: the version, and the InferenceService published for it."""

    version: str
    path: str  # the InferenceService's file in the deployments repository
    manifest: Mapping  # the InferenceService, as published


@dataclass(frozen=True)
class Promoted:
    """What promote hands to serve: the environment promoted into, and each model promoted there."""

    environment: object  # the IREnvironment
    models: Mapping[str, PromotedModel]


@dataclass(frozen=True)
class ServedModel:
    """One model served: its promotion, its running scoring server, and where its traffic is logged."""

    promoted: PromotedModel
    server: object  # mlspec.local.serving.ScoringServer, running until run_stages ends
    service: object  # mlspec.local.serving.LoggedService
    kserve_log: bool  # whether the drift DAG reads that log (KServe's logger, as published)


@dataclass(frozen=True)
class Served:
    """What serve hands to drift (and run_stages stops at the end): each model it serves."""

    environment: object
    models: Mapping[str, ServedModel]


@dataclass(frozen=True)
class Drifted:
    """What drift hands to retrain: the models whose drifted run queued retraining."""

    retrain: frozenset[str]


def _one(stage: str, status: StageStatus, seconds: float, detail: str, file: str | None = None,
         spec_line: str | None = None, handover: object = None) -> Step:
    return Step({stage: StageResult(stage, status, seconds, detail, file, spec_line)}, handover)


def _served(run) -> list:
    return [m for m in run.models if m.serving is not None]


def _isvc_file(model, env) -> str:
    from mlspec.targets.kserve import inference_service_file
    from mlspec.ir.layout import k8s_dir

    return f"{k8s_dir(env)}/{inference_service_file(model)}"


# --- promote -----------------------------------------------------------------------------------


def _failure_text(error) -> str:
    """An MlspecError in one line, with the first errors among the diagnostics a SpecError carries."""
    from mlspec.diagnostics import Severity
    from mlspec.errors import SpecError

    found = [d for unit in (error.units if isinstance(error, SpecError) else []) for d in unit.diagnostics
             if d.severity is Severity.ERROR]
    return str(error) + "".join(f"; {d.code} {d.message}" for d in found[:3])


def promote(run) -> Step:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from mlspec.errors import MlspecError
    from mlspec.local.repos import make_repos, published_object
    from mlspec.ir.layout import deployment_path, monitored_environment

    started = time.monotonic()
    models = _served(run)
    if not models:
        return _one("promote", StageStatus.SKIPPED, 0.0, "no model of the run has a `serving` section")
    project = run.ws.project
    env = monitored_environment(project)
    if env is None:
        return _one("promote", StageStatus.SKIPPED, 0.0,
                    "the spec has no environments: nothing is deployed to promote into")
    if run.deployer is None:
        return _one("promote", StageStatus.SKIPPED, 0.0,
                    "no deployer was given to the run (mlspec.local.repos.Deployer)")
    said: list[str] = []
    try:
        repos = make_repos(run.ws.root, run.ws.spec, run.deployer, said.append)
    except MlspecError as error:
        return _one("promote", StageStatus.FAILED, time.monotonic() - started,
                    f"making the spec and deployments repositories: {_failure_text(error)}", None,
                    str(run.ws.original))
    client = MlflowClient(tracking_uri=run.ws.tracking_uri)
    done, promoted = [], {}
    for model in models:
        anchor = run.ws.where(("models", model.name, "serving"))

        def failed(detail: str) -> Step:
            return _one("promote", StageStatus.FAILED, time.monotonic() - started, detail, _isvc_file(model, env),
                        anchor)

        try:
            version = client.get_model_version_by_alias(model.registry_name, model.registry_alias).version
            storage = client.get_model_version_download_uri(model.registry_name, version)
        except MlflowException as error:
            return failed(f"MLflow has no version of {model.registry_name} with alias `{model.registry_alias}` to"
                          f" promote: {error}")
        shown = f"mlspec promote {model.name} --env {env.name} --version {version} --commit --repo {repos.deployments}"
        try:
            run.deployer.promote(repos.spec, model.name, env.name, str(version), storage, repos.generated,
                                 str(repos.deployments), said.append)
        except MlspecError as error:
            return failed(f"`{shown}` failed: {_failure_text(error)}")
        found = published_object(repos, deployment_path(project, env), "InferenceService", model.inference_service)
        spec = ((found or ("", {}))[1].get("spec") or {}).get("predictor", {})
        served = (spec.get("model") or {}).get("storageUri")
        if found is None or served != storage:
            return failed(f"the deployments repository's InferenceService {model.inference_service} serves"
                          f" {served!r}, not version {version} ({storage}) that `{shown}` promoted")
        promoted[model.name] = PromotedModel(str(version), *found)
        done.append(f"{model.name} version {version} ({repos.head(repos.spec_repo).split(' ', 1)[1]};"
                    f" deployments: {repos.head(repos.deployments).split(' ', 1)[0]} changed"
                    f" {', '.join(Path(p).name for p in repos.changed_files(repos.deployments))})")
    return _one("promote", StageStatus.PASSED, time.monotonic() - started,
                f"in {env.name} through git ({repos.spec_repo}, {repos.deployments}): " + "; ".join(done),
                handover=Promoted(env, promoted))


# --- serve ---------------------------------------------------------------------------------------


def logged_service(run, model, manifest: Mapping, environment):
    """Where the published InferenceService's logger writes, as a folder of the work folder's
    store (its s3:// bucket is a folder there); models that log elsewhere get a traffic folder."""
    from mlspec.local.serving import LoggedService
    from mlspec.local.workspace import store_folder
    from mlspec.ir.layout import drift_predictions

    predictor = manifest["spec"]["predictor"]
    logger = predictor.get("logger") or {}
    location, kserve_log = drift_predictions(run.system, model, environment) if model.drift else ("", False)
    folder = Path(store_folder(run.ws.root, location)) if kserve_log else run.ws.root / "traffic" / model.name
    return LoggedService(manifest["metadata"]["name"], manifest["metadata"].get("namespace", "default"),
                         logger.get("url", f"file://{folder}"), (predictor.get("model") or {}).get(
                             "protocolVersion", "v1"), folder), kserve_log


def _reference(run, model) -> Path | None:
    """The drift check's reference in the work folder (the training data it compares with)."""
    from mlspec.local.workspace import store_folder

    if model.drift is None or not model.drift_reference:
        return None
    reference = model.drift_reference
    # A dataset's storage is a store folder in the spec copy already; a snapshot mlspec names
    # itself (s3://mlspec-monitoring/...) is moved there by LocalRun.env.
    return Path(store_folder(run.ws.root, reference)) if "://" in reference else Path(reference)


def traffic_time(now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """(the drift DAG runs' logical date, the traffic's time): the start of this hour, and a
    minute before it, inside the check's window whatever interval the DAG's timetable gives."""
    now = now or dt.datetime.now(dt.timezone.utc)
    hour = now.replace(minute=0, second=0, microsecond=0)
    return hour, hour - dt.timedelta(minutes=1)


def serve(run, promoted: Promoted | None) -> Step:
    """Serve each promoted model; hands over (also when it fails) the servers it left running."""
    from mlspec.local.serving import RUNTIME, ScoringServer, ServingError, score_and_log
    from mlspec.local.traffic import feature_rows
    from mlspec.errors import SpecError
    from mlspec.local.workspace import inside, local_path

    started = time.monotonic()
    if promoted is None or not promoted.models:
        return _one("serve", StageStatus.SKIPPED, 0.0, "no model was promoted")
    env = promoted.environment
    done, serving = [], {}
    _, when = traffic_time()
    for model in _served(run):
        if model.name not in promoted.models:
            continue
        promotion = promoted.models[model.name]
        manifest = promotion.manifest
        anchor = run.ws.where(("models", model.name, "serving"))

        def failed(detail: str) -> Step:
            return _one("serve", StageStatus.FAILED, time.monotonic() - started, detail, _isvc_file(model, env),
                        anchor, handover=Served(env, serving))

        service, kserve_log = logged_service(run, model, manifest, env)
        storage = manifest["spec"]["predictor"]["model"]["storageUri"]
        try:  # MLflow's answer, published: served only from the work folder's MLflow artifacts
            folder = inside(run.ws.mlflow_dir, local_path(storage), f"the model folder {storage}")
        except SpecError as error:
            return failed(str(error))
        server = ScoringServer(folder, run.logs / f"serve-{model.name}.log")
        try:
            server.start()
            if service.folder.exists():
                shutil.rmtree(service.folder)
            columns, rows = feature_rows(run.system, model, _reference(run, model), sample=run.sample)
            requests = score_and_log(server, service, columns, rows, when, "undrifted")
        except ServingError as error:
            server.stop()
            return failed(f"{model.name} version {promotion.version} from {promotion.path}: {error}")
        except BaseException:
            server.stop()
            raise
        serving[model.name] = ServedModel(promotion, server, service, kserve_log)
        drawn = "the drift reference (training data)" if _reference(run, model) else "sample data"
        done.append(f"{model.name} version {promotion.version} at {server.url}: {len(rows)} rows of {drawn} in"
                    f" {requests} requests, logged ({service.protocol}) in {service.folder}")
    return _one("serve", StageStatus.PASSED, time.monotonic() - started, f"by {RUNTIME}; " + "; ".join(done),
                handover=Served(env, serving))


def stop_servers(served: Served) -> None:
    for model in served.models.values():
        model.server.stop()


# --- drift and retrain -------------------------------------------------------------------------


def _drift_result(log: Path) -> dict:
    """The check's result the drift task logged (`drift check: {...}`)."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    found = re.findall(r"drift check: (\{.*\})", text)
    try:
        return json.loads(found[-1]) if found else {}
    except ValueError:
        return {}


def _check(run, model, service, label: str, logical: dt.datetime) -> tuple[object, dict, dict, Path]:
    """The drift DAG run on the predictions logged in `service`'s folder."""
    log = run.logs / f"{model.drift_dag_id}.{label}.log"
    env = run.env({run.variable(model.name, "predictions"): str(service.folder) + "/"})
    result = run.home.dags_test(model.drift_dag_id, logical.isoformat(), env, log, progress=run.progress)
    return result, run.home.task_runs(model.drift_dag_id), _drift_result(log), log


def drift(run, served: Served | None) -> Step:
    from mlspec.local.serving import ServingError, score_and_log
    from mlspec.local.traffic import DRIFT_SHIFT, feature_rows

    started = time.monotonic()
    serving = served.models if served is not None else {}
    watched = [m for m in _served(run) if m.drift_dag_id and m.name in serving and serving[m.name].kserve_log]
    if not watched:
        why = "no served model has drift monitoring on KServe's log" if serving else "no model was served"
        return _one("drift", StageStatus.SKIPPED, 0.0, why)
    logical, when = traffic_time()
    done, queued = [], set()
    for model in watched:
        anchor = run.ws.where(("models", model.name, "monitoring"))
        file = f"airflow/dags/{model.drift_dag_id}.py"
        retrain_task = "trigger_retraining" if model.drift.on_drift == "retrain" else "alert_drift"
        service, server = serving[model.name].service, serving[model.name].server

        def failed(detail: str) -> Step:
            return _one("drift", StageStatus.FAILED, time.monotonic() - started, detail, file, anchor)

        result, runs, check, log = _check(run, model, service, "undrifted", logical)
        if result.returncode != 0 or (runs.get("no_action") and runs["no_action"].state != "success"):
            return failed(f"{model.drift_dag_id} on undrifted traffic: {error_line(result, log)}"
                          f" (drift share {check.get('drift_share')}; log: {log})")
        if not check.get("rows"):
            return failed(f"{model.drift_dag_id} compared no predictions: it read none of the logged traffic in"
                          f" {service.folder} (log: {log})")
        calm = check.get("drift_share")
        kept = run.logs / "traffic" / f"{model.name}-undrifted"
        if kept.exists():
            shutil.rmtree(kept)
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(service.folder), kept)
        try:
            columns, rows = feature_rows(run.system, model, _reference(run, model), shift=DRIFT_SHIFT,
                                         sample=run.sample)
            score_and_log(server, service, columns, rows, when, "drifted")
        except ServingError as error:
            return failed(f"scoring the drifted traffic: {error}")
        result, runs, check, log = _check(run, model, service, "drifted", logical)
        fired = runs.get(retrain_task)
        alerted = model.drift.on_drift != "retrain" and fired is not None and fired.state == "failed"
        if not (check.get("drift_detected") and fired is not None and (fired.state == "success" or alerted)):
            return failed(f"{model.drift_dag_id} on traffic moved {DRIFT_SHIFT} standard deviations: drift"
                          f" detected {check.get('drift_detected')} (share {check.get('drift_share')}, threshold"
                          f" {model.drift.max_drift_share}), `{retrain_task}`"
                          f" {fired.state if fired else 'not run'}: {error_line(result, log)} (log: {log})")
        if model.drift.on_drift == "retrain":
            queued.add(model.name)
        done.append(f"{model.name}: undrifted share {calm} (no action), drifted share {check.get('drift_share')}"
                    f" > {model.drift.max_drift_share}: {retrain_task}")
    return _one("drift", StageStatus.PASSED, time.monotonic() - started, "; ".join(done),
                handover=Drifted(frozenset(queued)))


def _triggered_run(run, model) -> tuple[str, dict] | None:
    """(run id, conf) of the training run the drift DAG queued, or None."""
    return next(((run_id, conf) for run_id, conf in run.home.run_confs(model.train_dag_id)
                 if conf.get("reason") == "drift"), None)


def retrain(run, drifted: Drifted | None) -> Step:
    started = time.monotonic()
    queued = drifted.retrain if drifted is not None else frozenset()
    models = [m for m in run.models if m.name in queued]
    if not models:
        return _one("retrain", StageStatus.SKIPPED, 0.0, "no drift check triggered retraining")
    done = []
    for model in models:
        anchor = run.ws.where(("models", model.name, "monitoring"))
        triggered = _triggered_run(run, model)
        if triggered is None:
            return _one("retrain", StageStatus.FAILED, time.monotonic() - started,
                        f"{model.drift_dag_id} reported `trigger_retraining` done, but Airflow has no run of"
                        f" {model.train_dag_id} with conf reason=drift", f"airflow/dags/{model.drift_dag_id}.py",
                        anchor)
        run_id, conf = triggered
        since = time.time()
        log = run.logs / f"{model.train_dag_id}.retrain.log"
        logical = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        result = run.home.dags_test(model.train_dag_id, logical.isoformat(), run.env(), log, conf=conf,
                                    progress=run.progress)
        runs = run.home.task_runs(model.train_dag_id)
        if result.returncode != 0 or not runs or any(r.state != "success" for r in runs.values()):
            return _one("retrain", StageStatus.FAILED, time.monotonic() - started,
                        f"{model.train_dag_id} (queued by the drift DAG as {run_id}): {error_line(result, log)}"
                        f" (log: {log})", f"airflow/dags/{model.train_dag_id}.py",
                        run.ws.where(("models", model.name)))
        checked = run.check_registered(model, since)
        if isinstance(checked, StageResult):
            return _one("retrain", StageStatus.FAILED, time.monotonic() - started, checked.detail, checked.file,
                        checked.spec_line)
        done.append(f"{model.train_dag_id}, queued by the drift DAG as {run_id} with conf"
                    f" {json.dumps(conf, sort_keys=True)}, run with that conf by `airflow dags test`: {checked}")
    return _one("retrain", StageStatus.PASSED, time.monotonic() - started, listed(done))
