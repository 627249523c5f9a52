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
(layout.monitored_environment). Each function returns {stage: StageResult}.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import time
from pathlib import Path

from mlspec.local.result import StageResult, StageStatus, error_line, listed


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


def promote(run) -> dict[str, StageResult]:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from mlspec.errors import MlspecError
    from mlspec.local.repos import make_repos, published_object
    from mlspec.ir.layout import deployment_path, monitored_environment

    started = time.monotonic()
    models = _served(run)
    if not models:
        return {"promote": StageResult("promote", StageStatus.SKIPPED, 0.0,
                                       "no model of the run has a `serving` section")}
    project = run.ws.project
    env = monitored_environment(project)
    if env is None:
        return {"promote": StageResult("promote", StageStatus.SKIPPED, 0.0,
                                       "the spec has no environments: nothing is deployed to promote into")}
    if run.deployer is None:
        return {"promote": StageResult("promote", StageStatus.SKIPPED, 0.0,
                                       "no deployer was given to the run (mlspec.local.repos.Deployer)")}
    said: list[str] = []
    try:
        repos = make_repos(run.ws.root, run.ws.spec, run.deployer, said.append)
    except MlspecError as error:
        return {"promote": StageResult("promote", StageStatus.FAILED, time.monotonic() - started,
                                       f"making the spec and deployments repositories: {_failure_text(error)}",
                                       None, str(run.ws.original))}
    run.environment = env
    client = MlflowClient(tracking_uri=run.ws.tracking_uri)
    done = []
    for model in models:
        anchor = run.ws.where(f"models.{model.name}.serving")
        try:
            version = client.get_model_version_by_alias(model.registry_name, model.registry_alias).version
            storage = client.get_model_version_download_uri(model.registry_name, version)
        except MlflowException as error:
            return {"promote": StageResult("promote", StageStatus.FAILED, time.monotonic() - started,
                                           f"MLflow has no version of {model.registry_name} with alias"
                                           f" `{model.registry_alias}` to promote: {error}", _isvc_file(model, env),
                                           anchor)}
        shown = f"mlspec promote {model.name} --env {env.name} --version {version} --commit --repo {repos.deployments}"
        try:
            run.deployer.promote(repos.spec, model.name, env.name, str(version), storage, repos.generated,
                                 str(repos.deployments), said.append)
        except MlspecError as error:
            return {"promote": StageResult("promote", StageStatus.FAILED, time.monotonic() - started,
                                           f"`{shown}` failed: {_failure_text(error)}", _isvc_file(model, env),
                                           anchor)}
        seconds = time.monotonic() - started
        found = published_object(repos, deployment_path(project, env), "InferenceService", model.inference_service)
        spec = ((found or ("", {}))[1].get("spec") or {}).get("predictor", {})
        served = (spec.get("model") or {}).get("storageUri")
        if found is None or served != storage:
            return {"promote": StageResult(
                "promote", StageStatus.FAILED, seconds,
                f"the deployments repository's InferenceService {model.inference_service} serves {served!r},"
                f" not version {version} ({storage}) that `{shown}` promoted", _isvc_file(model, env), anchor)}
        run.promoted[model.name] = (str(version), found)
        done.append(f"{model.name} version {version} ({repos.head(repos.spec_repo).split(' ', 1)[1]};"
                    f" deployments: {repos.head(repos.deployments).split(' ', 1)[0]} changed"
                    f" {', '.join(Path(p).name for p in repos.changed_files(repos.deployments))})")
    return {"promote": StageResult("promote", StageStatus.PASSED, time.monotonic() - started,
                                   f"in {env.name} through git ({repos.spec_repo}, {repos.deployments}): "
                                   + "; ".join(done))}


# --- serve ---------------------------------------------------------------------------------------


def logged_service(run, model, manifest: dict):
    """Where the published InferenceService's logger writes, as a folder of the work folder's
    store (its s3:// bucket is a folder there); models that log elsewhere get a traffic folder."""
    from mlspec.local.serving import LoggedService
    from mlspec.local.workspace import store_folder
    from mlspec.ir.layout import drift_predictions

    predictor = manifest["spec"]["predictor"]
    logger = predictor.get("logger") or {}
    location, kserve_log = drift_predictions(run.system, model, run.environment) if model.drift else ("", False)
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


def serve(run) -> dict[str, StageResult]:
    from mlspec.local.serving import RUNTIME, ScoringServer, ServingError, score_and_log
    from mlspec.local.traffic import feature_rows
    from mlspec.errors import SpecError
    from mlspec.local.workspace import inside, local_path

    started = time.monotonic()
    if not run.promoted:
        return {"serve": StageResult("serve", StageStatus.SKIPPED, 0.0, "no model was promoted")}
    done = []
    _, when = traffic_time()
    for model in _served(run):
        if model.name not in run.promoted:
            continue
        version, (path, manifest) = run.promoted[model.name]
        anchor = run.ws.where(f"models.{model.name}.serving")
        service, kserve_log = logged_service(run, model, manifest)
        storage = manifest["spec"]["predictor"]["model"]["storageUri"]
        try:  # MLflow's answer, published: served only from the work folder's MLflow artifacts
            served = inside(run.ws.mlflow_dir, local_path(storage), f"the model folder {storage}")
        except SpecError as error:
            return {"serve": StageResult("serve", StageStatus.FAILED, time.monotonic() - started, str(error),
                                         _isvc_file(model, run.environment), anchor)}
        server = ScoringServer(served, run.logs / f"serve-{model.name}.log")
        try:
            server.start()
            run.servers[model.name] = server
            if service.folder.exists():
                shutil.rmtree(service.folder)
            columns, rows = feature_rows(run.system, model, _reference(run, model), sample=run.sample)
            requests = score_and_log(server, service, columns, rows, when, "undrifted")
        except ServingError as error:
            server.stop()
            return {"serve": StageResult("serve", StageStatus.FAILED, time.monotonic() - started,
                                         f"{model.name} version {version} from {path}: {error}",
                                         _isvc_file(model, run.environment), anchor)}
        run.services[model.name] = (service, kserve_log)
        drawn = "the drift reference (training data)" if _reference(run, model) else "sample data"
        done.append(f"{model.name} version {version} at {server.url}: {len(rows)} rows of {drawn} in {requests}"
                    f" requests, logged ({service.protocol}) in {service.folder}")
    return {"serve": StageResult("serve", StageStatus.PASSED, time.monotonic() - started,
                                 f"by {RUNTIME}; " + "; ".join(done))}


def stop_servers(run) -> None:
    for server in run.servers.values():
        server.stop()
    run.servers.clear()


# --- drift and retrain -------------------------------------------------------------------------


def _drift_result(log: Path) -> dict:
    """The check's result the drift task logged (`drift check: {...}`)."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    found = re.findall(r"drift check: (\{.*\})", text)
    try:
        return json.loads(found[-1]) if found else {}
    except ValueError:
        return {}


def _check(run, model, label: str, logical: dt.datetime) -> tuple[object, dict, dict, Path]:
    service, _ = run.services[model.name]
    run.extra_env[run.variable(model.name, "predictions")] = str(service.folder) + "/"
    log = run.logs / f"{model.drift_dag_id}.{label}.log"
    result = run.home.dags_test(model.drift_dag_id, logical.isoformat(), run.env(), log, progress=run.progress)
    return result, run.home.task_runs(model.drift_dag_id), _drift_result(log), log


def drift(run) -> dict[str, StageResult]:
    from mlspec.local.serving import ServingError, score_and_log
    from mlspec.local.traffic import DRIFT_SHIFT, feature_rows

    started = time.monotonic()
    watched = [m for m in _served(run) if m.drift_dag_id and m.name in run.services and run.services[m.name][1]]
    if not watched:
        why = "no served model has drift monitoring on KServe's log" if run.services else "no model was served"
        return {"drift": StageResult("drift", StageStatus.SKIPPED, 0.0, why)}
    logical, when = traffic_time()
    done = []
    for model in watched:
        anchor = run.ws.where(f"models.{model.name}.monitoring")
        file = f"airflow/dags/{model.drift_dag_id}.py"
        retrain_task = "trigger_retraining" if model.drift.on_drift == "retrain" else "alert_drift"

        def failed(detail: str) -> dict[str, StageResult]:
            return {"drift": StageResult("drift", StageStatus.FAILED, time.monotonic() - started, detail, file, anchor)}

        result, runs, check, log = _check(run, model, "undrifted", logical)
        if result.returncode != 0 or (runs.get("no_action") and runs["no_action"].state != "success"):
            return failed(f"{model.drift_dag_id} on undrifted traffic: {error_line(result, log)}"
                          f" (drift share {check.get('drift_share')}; log: {log})")
        if not check.get("rows"):
            return failed(f"{model.drift_dag_id} compared no predictions: it read none of the logged traffic in"
                          f" {run.services[model.name][0].folder} (log: {log})")
        calm = check.get("drift_share")
        service, _ = run.services[model.name]
        kept = run.logs / "traffic" / f"{model.name}-undrifted"
        if kept.exists():
            shutil.rmtree(kept)
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(service.folder), kept)
        try:
            columns, rows = feature_rows(run.system, model, _reference(run, model), shift=DRIFT_SHIFT,
                                         sample=run.sample)
            score_and_log(run.servers[model.name], service, columns, rows, when, "drifted")
        except ServingError as error:
            return failed(f"scoring the drifted traffic: {error}")
        result, runs, check, log = _check(run, model, "drifted", logical)
        fired = runs.get(retrain_task)
        alerted = model.drift.on_drift != "retrain" and fired is not None and fired.state == "failed"
        if not (check.get("drift_detected") and fired is not None and (fired.state == "success" or alerted)):
            return failed(f"{model.drift_dag_id} on traffic moved {DRIFT_SHIFT} standard deviations: drift"
                          f" detected {check.get('drift_detected')} (share {check.get('drift_share')}, threshold"
                          f" {model.drift.max_drift_share}), `{retrain_task}`"
                          f" {fired.state if fired else 'not run'}: {error_line(result, log)} (log: {log})")
        if model.drift.on_drift == "retrain":
            run.retrain_queued.add(model.name)
        done.append(f"{model.name}: undrifted share {calm} (no action), drifted share {check.get('drift_share')}"
                    f" > {model.drift.max_drift_share}: {retrain_task}")
    return {"drift": StageResult("drift", StageStatus.PASSED, time.monotonic() - started, "; ".join(done))}


def _triggered_run(run, model) -> tuple[str, dict] | None:
    """(run id, conf) of the training run the drift DAG queued, or None."""
    return next(((run_id, conf) for run_id, conf in run.home.run_confs(model.train_dag_id)
                 if conf.get("reason") == "drift"), None)


def retrain(run) -> dict[str, StageResult]:
    started = time.monotonic()
    models = [m for m in run.models if m.name in run.retrain_queued]
    if not models:
        return {"retrain": StageResult("retrain", StageStatus.SKIPPED, 0.0, "no drift check triggered retraining")}
    done = []
    for model in models:
        anchor = run.ws.where(f"models.{model.name}.monitoring")
        triggered = _triggered_run(run, model)
        if triggered is None:
            return {"retrain": StageResult("retrain", StageStatus.FAILED, time.monotonic() - started,
                                           f"{model.drift_dag_id} reported `trigger_retraining` done, but Airflow has"
                                           f" no run of {model.train_dag_id} with conf reason=drift",
                                           f"airflow/dags/{model.drift_dag_id}.py", anchor)}
        run_id, conf = triggered
        since = time.time()
        log = run.logs / f"{model.train_dag_id}.retrain.log"
        logical = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        result = run.home.dags_test(model.train_dag_id, logical.isoformat(), run.env(), log, conf=conf,
                                    progress=run.progress)
        runs = run.home.task_runs(model.train_dag_id)
        if result.returncode != 0 or not runs or any(r.state != "success" for r in runs.values()):
            return {"retrain": StageResult("retrain", StageStatus.FAILED, time.monotonic() - started,
                                           f"{model.train_dag_id} (queued by the drift DAG as {run_id}):"
                                           f" {error_line(result, log)} (log: {log})",
                                           f"airflow/dags/{model.train_dag_id}.py",
                                           run.ws.where(f"models.{model.name}"))}
        checked = run.check_registered(model, since)
        if isinstance(checked, StageResult):
            return {"retrain": StageResult("retrain", StageStatus.FAILED, time.monotonic() - started, checked.detail,
                                           checked.file, checked.spec_line)}
        done.append(f"{model.train_dag_id}, queued by the drift DAG as {run_id} with conf"
                    f" {json.dumps(conf, sort_keys=True)}, run with that conf by `airflow dags test`: {checked}")
    return {"retrain": StageResult("retrain", StageStatus.PASSED, time.monotonic() - started, listed(done))}
