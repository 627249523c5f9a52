"""promote / rollback: change the spec itself, as a reviewed one-value diff.

The spec is the source of truth, so a promotion is an edit of the spec (then a compile and,
when asked, a publish), never a change to generated files or to the cluster:

- promoting a NEW version sets `serving.storageUri` (the version's storage folder, from
  MLflow's `get_model_version_download_uri`) and `serving.modelVersion`, and starts a
  canary (`rollout.phase: canary`) when the model has a rollout section;
- promoting the version that is in canary completes it (`rollout.phase: promoted`: KServe
  drops the traffic split and serves only the new revision), given the evidence that allows
  it: a successful analysis of that version (`gitops/decide.py`) or a person's `--force`;
  without it the canary stays on and the promotion says what it waits for;
- rollback sets `rollout.phase: rolledBack` (`canaryTrafficPercent: 0`: all traffic back
  on the previous revision).

In KServe's Standard mode (`serving.mode: standard`) the same phases take the shape of
`spec.canary` (targets/kserve.py): a canary started after a promoted version records that
version as `rollout.stable`, which stays the predictor beside the canary; completing the canary
makes the canary's model the predictor and removes the canary; a rollback removes the canary
and needs a `rollout.stable` to return to.

When the spec has environments the values go into that environment's `overrides` (one
dotted key each, or inside an override that already covers them), so other environments
keep what they serve. Edits are spliced into the text (`yaml_edit`): the diff is exactly
the changed values. The edited spec is validated, and the effective values of every
environment re-checked, before it replaces the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mlspec.compiler.session import SpecUnit, load_text, load_unit
from mlspec.errors import ExternalError, MlspecError, SpecError, UsageError
from mlspec.source.yaml_edit import EditError, mapping_items, set_value


@dataclass
class Promotion:
    spec_file: Path
    model: str
    env: str
    old_text: str
    new_text: str
    summary: str
    changes: dict[tuple[str, ...], object] = field(default_factory=dict)  # model-relative path -> value
    evidence: str | None = None  # what decided a canary's end: the analysis and its result, or --force
    awaiting_analysis: bool = False  # the version is in canary and nothing allowed completing it
    version: str | None = None  # the model version concerned

    @property
    def changed(self) -> bool:
        return self.new_text != self.old_text


# --- reading the spec ------------------------------------------------------------------------


def load_checked(spec_file: Path, out_root: Path = Path("generated")) -> SpecUnit:
    """The spec through the front end; a SpecError carrying its diagnostics when it has errors."""
    unit = load_unit(spec_file, out_root)
    if not unit.ok:
        raise SpecError(f"{spec_file} has errors; the spec was not changed", [unit])
    return unit


def _environment(project, env_name: str, spec_file: Path):
    from mlspec.diagnostics import did_you_mean

    for env in project.environments:
        if env.name == env_name:
            return env
    names = [e.name for e in project.environments]
    raise UsageError(f"{spec_file} has no environment `{env_name}`; " + (did_you_mean(env_name, names) or
                     "it defines none (and serves no model)"))


def _model(env, name: str, spec_file: Path):
    from mlspec.diagnostics import did_you_mean

    for model in env.system.models:
        if model.name == name:
            return model
    raise UsageError(f"{spec_file} has no model `{name}`; " + did_you_mean(name, [m.name for m in env.system.models]))


def find_spec_for_model(model: str, folder: Path = Path("specs")) -> Path:
    """The one spec under `folder` that defines `model`."""
    from mlspec.source.files import expand_spec_paths
    from mlspec.source.loader import load_spec_file

    files, _ = expand_spec_paths([str(folder)]) if folder.is_dir() else ([], [])
    found = []
    for path in files:
        source, _ = load_spec_file(path)
        models = (source.data or {}).get("models") if source and isinstance(source.data, dict) else None
        if isinstance(models, dict) and model in models:
            found.append(path)
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(f"no spec under {folder}/ defines model `{model}`; name it with --spec")
    raise UsageError(f"several specs define model `{model}` ({', '.join(map(str, found))}); choose one with --spec")


# --- MLflow -------------------------------------------------------------------------------------


def resolve_model_version(tracking_uri: str, registry_name: str, version: str | None, alias: str | None
                          ) -> tuple[str, str]:
    """(version, storage folder) of a registered model version, asking MLflow."""
    from mlspec.gitops import mlflow_registry

    if alias is not None:
        version = mlflow_registry.version_by_alias(tracking_uri, registry_name, alias)
    uri = mlflow_registry.download_uri(tracking_uri, registry_name, str(version))
    if uri.startswith(("mlflow-artifacts:", "models:", "runs:")):
        raise ExternalError(
            f"MLflow gives `{uri}` as the storage of {registry_name} version {version}, which KServe cannot read;"
            " run the MLflow server with an object-store artifact root (e.g. `--default-artifact-root"
            " s3://mlflow-artifacts --no-serve-artifacts`), or pass --storage-uri")
    return str(version), uri


def tracking_uri_for(env, explicit: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    mlflow = env.system.platform.mlflow
    if mlflow is None:
        raise UsageError("no MLflow tracking URI: set platform.mlflow.trackingUri, MLFLOW_TRACKING_URI or"
                         " --tracking-uri (or pass --storage-uri with --version)")
    return mlflow.tracking_uri


# --- planning the edit ---------------------------------------------------------------------------


def plan_promote(unit: SpecUnit, model_name: str, env_name: str, version: str | None, alias: str | None,
                 storage_uri: str | None, tracking_uri: str | None, completion: str | None = None) -> Promotion:
    """The edit that serves `version` in the environment. Completing the canary of the version
    already in it needs `completion`, the evidence that allows it (a successful analysis, or
    --force); without it nothing changes and the promotion is marked `awaiting_analysis`."""
    spec_file = unit.path
    env = _environment(unit.project, env_name, spec_file)
    model = _model(env, model_name, spec_file)
    if model.serving is None:
        raise UsageError(f"model `{model_name}` has no `serving` section: there is nothing to promote")
    if storage_uri is None:
        version, storage_uri = resolve_model_version(tracking_uri_for(env, tracking_uri), model.registry_name,
                                                     version, alias)
    serving, rollout = model.serving, model.rollout
    changes: dict[tuple[str, ...], object] = {}
    if serving.model_version == version and serving.storage_uri == storage_uri:
        if rollout is None:
            summary = f"{model_name} version {version} already serves in {env_name}"
        elif rollout.phase == "canary":
            if completion is None:
                promotion = _edit(unit, model_name, env_name, {},
                                  f"{model_name} version {version} is in canary in {env_name}: completing it needs a"
                                  " successful analysis (`mlspec rollout decide`, or --analysis FILE) or --force")
                promotion.awaiting_analysis = True
                promotion.version = str(version)
                return promotion
            return plan_complete_canary(unit, model_name, env_name, completion)
        elif rollout.phase == "promoted":
            summary = f"{model_name} version {version} is already promoted in {env_name}"
        else:
            changes[("rollout", "phase")] = "canary"
            summary = f"{model_name} version {version}: canary restarted in {env_name} after a rollback"
    else:
        if serving.storage_uri != storage_uri:
            changes[("serving", "storageUri")] = storage_uri
        if serving.model_version != version:
            changes[("serving", "modelVersion")] = str(version)
        if rollout is not None:
            if rollout.phase != "canary":
                changes[("rollout", "phase")] = "canary"
            changes.update(_stable_changes(serving, rollout))
            summary = (f"{model_name} version {version}: canary started in {env_name}"
                       f" ({rollout.canary_traffic_percent}% of traffic)")
            if serving.mode == "standard":
                stable = changes.get(("rollout", "stable", "storageUri"), rollout.stable_storage_uri)
                summary += (f", beside the stable version {_stable_version(changes, rollout)}" if stable else
                            ", serving alone: there is no stable version yet")
        else:
            summary = f"{model_name} version {version} now serves in {env_name}"
    promotion = _edit(unit, model_name, env_name, changes, summary)
    promotion.version = str(version)
    return promotion


def _stable_changes(serving, rollout) -> dict[tuple[str, ...], object]:
    """Standard mode: starting a canary after a promoted version makes that version the stable
    predictor (`rollout.stable`), which keeps serving beside the canary (`spec.canary`) and which a
    rollback returns to. After a canary that never completed (in canary or rolled back) the
    stable version stays; Knative mode keeps the previous revision itself."""
    if serving.mode != "standard" or rollout.phase != "promoted" or serving.storage_uri is None:
        return {}
    changes: dict[tuple[str, ...], object] = {}
    if rollout.stable_storage_uri != serving.storage_uri:
        changes[("rollout", "stable", "storageUri")] = serving.storage_uri
    if serving.model_version is not None and rollout.stable_model_version != serving.model_version:
        changes[("rollout", "stable", "modelVersion")] = str(serving.model_version)
    return changes


def _stable_version(changes: dict, rollout) -> str:
    return str(changes.get(("rollout", "stable", "modelVersion"), rollout.stable_model_version or "?"))


def plan_complete_canary(unit: SpecUnit, model_name: str, env_name: str, evidence: str) -> Promotion:
    """End the canary of the version in it: `rollout.phase: promoted`, for the reason `evidence`
    (the analysis and its result, or a person's --force)."""
    env = _environment(unit.project, env_name, unit.path)
    model = _model(env, model_name, unit.path)
    if model.serving is None or model.rollout is None:
        raise UsageError(f"model `{model_name}` has no `rollout` section: there is no canary to complete")
    version = model.serving.model_version or "latest"
    if model.rollout.phase == "promoted":
        promotion = _edit(unit, model_name, env_name, {}, f"{model_name} version {version} is already promoted in"
                                                          f" {env_name}")
    elif model.rollout.phase != "canary":
        raise UsageError(f"{model_name} is `{model.rollout.phase}` in {env_name}, not in canary: promote a version"
                         " to start a canary")
    else:
        promotion = _edit(unit, model_name, env_name, {("rollout", "phase"): "promoted"},
                          f"{model_name} version {version}: canary completed, promoted in {env_name} ({evidence})")
    promotion.evidence, promotion.version = evidence, version
    return promotion


def plan_rollback(unit: SpecUnit, model_name: str, env_name: str, evidence: str | None = None) -> Promotion:
    env = _environment(unit.project, env_name, unit.path)
    model = _model(env, model_name, unit.path)
    if model.serving is None or model.rollout is None:
        raise UsageError(f"model `{model_name}` has no `rollout` section: without a canary KServe keeps no"
                         " previous revision to send traffic back to; promote the previous version instead")
    version = model.serving.model_version or "latest"
    if model.rollout.phase == "rolledBack":
        promotion = _edit(unit, model_name, env_name, {}, f"{model_name} is already rolled back in {env_name}")
    else:
        if model.serving.mode == "standard" and model.rollout.stable_storage_uri is None:
            raise UsageError(f"{model_name} serves in KServe Standard mode without a stable version"
                             " (`rollout.stable`): there is no previous version to send the traffic back to;"
                             " promote the previous version instead")
        previous = ("the stable version " + (model.rollout.stable_model_version or model.rollout.stable_storage_uri)
                    + " (the canary is removed)") if model.serving.mode == "standard" else "the previous revision"
        promotion = _edit(unit, model_name, env_name, {("rollout", "phase"): "rolledBack"},
                          f"{model_name} version {model.serving.model_version or '?'} rolled back in {env_name}:"
                          f" all traffic on {previous}" + (f" ({evidence})" if evidence else ""))
    promotion.evidence, promotion.version = evidence, version
    return promotion


def _edit(unit: SpecUnit, model_name: str, env_name: str, changes: dict, summary: str) -> Promotion:
    text = unit.source.text
    new_text = text
    per_env = bool(unit.spec.environments)
    for subpath, value in changes.items():
        try:
            if per_env:
                new_text = _set_override(new_text, env_name, ("models", model_name, *subpath), value)
            else:
                new_text = set_value(new_text, ("models", model_name, *subpath), value)
        except EditError as exc:
            raise SpecError(f"cannot edit {unit.path}: {exc}") from None
    promotion = Promotion(unit.path, model_name, env_name, text, new_text, summary, dict(changes))
    if promotion.changed:
        _verify(promotion, unit)
    return promotion


def _set_override(text: str, env_name: str, target: tuple[str, ...], value) -> str:
    """Set `target` in the environment's overrides: inside the last override that covers it,
    else as a new dotted key."""
    from mlspec.source.yaml_edit import _compose, _get

    root = _compose(text)
    env_node = _get(_get(root, "environments"), env_name)
    overrides = _get(env_node, "overrides") if env_node is not None else None
    covering = None
    for key, node in mapping_items(overrides) if overrides is not None else []:
        parts = tuple(str(key).split("."))
        if target[:len(parts)] == parts and (len(parts) == len(target) or type(node).__name__ == "MappingNode"):
            covering = (key, parts)
    base = ("environments", env_name, "overrides")
    if covering is None:
        return set_value(text, (*base, ".".join(target)), value)
    key, parts = covering
    return set_value(text, (*base, key, *target[len(parts):]), value)


# The spec keys an edit sets (under the model's `serving` and `rollout`) -> the IR fields that
# hold their values once the edited spec is resolved.
IR_FIELDS = {"storageUri": "storage_uri", "modelVersion": "model_version", "phase": "phase",
             "stable.storageUri": "stable_storage_uri", "stable.modelVersion": "stable_model_version"}


def _verify(promotion: Promotion, before: SpecUnit) -> None:
    """The edited spec must be valid, give the wanted values in the environment and leave
    every other environment's serving and rollout exactly as they were."""
    after = load_text(promotion.spec_file, promotion.new_text)
    if not after.ok:
        raise SpecError(f"the edit would make {promotion.spec_file} invalid; the spec was not changed", [after])

    def state(project, env_name):
        env = next(e for e in project.environments if e.name == env_name)
        return next(m for m in env.system.models if m.name == promotion.model)

    for env in before.project.environments:
        old, new = state(before.project, env.name), state(after.project, env.name)
        if env.name != promotion.env:
            if (old.serving, old.rollout) != (new.serving, new.rollout):
                raise RuntimeError(f"editing {promotion.env} changed {env.name} as well")
            continue
        for (section, *keys), value in promotion.changes.items():
            key = ".".join(keys)
            if getattr(getattr(new, section), IR_FIELDS[key]) != value:
                raise RuntimeError(f"the edit did not set {section}.{key} to {value!r}")


def write_spec(promotion: Promotion) -> None:
    from mlspec.fsutil import write_text_atomic

    current = Path(promotion.spec_file).read_text(encoding="utf-8")
    if current != promotion.old_text:
        raise ExternalError(f"{promotion.spec_file} changed while it was being edited; run the command again")
    write_text_atomic(promotion.spec_file, promotion.new_text)


# --- carrying it out ------------------------------------------------------------------------


@dataclass
class PromotionOutcome:
    promotion: Promotion
    run: object = None  # compiler.run.CompileRun of the recompile
    published: object = None  # gitops.publish.PublishOutcome, when a repository was named


def carry_out(promotion: Promotion, out_root: Path, repo: str | None, branch: str | None, push: bool,
              log: Callable[[str], None] = lambda _m: None,
              before_publish: Callable[[PromotionOutcome], None] | None = None) -> PromotionOutcome:
    """Write the edited spec, recompile it into `out_root` and publish it to `repo` when one
    is named. Raises SpecError (with the compile's diagnostics) when the spec does not compile.
    `before_publish` runs after the compile (e.g. the spec commit, so that a failed publish is
    retried from the committed spec)."""
    from mlspec.compiler.run import compile_and_apply

    if promotion.changed:
        write_spec(promotion)
    outcome = PromotionOutcome(promotion)
    committed = False
    try:
        # Publishing needs the IR, which a result-cache hit (an unchanged spec) does not have.
        outcome.run = compile_and_apply([promotion.spec_file], [str(promotion.spec_file)], out_root,
                                        use_cache=repo is None)
        if not outcome.run.ok:
            raise SpecError(f"{promotion.spec_file} does not compile; nothing was published", outcome.run.results)
        if before_publish is not None:
            before_publish(outcome)
            committed = True
        if repo is not None:
            from mlspec.compiler.deployments import plans_from_results
            from mlspec.gitops.publish import publish

            outcome.published = publish(plans_from_results(outcome.run.results), repo, branch, push, log=log)
    except BaseException:
        if committed:
            # The spec commit is the truth now: publishing it again is the retry, and undoing
            # the edit would leave the checkout disagreeing with its own HEAD.
            log(f"the change of {promotion.spec_file} is committed but not published; "
                "run `mlspec publish` from that commit to retry")
        elif promotion.changed:
            # All or nothing: a spec edit that was not published would make the next event for
            # this version complete a canary that never started (straight to 100%).
            _undo_edit(promotion, out_root, log)
        raise
    return outcome


def _undo_edit(promotion: Promotion, out_root: Path, log: Callable[[str], None]) -> None:
    """Put the spec back as it was before `promotion` (unless someone changed it since) and
    recompile it, so the spec and the output folder say what is deployed."""
    from mlspec.compiler.run import compile_and_apply
    from mlspec.fsutil import write_text_atomic

    try:
        current = Path(promotion.spec_file).read_text(encoding="utf-8")
        if current == promotion.old_text:
            return  # already put back (the spec commit whose push failed was undone with it)
        if current != promotion.new_text:
            log(f"{promotion.spec_file} changed meanwhile; the edit was not undone")
            return
        write_text_atomic(promotion.spec_file, promotion.old_text)
        compile_and_apply([promotion.spec_file], [str(promotion.spec_file)], out_root)
        log(f"the edit of {promotion.spec_file} was undone")
    except (OSError, MlspecError) as exc:
        log(f"could not undo the edit of {promotion.spec_file}: {exc}")
