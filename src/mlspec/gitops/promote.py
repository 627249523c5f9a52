"""promote / rollback: change the spec itself, as a reviewed one-value diff.

The spec is the source of truth, so a promotion is an edit of the spec (then a compile and,
when asked, a publish), never a change to generated files or to the cluster:

- promoting a NEW version sets `serving.storageUri` (the version's storage folder, from
  MLflow's `get_model_version_download_uri`) and `serving.modelVersion`, and starts a
  canary (`rollout.phase: canary`) when the model has a rollout section;
- promoting the version that is in canary completes it (`rollout.phase: promoted`: KServe
  drops the traffic split and serves only the new revision);
- rollback sets `rollout.phase: rolledBack` (`canaryTrafficPercent: 0`: all traffic back
  on the previous revision).

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

from mlspec.gitops.yaml_edit import EditError, mapping_items, set_value


class PromoteError(Exception):
    """A problem the user must fix; exit code 2."""


@dataclass
class Promotion:
    spec_file: Path
    model: str
    env: str
    old_text: str
    new_text: str
    summary: str
    changes: dict[tuple[str, ...], object] = field(default_factory=dict)  # model-relative path -> value

    @property
    def changed(self) -> bool:
        return self.new_text != self.old_text


# --- reading the spec ------------------------------------------------------------------------


def _load(spec_file: Path, text: str | None = None):
    """Front end + resolve; returns (project, front) or raises PromoteError with the diagnostics."""
    from mlspec.diagnostics import Severity
    from mlspec.build.session import FrontendResult
    from mlspec.ir.resolve import resolve_project
    from mlspec.source.loader import load_spec_file, load_spec_text

    if text is None:
        source, diagnostics = load_spec_file(spec_file)
    else:
        import hashlib

        source, diagnostics = load_spec_text(text, str(spec_file), sha256=hashlib.sha256(text.encode()).hexdigest())
    front = FrontendResult(str(spec_file), source, None, list(diagnostics))
    if source is not None:
        from mlspec.check import check_spec
        from mlspec.spec.validate import validate_spec

        spec, more = validate_spec(source)
        front.diagnostics += more
        if spec is not None:
            front.diagnostics += check_spec(spec, source)
            if not any(d.severity is Severity.ERROR for d in front.diagnostics):
                front.spec = spec
    if not front.ok:
        return None, front
    project, more = resolve_project(front.source, front.spec, str(spec_file))
    front.diagnostics += more
    return project, front


def _environment(project, env_name: str, spec_file: Path):
    from mlspec.diagnostics import did_you_mean

    for env in project.environments:
        if env.name == env_name:
            return env
    names = [e.name for e in project.environments]
    raise PromoteError(f"{spec_file} has no environment `{env_name}`; " + (did_you_mean(env_name, names) or
                       "it defines none (and serves no model)"))


def _model(env, name: str, spec_file: Path):
    from mlspec.diagnostics import did_you_mean

    for model in env.system.models:
        if model.name == name:
            return model
    raise PromoteError(f"{spec_file} has no model `{name}`; " + did_you_mean(name, [m.name for m in env.system.models]))


def find_spec_for_model(model: str, folder: Path = Path("specs")) -> Path:
    """The one spec under `folder` that defines `model`."""
    from mlspec.build.session import expand_spec_paths
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
        raise PromoteError(f"no spec under {folder}/ defines model `{model}`; name it with --spec")
    raise PromoteError(f"several specs define model `{model}` ({', '.join(map(str, found))}); choose one with --spec")


# --- MLflow -------------------------------------------------------------------------------------


def resolve_model_version(tracking_uri: str, registry_name: str, version: str | None, alias: str | None
                          ) -> tuple[str, str]:
    """(version, storage folder) of a registered model version, asking MLflow."""
    # A CLI should fail in seconds, not after MLflow's default minutes of retries.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        if alias is not None:
            version = str(client.get_model_version_by_alias(registry_name, alias).version)
        uri = client.get_model_version_download_uri(registry_name, version)
    except MlflowException as exc:
        what = f"alias `{alias}`" if alias is not None else f"version {version}"
        raise PromoteError(f"MLflow at {tracking_uri}: cannot resolve {what} of `{registry_name}`: "
                           f"{exc.message.splitlines()[0] if exc.message else exc}") from None
    except OSError as exc:
        raise PromoteError(f"MLflow at {tracking_uri} is not reachable: {exc}") from None
    if uri.startswith(("mlflow-artifacts:", "models:", "runs:")):
        raise PromoteError(
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
        raise PromoteError("no MLflow tracking URI: set platform.mlflow.trackingUri, MLFLOW_TRACKING_URI or"
                           " --tracking-uri (or pass --storage-uri with --version)")
    return mlflow.tracking_uri


# --- planning the edit ---------------------------------------------------------------------------


def plan_promote(spec_file: Path, model_name: str, env_name: str, version: str | None, alias: str | None,
                 storage_uri: str | None, tracking_uri: str | None) -> Promotion:
    project, front = _require(spec_file)
    env = _environment(project, env_name, spec_file)
    model = _model(env, model_name, spec_file)
    if model.serving is None:
        raise PromoteError(f"model `{model_name}` has no `serving` section: there is nothing to promote")
    if storage_uri is None:
        version, storage_uri = resolve_model_version(tracking_uri_for(env, tracking_uri), model.registry_name,
                                                     version, alias)
    serving, rollout = model.serving, model.rollout
    changes: dict[tuple[str, ...], object] = {}
    if serving.model_version == version and serving.storage_uri == storage_uri:
        if rollout is None:
            summary = f"{model_name} version {version} already serves in {env_name}"
        elif rollout.phase == "canary":
            changes[("rollout", "phase")] = "promoted"
            summary = f"{model_name} version {version}: canary completed, promoted in {env_name}"
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
            summary = (f"{model_name} version {version}: canary started in {env_name}"
                       f" ({rollout.canary_traffic_percent}% of traffic)")
        else:
            summary = f"{model_name} version {version} now serves in {env_name}"
    return _edit(spec_file, front, project, model_name, env_name, changes, summary)


def plan_rollback(spec_file: Path, model_name: str, env_name: str) -> Promotion:
    project, front = _require(spec_file)
    env = _environment(project, env_name, spec_file)
    model = _model(env, model_name, spec_file)
    if model.serving is None or model.rollout is None:
        raise PromoteError(f"model `{model_name}` has no `rollout` section: without a canary KServe keeps no"
                           " previous revision to send traffic back to; promote the previous version instead")
    if model.rollout.phase == "rolledBack":
        return _edit(spec_file, front, project, model_name, env_name, {},
                     f"{model_name} is already rolled back in {env_name}")
    return _edit(spec_file, front, project, model_name, env_name, {("rollout", "phase"): "rolledBack"},
                 f"{model_name} version {model.serving.model_version or '?'} rolled back in {env_name}:"
                 " all traffic on the previous revision")


def _require(spec_file: Path):
    project, front = _load(spec_file)
    if project is None:
        raise SpecInvalid(front)
    return project, front


class SpecInvalid(Exception):
    def __init__(self, front):
        super().__init__(front.path)
        self.front = front


def _edit(spec_file: Path, front, project, model_name: str, env_name: str, changes: dict, summary: str
          ) -> Promotion:
    text = front.source.text
    new_text = text
    per_env = bool(front.spec.environments)
    for subpath, value in changes.items():
        try:
            if per_env:
                new_text = _set_override(new_text, env_name, ("models", model_name, *subpath), value)
            else:
                new_text = set_value(new_text, ("models", model_name, *subpath), value)
        except EditError as exc:
            raise PromoteError(f"cannot edit {spec_file}: {exc}") from None
    promotion = Promotion(spec_file, model_name, env_name, text, new_text, summary, dict(changes))
    if promotion.changed:
        _verify(promotion, project)
    return promotion


def _set_override(text: str, env_name: str, target: tuple[str, ...], value) -> str:
    """Set `target` in the environment's overrides: inside the last override that covers it,
    else as a new dotted key."""
    from mlspec.gitops.yaml_edit import _compose, _get

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
IR_FIELDS = {"storageUri": "storage_uri", "modelVersion": "model_version", "phase": "phase"}


def _verify(promotion: Promotion, before) -> None:
    """The edited spec must be valid, give the wanted values in the environment and leave
    every other environment's serving and rollout exactly as they were."""
    after, front = _load(promotion.spec_file, promotion.new_text)
    if after is None:
        raise SpecInvalid(front)

    def state(project, env_name):
        env = next(e for e in project.environments if e.name == env_name)
        model = next(m for m in env.system.models if m.name == promotion.model)
        return model

    for env in before.environments:
        old, new = state(before, env.name), state(after, env.name)
        if env.name != promotion.env:
            if (old.serving, old.rollout) != (new.serving, new.rollout):
                raise RuntimeError(f"editing {promotion.env} changed {env.name} as well")
            continue
        for (section, key), value in promotion.changes.items():
            if getattr(getattr(new, section), IR_FIELDS[key]) != value:
                raise RuntimeError(f"the edit did not set {section}.{key} to {value!r}")


def write_spec(promotion: Promotion) -> None:
    from mlspec.fsutil import write_text_atomic

    current = Path(promotion.spec_file).read_text(encoding="utf-8")
    if current != promotion.old_text:
        raise PromoteError(f"{promotion.spec_file} changed while it was being edited; run the command again")
    write_text_atomic(promotion.spec_file, promotion.new_text)


# --- the commands ---------------------------------------------------------------------------


def run_promotion(kind: str, model: str, env: str, spec: str | None, version: str | None, alias: str | None,
                  storage_uri: str | None, tracking_uri: str | None, out: str, repo: str | None,
                  branch: str | None, push: bool, report) -> int:
    import click

    from mlspec.fsutil import unified_diff

    try:
        spec_file = Path(spec) if spec else find_spec_for_model(model)
        if not spec_file.is_file():
            raise click.UsageError(f"no such file: {spec_file}")
        if kind == "promote":
            promotion = plan_promote(spec_file, model, env, version, alias, storage_uri, tracking_uri)
        else:
            promotion = plan_rollback(spec_file, model, env)
    except SpecInvalid as exc:
        report([exc.front], "human")
        click.echo(f"{kind}: the spec was not changed", err=True)
        return 1
    except PromoteError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    if promotion.changed:
        write_spec(promotion)
        click.echo(unified_diff(promotion.old_text, promotion.new_text, str(spec_file)), nl=False)
    click.echo(promotion.summary + ("" if promotion.changed else " (spec unchanged)"), err=True)
    return finish(spec_file, out, repo, branch, push, report)


def finish(spec_file: Path, out: str, repo: str | None, branch: str | None, push: bool, report) -> int:
    """Recompile the spec into `out`, then publish when a repository was named."""
    from mlspec.build.apply import run_compile

    code = run_compile([str(spec_file)], Path(out), [], [], False, False, "human", colour=False, report=report)
    if code != 0 or repo is None:
        return code
    from mlspec.gitops.publish import run_publish

    return run_publish([str(spec_file)], repo, branch, push, "human", report, out_root=Path(out))
