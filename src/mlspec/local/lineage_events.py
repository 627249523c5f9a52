"""OpenLineage events from `mlspec run --local` itself, collected in one file of the work
folder (`lineage/events.jsonl`, one RunEvent per line).

Three producers write there, all through openlineage-python's file transport (append mode):

- Airflow's OpenLineage provider, in every DAG run of the run (ingestion, Feast, training,
  drift): its START/COMPLETE events for each task with the inlets and outlets the generated DAGs
  declare (`mlspec.targets.lineage_names`), and the DAG runs' own events. The run switches it
  on with the settings of `airflow_env` (a file transport instead of the spec's Marquez).
- The training pipeline's steps. kfp's local runner runs them and emits nothing, so once the
  training DAG has run, this module describes each step that ran from what the run recorded:
  the compiled pipeline (which step read which artifact of which), the artifacts the local
  runner wrote under the pipeline root, and the version MLflow registered. Each step is one
  COMPLETE event of job `{pipeline name}.{step}` whose parent is the Airflow task that ran the
  pipeline (`{train DAG}.submit_pipeline`, its run id taken from the provider's own event).
  The register step's outputs are the registered model version, named
  (`mlflow://<tracking host>`, `models/<registered model>/<version>`), and the registered model
  as the DAGs name it; the first step reads what the training DAG declares it reads.
- The promotion: one COMPLETE event of job `deployment.<environment>.<model>` (the job
  `mlspec lineage emit` describes) reading the promoted model version and writing the
  InferenceService (`kserve.<environment>.<model>` in the system's namespace); and the serve
  stage: one of job `serving.<environment>.<model>` reading that InferenceService and writing
  the prediction log its logger fills, named as the drift DAG's inlet names it.

Dataset names follow https://openlineage.io/docs/spec/naming (lineage_names), so the file is
one graph from each source table to the registered model version and its deployment, which
`mlspec impact NODE --events FILE` walks.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from urllib.parse import urlparse

EVENTS = "lineage/events.jsonl"
PRODUCER = "https://mlspec.dev/run-local"
KFP_INTEGRATION = "KUBEFLOW_PIPELINES"


def events_file(workspace) -> Path:
    return workspace.root / EVENTS


def airflow_env(workspace) -> dict[str, str]:
    """The Airflow settings that switch the OpenLineage provider on, writing to the events file
    in the system's lineage namespace (the namespace the DAGs' jobs are named in)."""
    from mlspec.targets.lineage_names import job_namespace

    transport = {"type": "file", "log_file_path": str(events_file(workspace)), "append": True}
    return {
        "AIRFLOW__OPENLINEAGE__DISABLED": "False",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": job_namespace(workspace.system),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport, sort_keys=True),
    }


def start(run) -> set[str]:
    """A new run: an empty events file (a work folder's earlier run left its own). When it
    cannot be written, the first stage says so (`after`). Returns the set of pipeline roots whose
    steps have their events, for `after` to keep up to date."""
    path = events_file(run.ws)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")
    except OSError:
        pass
    return set()


def after(run, stages: tuple[str, ...], results: dict, handover=None, described: set[str] | None = None) -> None:
    """Once a group of stages has run (none failed): the events no tool emitted (pipeline steps after a
    training or retraining, the deployment after the promotion, the served traffic: `handover`
    is what the promote or serve stage handed over, a loop_stages.Promoted or Served). When the
    events file cannot be written (Airflow's provider only logs that), the group's last stage
    fails, naming the file: a run whose lineage is lost does not pass. `described`: see `start`."""
    from mlspec.local.result import StageStatus

    ran = [s for s in stages if results[s].status == StageStatus.PASSED]
    if not ran or any(results[s].status == StageStatus.FAILED for s in stages):
        return
    try:
        with open(events_file(run.ws), "a", encoding="utf-8"):
            pass
        if "train" in stages or "retrain" in stages:
            for model in run.models:
                describe_pipeline_runs(run, model, set() if described is None else described)
        models = {m.name: m for m in run.models}
        if "promote" in stages and handover is not None:
            for name, promoted in handover.models.items():
                if name in models:
                    describe_deployment(run, models[name], promoted.version, handover.environment)
        if "serve" in stages and handover is not None:
            for name, served in handover.models.items():
                if name in models:
                    describe_serving(run, models[name], served.kserve_log, handover.environment)
    except (OSError, RuntimeError) as error:  # the file transport raises RuntimeError
        import dataclasses

        last = ran[-1]
        results[last] = dataclasses.replace(
            results[last], status=StageStatus.FAILED, file=None, spec_line=None,
            detail=f"the run's OpenLineage events cannot be written to {events_file(run.ws)}: {error}")


def summary(run) -> dict | None:
    """What the report says of the events: where they are, how many of each producer (and how
    many lines are not JSON, which no producer should write)."""
    path = events_file(run.ws)
    if not path.exists():
        return None
    producers: dict[str, int] = {}
    events = read_events(path)
    for event in events:
        producers[str(event.get("producer", "?"))] = producers.get(str(event.get("producer", "?")), 0) + 1
    out = {"events": str(path), "format": "OpenLineage RunEvents, one JSON object per line", "producers": producers}
    unreadable = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()) - len(events)
    if unreadable:
        out["unreadable_lines"] = unreadable
    return out


def read_events(path: Path) -> list[dict]:
    """The JSON objects of the file's lines (a line that is not one is left out)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line) if line.strip() else None
        except ValueError:
            continue
        if isinstance(event, dict):
            out.append(event)
    return out


# --- naming ----------------------------------------------------------------------------------------


def mlflow_namespace(tracking_uri: str) -> str:
    """`mlflow://host:port` of the tracking server; a tracking store without a server (a SQLite
    file) is on this machine: `mlflow://localhost`."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return f"mlflow://{parsed.netloc.rsplit('@', 1)[-1]}"
    return "mlflow://localhost"


def model_version_dataset(run, model, version: str):
    from mlspec.targets.lineage_names import OLDataset

    return OLDataset(mlflow_namespace(run.ws.tracking_uri), f"models/{model.registry_name}/{version}")


# --- emitting ------------------------------------------------------------------------------------


def _client(run):
    import logging

    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.file import FileConfig, FileTransport

    logging.getLogger("openlineage").setLevel(logging.WARNING)  # "OpenLineageClient will use `file` transport"
    return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(events_file(run.ws)),
                                                                append=True)))


def _emit(run, job_name: str, inputs, outputs, when: dt.datetime, job_type: str, integration: str,
          parent: dict | None = None) -> None:
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import job_type_job, parent_run
    from openlineage.client.uuid import generate_new_uuid

    from mlspec.targets.lineage_names import job_namespace

    run_facets = {}
    if parent:
        root = parent.get("root")
        run_facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent["runId"]),
            job=parent_run.Job(namespace=parent["namespace"], name=parent["name"]),
            root=parent_run.Root(run=parent_run.RootRun(runId=root["run"]["runId"]),
                                 job=parent_run.RootJob(namespace=root["job"]["namespace"],
                                                        name=root["job"]["name"])) if root else None)
    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=when.astimezone(dt.timezone.utc).isoformat(),
        run=Run(runId=str(generate_new_uuid(when)), facets=run_facets),
        job=Job(namespace=job_namespace(run.system), name=job_name,
                facets={"jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration=integration,
                                                                 jobType=job_type)}),
        inputs=[InputDataset(namespace=d.namespace, name=d.name) for d in inputs],
        outputs=[OutputDataset(namespace=d.namespace, name=d.name) for d in outputs],
        producer=PRODUCER,
    )
    _client(run).emit(event)


def _airflow_task_run(run, job_name: str, folder: str | None = None) -> dict | None:
    """The provider's last COMPLETE event of an Airflow task (of the DAG run whose run id
    `run_pipeline_locally` named the pipeline root `folder` after, when given): {"runId",
    "namespace", "name", "root"} of its run, for a child's ParentRunFacet, and the "inputs" it
    declared."""
    from mlspec.targets import lineage_names as names
    from mlspec.targets.lineage_names import job_namespace

    found = None
    path = events_file(run.ws)
    if not path.exists():
        return None
    for event in read_events(path):
        job = event.get("job") or {}
        if job.get("name") == job_name and event.get("eventType") == "COMPLETE" \
                and job.get("namespace") == job_namespace(run.system):
            dag_run = ((event.get("run", {}).get("facets") or {}).get("airflow") or {}).get("dagRun") or {}
            if folder is None or re.sub(r"[^A-Za-z0-9_.-]", "_", str(dag_run.get("run_id"))) == folder:
                found = event
    if found is None:
        return None
    parent = (found.get("run", {}).get("facets") or {}).get("parent") or {}
    root = None
    if parent.get("run") and parent.get("job"):  # the task's DAG run: the pipeline steps' root
        root = {"run": {"runId": parent["run"]["runId"]}, "job": parent["job"]}
    return {"runId": found["run"]["runId"], "namespace": found["job"]["namespace"], "name": job_name,
            "root": root, "inputs": [names.OLDataset(d["namespace"], d["name"]) for d in found.get("inputs") or []]}


def describe_pipeline_runs(run, model, described: set[str]) -> None:
    """An event per step of each pipeline run of `model` not described yet (a retraining makes
    a second run; `described` holds the pipeline roots done, and gets this one), read from the
    compiled pipeline, the local runner's pipeline root and MLflow."""
    from mlspec.ir.layout import pipeline_source_path

    base = run.ws.root / "kfp" / run.system.name / model.name
    if not base.is_dir():
        return
    package = run.ws.system_dir / re.sub(r"\.py$", ".yaml", pipeline_source_path(model))
    if not package.exists():
        return
    import yaml

    # the pipeline spec, then (when steps set Kubernetes options) its platform spec
    pipeline = next(yaml.safe_load_all(package.read_text(encoding="utf-8")))
    for root in sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime):
        if str(root) in described:
            continue
        runs = [p for p in root.iterdir() if p.is_dir()]
        if not runs:
            continue
        _describe_steps(run, model, pipeline, max(runs, key=lambda p: p.stat().st_mtime))
        described.add(str(root))


def _step_output(folder: Path, name: str) -> str | None:
    """A parameter a step returned, as the local runner recorded it (executor_output.json)."""
    try:
        recorded = json.loads((folder / "executor_output.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = (recorded.get("parameterValues") or {}).get(name)
    return None if value is None else str(value)


def _finished(folder: Path) -> dt.datetime:
    """When a step finished: its executor output's time (the last file the runner writes)."""
    done = folder / "executor_output.json"
    return dt.datetime.fromtimestamp((done if done.exists() else folder).stat().st_mtime, dt.timezone.utc)


def _describe_steps(run, model, pipeline: dict, folder: Path) -> None:
    """One COMPLETE event per step that ran in `folder` (the local runner's run folder: one
    folder per step, holding the artifacts it wrote)."""
    from mlspec.targets import lineage_names as names

    tasks = (pipeline.get("root") or {}).get("dag", {}).get("tasks", {})
    components = pipeline.get("components") or {}
    pipeline_name = (pipeline.get("pipelineInfo") or {}).get("name", model.name)
    ran = {p.name: p for p in folder.iterdir() if p.is_dir()}

    def artifact(task: str, key: str):
        path = ran.get(task, folder / task) / key
        return names.of_uri(str(path.resolve()))

    # the version the register step returned (registered in MLflow by that step)
    version = _step_output(ran["register-model"], "version") if "register-model" in ran else None
    parent = _airflow_task_run(run, f"{model.train_dag_id}.submit_pipeline", folder.parent.name) \
        or _airflow_task_run(run, f"{model.train_dag_id}.submit_pipeline")
    reference = run.env().get(run.variable(model.name, "reference_uri"))
    for task, spec in sorted((t for t in tasks.items() if t[0] in ran), key=lambda t: _finished(ran[t[0]])):
        inputs = [artifact(a["taskOutputArtifact"]["producerTask"], a["taskOutputArtifact"]["outputArtifactKey"])
                  for a in ((spec.get("inputs") or {}).get("artifacts") or {}).values() if "taskOutputArtifact" in a]
        component = components.get((spec.get("componentRef") or {}).get("name", ""), {})
        produced = ((component.get("outputDefinitions") or {}).get("artifacts") or {})
        # the artifacts it wrote as files (a Metrics artifact is only metadata in the executor output)
        outputs = [artifact(task, key) for key in sorted(produced) if (ran[task] / key).exists()]
        if task == "load-training-data":  # what the training DAG's task declared the pipeline reads
            declared = parent["inputs"] if parent else names.training_inputs(run.system, model)
            inputs = list(declared) + inputs
        if task == "register-model" and version:
            outputs += [model_version_dataset(run, model, version), names.model_dataset(run.system, model)]
            if reference and Path(reference).exists() and model.drift_reference:
                # the training data snapshot, named as the drift DAG's inlet names it (the
                # run writes it to a folder of its store instead: LocalRun.env)
                account = run.system.platform.azure.account if run.system.platform.azure else None
                outputs.append(names.of_uri(model.drift_reference, account))
        if task in ("write-model-card", "set-alias") and version:
            inputs.append(model_version_dataset(run, model, version))
        _emit(run, f"{pipeline_name}.{task}", tuple(dict.fromkeys(inputs)), tuple(dict.fromkeys(outputs)),
              _finished(ran[task]),
              "TASK", KFP_INTEGRATION, parent)


def describe_deployment(run, model, version: str, env) -> None:
    """The promotion into `env` (the IREnvironment): the model version -> the InferenceService the
    deployments repository holds."""
    from mlspec.targets import lineage_names as names

    _emit(run, f"deployment.{env.name}.{model.name}", (model_version_dataset(run, model, version),),
          (names.deployment_dataset(run.system, env.name, model),), dt.datetime.now(dt.timezone.utc),
          "DEPLOYMENT", "KSERVE")


def describe_serving(run, model, drift_reads: bool, env) -> None:
    """The InferenceService served in `env`: its logger writes the prediction log the drift DAG
    reads (named as that DAG's inlet is), when it logs there."""
    from mlspec.ir.layout import drift_predictions
    from mlspec.targets import lineage_names as names

    logged = ()
    if drift_reads and model.drift is not None:
        location, _ = drift_predictions(run.system, model, env)
        account = run.system.platform.azure.account if run.system.platform.azure else None
        logged = (names.of_uri(location, account),)
    _emit(run, f"serving.{env.name}.{model.name}", (names.deployment_dataset(run.system, env.name, model),), logged,
          dt.datetime.now(dt.timezone.utc), "SERVING", "KSERVE")
