"""rollout decide: the canary's analysis result becomes a promotion or a rollback, in git.

KServe promotes nothing by itself and Argo Rollouts' controller only runs a standalone
AnalysisRun (Iter8 only runs its Experiment): someone must read the result and act. This
reads the object the rollout target generated for the model and environment (the
AnalysisRun named for the version in canary, or the Iter8 Experiment), from the cluster
through the Kubernetes API or from a file as `kubectl get ... -o json` prints it, and maps
its result to a spec edit made by `promote.py`'s machinery:

    Argo Rollouts AnalysisRun `status.phase`   Iter8 v2alpha2 Experiment `status`
    Successful            -> promote           condition Completed=True and
                                               versionRecommendedForPromotion = the candidate -> promote
    Failed, Error         -> roll back         condition Failed=True, or completed recommending
                                               the baseline -> roll back
    Pending, Running,     -> no change         anything else (Waiting, Initializing, Running,
    Inconclusive, none                         Finishing, no status yet) -> no change

An object for another version than the one in canary (not synced yet) changes nothing; an
AnalysisRun that was terminated by hand is not taken as a success.

Whoever can create or patch these objects writes what is read here, so a verdict needs its
evidence and the object must be the one compiled for the version (gitops/analysis_docs.py
type-checks every field read): an AnalysisRun's metrics are exactly the ones
`targets.rollout.analysis_metrics` compiles for the model in the environment, `Successful`
promotes only with a successful measurement of each, `Failed`/`Error` rolls back only with a
compiled metric that failed or errored; an Experiment's objectives and candidate are the
compiled ones, and its recommendation of the candidate promotes only when the candidate's
version assessments (one boolean per objective) are all true. Anything else is a UsageError
saying why, and nothing is decided. The decision is then bound to what was judged when it is
pushed (gitops/spec_commit.replan).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlspec.errors import ExternalError, UsageError
from mlspec.gitops.analysis_docs import quoted

PROMOTE, ROLLBACK, WAIT = "promote", "rollback", "wait"


@dataclass(frozen=True)
class AnalysisKind:
    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


ANALYSIS_RUN = AnalysisKind("argoproj.io", "v1alpha1", "analysisruns", "AnalysisRun")
ITER8_EXPERIMENT = AnalysisKind("iter8.tools", "v2alpha2", "experiments", "Experiment")
ARGO_WAITING = ("Pending", "Running", "Inconclusive", "")


@dataclass(frozen=True)
class AnalysisResult:
    kind: str
    namespace: str
    name: str
    version: str  # the model version the analysis judged (its mlspec.dev/model-version annotation)
    result: str  # the phase or outcome, as the controller wrote it
    verdict: str  # promote, rollback or wait
    reason: str  # one line a person can act on

    @property
    def title(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def evidence(self) -> str:
        return f"{self.title}: {self.result}"


def expected_analysis(env, model) -> tuple[AnalysisKind, str]:
    """The kind and name of the analysis object generated for the model's canary."""
    from mlspec.ir.layout import analysis_run_name, iter8_experiment_name

    if model.rollout.backend == "iter8":
        return ITER8_EXPERIMENT, iter8_experiment_name(model)
    return ANALYSIS_RUN, analysis_run_name(model)


def canary_version(model) -> str:
    return model.serving.model_version or "latest"


# --- reading the object ---------------------------------------------------------------------


def load_analysis_file(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not the JSON `kubectl get ... -o json` prints: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} holds no Kubernetes object")
    return data


def read_from_cluster(kind: AnalysisKind, namespace: str, name: str) -> dict | None:
    """The object through the Kubernetes API (in-cluster config, else the kubeconfig); None
    when it does not exist (yet)."""
    try:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException
    except ImportError:  # pragma: no cover - kfp, a dependency, installs it
        raise ExternalError("reading the analysis from the cluster needs the `kubernetes` package;"
                            " or pass --analysis FILE") from None
    try:
        config.load_incluster_config()
    except ConfigException:
        try:
            config.load_kube_config()
        except (ConfigException, OSError) as exc:
            raise ExternalError(f"no Kubernetes configuration (in-cluster or kubeconfig): {exc}") from None
    api = client.CustomObjectsApi()
    try:
        found = api.get_namespaced_custom_object(kind.group, kind.version, namespace, kind.plural, name,
                                                 _request_timeout=60)
        if not isinstance(found, dict):
            raise ExternalError(f"reading {kind.kind} {namespace}/{name} gave no Kubernetes object")
        return found
    except client.exceptions.ApiException as exc:
        if exc.status == 404:
            return None
        raise ExternalError(f"reading {kind.kind} {namespace}/{name} failed: {exc.status} {exc.reason}") from None
    except Exception as exc:  # urllib3's connection errors and the like
        if type(exc).__module__.startswith(("urllib3", "kubernetes", "socket", "ssl")) or isinstance(exc, OSError):
            raise ExternalError(f"reading {kind.kind} {namespace}/{name} failed: {exc}") from None
        raise


# --- judging it ---------------------------------------------------------------------------------


def judge(obj: dict, env, model, source: str) -> AnalysisResult:
    """The object's result for the model's canary in `env`. Raises UsageError when the object
    is not the analysis generated for it (another kind, name or namespace, metrics other than
    the ones compiled for it, a field of the wrong type), or when its verdict lacks the
    evidence it needs (a success without a successful measurement of every compiled metric)."""
    from mlspec.gitops.analysis_docs import read_identity

    kind, name = expected_analysis(env, model)
    identity = read_identity(obj, source)
    found = (identity.api_version, identity.kind, identity.name, identity.namespace)
    wanted = (kind.api_version, kind.kind, name, env.namespace)
    if found != wanted:
        raise UsageError(f"{source} is {_describe(found)}; the analysis of {model.name}'s canary in {env.name} is"
                         f" {_describe(wanted)}")
    version = identity.annotations.get("mlspec.dev/model-version", "")
    where = f"{source} ({kind.kind} {env.namespace}/{name})"
    if kind is ANALYSIS_RUN:
        result, verdict, reason = _judge_analysis_run(obj, env, model, where)
    else:
        result, verdict, reason = _judge_experiment(obj, env, model, where)
    return AnalysisResult(kind.kind, env.namespace, name, version, result, verdict, reason)


def _describe(identity) -> str:
    api_version, kind, name, namespace = (quoted(str(part), 100) for part in identity)
    return f"{api_version} {kind} {namespace}/{name}"


def _names(names) -> str:
    return ", ".join(f"`{quoted(n, 100)}`" for n in names) or "none"


def _refuse(where: str, problem: str) -> UsageError:
    return UsageError(f"{where}: {problem}; nothing was decided (a person decides: `mlspec promote --force` or"
                      " `mlspec rollback`)")


def _judge_analysis_run(obj: dict, env, model, where: str) -> tuple[str, str, str]:
    from mlspec.gitops.analysis_docs import read_analysis_run
    from mlspec.targets.rollout import analysis_metrics

    run = read_analysis_run(obj, where)
    compiled = [metric["name"] for metric in analysis_metrics(env, model)]
    version = canary_version(model)
    if sorted(run.metrics) != sorted(compiled):
        raise _refuse(where, f"its metrics ({_names(run.metrics)}) are not the ones mlspec compiled for {model.name}"
                             f" version {quoted(version)} in {env.name} ({_names(compiled)})")
    phase = run.phase
    message = f" ({quoted(run.message)})" if run.message else ""
    if phase == "Successful":
        if run.terminate:
            return (f"Successful, terminated{message}", WAIT,
                    "the run was terminated before it finished, so it proves nothing; promote with"
                    " `mlspec promote --force` if a person decided so")
        results = [r.name for r in run.results]
        if sorted(results) != sorted(compiled):
            raise _refuse(where, f"it says Successful, but its metric results ({_names(results)}) are not one for"
                                 f" each metric compiled ({_names(compiled)})")
        unproven = [r.name for r in run.results
                    if r.phase != "Successful" or "Successful" not in r.measurement_phases]
        if unproven:
            raise _refuse(where, f"it says Successful, but metric {_names(unproven)} has no successful measurement")
        return "Successful", PROMOTE, "every metric met the SLO"
    if phase in ("Failed", "Error"):
        failing = [r.name for r in run.results if r.name in compiled and r.phase in ("Failed", "Error")
                   and any(p in ("Failed", "Error") for p in r.measurement_phases)]
        if not failing:
            raise _refuse(where, f"it says {phase}, but no metric compiled for it ({_names(compiled)}) has a failed"
                                 " or erroneous measurement")
        return phase + message, ROLLBACK, ("a metric broke the SLO" if phase == "Failed"
                                           else "the analysis could not measure (a query or the provider failed)")
    if phase in ARGO_WAITING:
        return phase or "no status yet", WAIT, ("the analysis is still running" if phase != "Inconclusive" else
                                                "the analysis is inconclusive: a person decides (promote --force or"
                                                " rollback)")
    raise _refuse(where, f"it has phase `{quoted(phase, 100)}`, which Argo Rollouts does not write")


def _judge_experiment(obj: dict, env, model, where: str) -> tuple[str, str, str]:
    from mlspec.gitops.analysis_docs import read_experiment
    from mlspec.targets.rollout import iter8_experiment

    experiment = read_experiment(obj, where)
    compiled_spec = iter8_experiment(env, model)["spec"]
    objectives = [o["metric"] for o in compiled_spec["criteria"]["objectives"]]
    candidates = [c["name"] for c in compiled_spec["versionInfo"]["candidates"]]
    if list(experiment.objectives) != objectives:
        raise _refuse(where, f"its objectives ({_names(experiment.objectives)}) are not the ones mlspec compiled for"
                             f" {model.name} in {env.name} ({_names(objectives)})")
    if list(experiment.candidates) != candidates:
        raise _refuse(where, f"its candidates ({_names(experiment.candidates)}) are not the one mlspec compiled"
                             f" ({_names(candidates)})")
    conditions, stage = experiment.conditions, experiment.stage or "no status yet"

    def true(kind: str) -> bool:
        return kind in conditions and conditions[kind].status == "True"

    if true("Failed"):
        detail = (conditions["Failed"].message or conditions["Failed"].reason).strip()
        return f"Failed{f' ({quoted(detail)})' if detail else ''}", ROLLBACK, "the experiment failed"
    if true("Completed") or stage == "Completed":
        recommended = experiment.recommended
        if recommended and recommended in candidates:
            met = (experiment.assessments or {}).get(recommended)
            if met is None or len(met) != len(objectives) or not all(met):
                raise _refuse(where, f"it recommends {quoted(recommended, 100)}, but its version assessments do not"
                                     f" show that version meeting each of its {len(objectives)} objectives")
            return f"Completed, {quoted(recommended, 100)} recommended", PROMOTE, "the candidate met every objective"
        return (f"Completed, {quoted(recommended, 100) if recommended else 'the baseline'} recommended", ROLLBACK,
                "the candidate did not meet its objectives")
    return quoted(stage, 100), WAIT, "the experiment is still running"


# --- the decision -------------------------------------------------------------------------------


@dataclass
class Decision:
    result: AnalysisResult | None  # None: no analysis object yet
    promotion: object | None  # promote.Promotion, or None when nothing is to change (no recompile)
    message: str


def find_target(unit, model_name: str, env_name: str):
    """(environment, model) of the spec; a UsageError when the model has no canary rollout."""
    from mlspec.gitops.promote import _environment, _model

    env = _environment(unit.project, env_name, unit.path)
    model = _model(env, model_name, unit.path)
    if model.serving is None or model.rollout is None:
        raise UsageError(f"model `{model_name}` has no `rollout` section in {env_name}: there is no canary"
                         " analysis to decide on")
    return env, model


def decide(unit, model_name: str, env_name: str, analysis: dict | None, source: str,
           from_cluster: bool = False) -> Decision:
    """What the analysis (`None`: not found in the cluster) means for the spec. An object from
    the cluster for another version is one not synced yet (no change); from a file, a mistake."""
    from mlspec.gitops.promote import plan_complete_canary, plan_rollback

    env, model = find_target(unit, model_name, env_name)
    kind, name = expected_analysis(env, model)
    version, phase = canary_version(model), model.rollout.phase
    if analysis is None:
        return Decision(None, None, f"no {kind.kind} {env.namespace}/{name} yet (not synced, or not started):"
                                    f" {model_name} version {version} stays in {phase} in {env_name}")
    result = judge(analysis, env, model, source)
    if result.version != version:
        message = (f"{result.title} judged version {quoted(result.version, 100) or '(unknown)'}, but version {version}"
                   " is the one"
                   f" in {phase} in {env_name}")
        if not from_cluster:
            raise UsageError(message)
        return Decision(result, None, message + " (not synced yet): no change")
    if result.verdict == WAIT:
        return Decision(result, None, f"{result.evidence}: {result.reason}; {model_name} version {version} stays in"
                                      f" canary in {env_name}")
    wanted = "promoted" if result.verdict == PROMOTE else "rolledBack"
    if phase != "canary" and phase != wanted:
        return Decision(result, None, f"{result.evidence}, but the spec already says `{phase}` for {model_name} in"
                                      f" {env_name} (a person decided): no change")
    if result.verdict == PROMOTE:
        promotion = plan_complete_canary(unit, model_name, env_name, result.evidence)
    else:
        promotion = plan_rollback(unit, model_name, env_name, evidence=result.evidence)
    return Decision(result, promotion, f"{result.evidence}: {result.reason}")


def completion_evidence(unit, model_name: str, env_name: str, analysis_file: str | None, force: bool) -> str | None:
    """What lets `mlspec promote` complete a canary: a successful analysis of the version in
    canary (`--analysis FILE`) or `--force`; None when neither was given."""
    if analysis_file is not None and force:
        raise UsageError("give --analysis or --force, not both")
    if force:
        return "forced with --force, without a successful analysis"
    if analysis_file is None:
        return None
    env, model = find_target(unit, model_name, env_name)
    result = judge(load_analysis_file(analysis_file), env, model, analysis_file)
    if result.version != canary_version(model):
        raise UsageError(f"{result.title} judged version {quoted(result.version, 100) or '(unknown)'}, but version"
                         f" {canary_version(model)} is in canary in {env_name}")
    if result.verdict != PROMOTE:
        raise UsageError(f"{result.evidence}: {result.reason}; a canary is completed only after a successful"
                         " analysis (see `mlspec rollout decide`), or with --force")
    return result.evidence
