"""compile: spec file -> {path: content} for one system, headers and manifest included.

Ties the stages together: front end (load, validate, check), resolve, generate with each
selected target, then mark every file as generated and index it in manifest.json.
Nothing here touches the output folder; `writer` does.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.diagnostics import Diagnostic, Severity
from mlspec.targets.base import Artifact, header_lines

MANIFEST = "manifest.json"


@dataclass
class CompileResult:
    spec_file: str
    system: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    source_text: str = ""
    scope: tuple[frozenset[str] | None, frozenset[str] | None] = (None, None)  # (targets, environments)
    # True when the result cache vouched that `files` is exactly what is on disk and what this
    # spec compiles to: nothing to compare or write.
    unchanged_on_disk: bool = False

    @property
    def ok(self) -> bool:
        return self.system is not None and not any(d.severity is Severity.ERROR for d in self.diagnostics)


def recorded_spec_path(spec_file: Path, out_root: Path) -> str:
    """The spec's path as written into generated files: relative to the folder that holds
    the output folder (normally the repository root), so it is the same on every machine
    and from every working directory."""
    base = out_root.resolve().parent
    return Path(os.path.relpath(spec_file.resolve(), base)).as_posix()


def compile_spec(spec_file: Path, out_root: Path, targets: list[str] | None = None,
                 environments: list[str] | None = None, raw: bytes | None = None) -> CompileResult:
    """`raw`: the spec file's bytes when the caller has read them already (see load_and_check)."""
    from mlspec.build.session import load_and_check
    from mlspec.ir.resolve import resolve_project
    from mlspec.targets.kustomize import package_environments
    from mlspec.targets.registry import available_targets, load_target

    result = CompileResult(str(spec_file))
    front = load_and_check(spec_file, raw)
    result.diagnostics += front.diagnostics
    result.source_text = front.source.text if front.source else ""
    if not front.ok:
        return result
    spec_path = recorded_spec_path(spec_file, out_root)
    project, diagnostics = resolve_project(front.source, front.spec, spec_path)
    result.diagnostics += diagnostics
    if project is None:
        return result
    known_envs = {env.name for env in project.environments}
    for env in environments or []:
        if env not in known_envs:
            result.diagnostics.append(Diagnostic(
                "E604", f"environment `{env}` is not defined in this spec", str(spec_file),
                help="defined: " + (", ".join(sorted(known_envs)) or "none")))
    if any(d.severity is Severity.ERROR for d in result.diagnostics):
        return result
    selected = targets or list(available_targets())
    env_filter = frozenset(environments) if environments else None
    result.scope = (frozenset(targets) if targets else None, env_filter)
    artifacts: list[Artifact] = []
    for name in selected:
        target = load_target(name)(previous_dir=out_root / project.base.name)
        try:
            produced = target.generate(project)
        except Exception as exc:  # noqa: BLE001 - only a missing template is the user's to fix
            if type(exc).__name__ not in ("TemplateNotFound", "TemplatesNotFound"):
                raise
            result.diagnostics.append(Diagnostic(
                "E902", f"target `{name}`: template `{exc}` not found", str(spec_file),
                help="check MLSPEC_TEMPLATES (a user template folder) or reinstall mlspec"))
            continue
        result.diagnostics += target.diagnostics
        artifacts += [a for a in produced if env_filter is None or a.environment in (None, *env_filter)]
    # A pass over what the targets wrote: each environment's kustomization lists its objects.
    artifacts += package_environments(project, artifacts, selected, env_filter)
    if any(d.severity is Severity.ERROR for d in result.diagnostics):
        return result
    _reject_path_clashes(artifacts)
    result.system = project.base.name
    result.artifacts = sorted(artifacts, key=lambda a: a.path)
    header = header_lines(spec_path, front.source.sha256)
    result.files = {a.path: with_header(a, header) for a in result.artifacts}
    from mlspec.ir.graph import build_graph

    result.files[MANIFEST] = manifest_text(result, spec_path, front.source.sha256, build_graph(project))
    return result


def _reject_path_clashes(artifacts: list[Artifact]) -> None:
    seen: dict[str, str] = {}
    for artifact in artifacts:
        if artifact.path in seen or artifact.path == MANIFEST:
            raise RuntimeError(f"targets `{seen.get(artifact.path, 'manifest')}` and `{artifact.target}` both"
                               f" write {artifact.path}")
        seen[artifact.path] = artifact.target


def with_header(artifact: Artifact, header: list[str]) -> str:
    content = artifact.content
    if artifact.header == "hash":
        return "".join(f"# {line}\n" for line in header) + content
    if artifact.header == "html":
        return "<!-- " + " ".join(header) + " -->\n" + content
    return content  # "embedded": the target wrote the header into the content


def manifest_text(result: CompileResult, spec_path: str, sha256: str, graph: dict) -> str:
    manifest = {
        "generatedBy": "mlspec",
        "note": " ".join(header_lines(spec_path, sha256)),
        "system": result.system,
        "spec": {"path": spec_path, "sha256": sha256},
        "artifacts": [
            {"path": a.path, "target": a.target, "environment": a.environment, "deployable": a.deployable,
             "sha256": hashlib.sha256(result.files[a.path].encode("utf-8")).hexdigest()}
            for a in result.artifacts
        ],
        "lineage": graph,
    }
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def merge_with_previous(result: CompileResult, previous: dict[str, str]) -> dict[str, str]:
    """With --target/--env, files outside the selection are kept as they were on disk (and
    in the manifest), so a partial compile never deletes another target's output."""
    targets, envs = result.scope
    if targets is None and envs is None:
        return result.files
    try:
        old = json.loads(previous.get(MANIFEST, "")) if previous.get(MANIFEST) else {"artifacts": []}
    except json.JSONDecodeError:
        old = {"artifacts": []}
    kept = [entry for entry in old.get("artifacts", [])
            if entry["path"] in previous and entry["path"] not in result.files
            and not ((targets is None or entry["target"] in targets)
                     and (envs is None or entry["environment"] in (None, *envs)))]
    files = dict(result.files)
    for entry in kept:
        files[entry["path"]] = previous[entry["path"]]
    manifest = json.loads(files[MANIFEST])
    manifest["artifacts"] = sorted(manifest["artifacts"] + kept, key=lambda e: e["path"])
    files[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return files
