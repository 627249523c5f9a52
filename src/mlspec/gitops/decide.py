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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlspec.errors import ExternalError, UsageError

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
    from mlspec.targets.naming import analysis_run_name, iter8_experiment_name

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
        return api.get_namespaced_custom_object(kind.group, kind.version, namespace, kind.plural, name,
                                                _request_timeout=60)
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
    is not the analysis generated for it (another kind, name or namespace)."""
    kind, name = expected_analysis(env, model)
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    found = (obj.get("apiVersion"), obj.get("kind"), metadata.get("name"), metadata.get("namespace"))
    wanted = (kind.api_version, kind.kind, name, env.namespace)
    if found != wanted:
        raise UsageError(f"{source} is {_describe(found)}; the analysis of {model.name}'s canary in {env.name} is"
                         f" {_describe(wanted)}")
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
    version = str(annotations.get("mlspec.dev/model-version", ""))
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    if kind is ANALYSIS_RUN:
        result, verdict, reason = _judge_analysis_run(obj, status)
    else:
        result, verdict, reason = _judge_experiment(obj, status)
    return AnalysisResult(kind.kind, env.namespace, name, version, result, verdict, reason)


def _describe(identity) -> str:
    api_version, kind, name, namespace = identity
    return f"{api_version} {kind} {namespace}/{name}"


def _judge_analysis_run(obj: dict, status: dict) -> tuple[str, str, str]:
    phase = status.get("phase") or ""
    message = f" ({status['message']})" if isinstance(status.get("message"), str) and status["message"] else ""
    if phase == "Successful":
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        if spec.get("terminate"):
            return (f"Successful, terminated{message}", WAIT,
                    "the run was terminated before it finished, so it proves nothing; promote with"
                    " `mlspec promote --force` if a person decided so")
        return "Successful", PROMOTE, "every metric met the SLO"
    if phase in ("Failed", "Error"):
        return phase + message, ROLLBACK, ("a metric broke the SLO" if phase == "Failed"
                                           else "the analysis could not measure (a query or the provider failed)")
    if phase in ARGO_WAITING:
        return phase or "no status yet", WAIT, ("the analysis is still running" if phase != "Inconclusive" else
                                                "the analysis is inconclusive: a person decides (promote --force or"
                                                " rollback)")
    raise ExternalError(f"the AnalysisRun has phase `{phase}`, which Argo Rollouts does not write")


def _judge_experiment(obj: dict, status: dict) -> tuple[str, str, str]:
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    stage = status.get("stage") or "no status yet"

    def true(kind: str) -> bool:
        return (conditions.get(kind) or {}).get("status") == "True"

    if true("Failed"):
        detail = (conditions["Failed"].get("message") or conditions["Failed"].get("reason") or "").strip()
        return f"Failed{f' ({detail})' if detail else ''}", ROLLBACK, "the experiment failed"
    if true("Completed") or stage == "Completed":
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        info = spec.get("versionInfo") if isinstance(spec.get("versionInfo"), dict) else {}
        candidates = [c.get("name") for c in info.get("candidates") or [] if isinstance(c, dict)]
        recommended = status.get("versionRecommendedForPromotion")
        if recommended and recommended in candidates:
            return f"Completed, {recommended} recommended", PROMOTE, "the candidate met every objective"
        return (f"Completed, {recommended or 'the baseline'} recommended", ROLLBACK,
                "the candidate did not meet its objectives")
    return stage, WAIT, "the experiment is still running"


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
        message = (f"{result.title} judged version {result.version or '(unknown)'}, but version {version} is the one"
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
        raise UsageError(f"{result.title} judged version {result.version or '(unknown)'}, but version"
                         f" {canary_version(model)} is in canary in {env_name}")
    if result.verdict != PROMOTE:
        raise UsageError(f"{result.evidence}: {result.reason}; a canary is completed only after a successful"
                         " analysis (see `mlspec rollout decide`), or with --force")
    return result.evidence
