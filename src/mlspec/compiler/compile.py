"""compile: spec file -> {path: content} for one system, headers and manifest included.

Ties the stages together: the front end (`session`: load, validate, check, resolve), then
generation with each selected target, then every file marked as generated and indexed in
manifest.json. Nothing here touches the output folder; `apply` and `writer` do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.compiler.session import SpecUnit, load_unit
from mlspec.compiler.writer import tree_is_plain
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
    project: object = None  # the IR compiled (None for a result the cache vouched for)

    @property
    def ok(self) -> bool:
        return self.system is not None and not any(d.severity is Severity.ERROR for d in self.diagnostics)




def compile_spec(spec_file: Path, out_root: Path, targets: list[str] | None = None,
                 environments: list[str] | None = None, raw: bytes | None = None,
                 reuse_previous: bool = True) -> CompileResult:
    """Front end and generation for one spec file. `raw`: its bytes when the caller has read
    them already (see session.load_unit)."""
    return compile_unit(load_unit(spec_file, out_root, raw), out_root, targets, environments, reuse_previous)


def compile_unit(unit: SpecUnit, out_root: Path, targets: list[str] | None = None,
                 environments: list[str] | None = None, reuse_previous: bool = True,
                 derived: bool = True) -> CompileResult:
    """`reuse_previous`: targets may reuse expensive results found in the system's output
    folder (the kfp IR of an unchanged pipeline). A check or a diff passes False: a verdict
    on a tree must not be computed from that same tree (a committed, tampered IR that keeps
    its source-hash line would otherwise be "reused" and pass `compile --check`).
    `derived=False`: outputs a tool derives from other outputs (the kfp IR) stand in by
    what they derive from; for comparing compiles, never for writing them."""
    from mlspec.targets.kustomize import package_environments
    from mlspec.targets.registry import available_targets, load_target

    result = CompileResult(unit.display)
    result.diagnostics += unit.diagnostics
    result.source_text = unit.source.text if unit.source else ""
    if unit.spec is not None:
        result.diagnostics += unit.unknown_environments(environments or [])
    if not unit.ok or any(d.severity is Severity.ERROR for d in result.diagnostics):
        return result
    project = unit.project
    selected = targets or list(available_targets())
    previous_dir = out_root / project.base.name
    if not (reuse_previous and tree_is_plain(previous_dir)):
        previous_dir = None
    env_filter = frozenset(environments) if environments else None
    result.scope = (frozenset(targets) if targets else None, env_filter)
    artifacts: list[Artifact] = []
    for name in selected:
        target = load_target(name)(previous_dir=previous_dir, derived=derived)
        try:
            produced = target.generate(project)
        except Exception as exc:  # noqa: BLE001 - only a missing template is the user's to fix
            if type(exc).__name__ not in ("TemplateNotFound", "TemplatesNotFound"):
                raise
            result.diagnostics.append(Diagnostic(
                "E902", f"target `{name}`: template `{exc}` not found", unit.display,
                help="check MLSPEC_TEMPLATES (a user template folder) or reinstall mlspec"))
            continue
        result.diagnostics += [_placed(d, unit) for d in target.diagnostics]
        artifacts += [a for a in produced if env_filter is None or a.environment in (None, *env_filter)]
    # A pass over what the targets wrote: each environment's kustomization lists its objects.
    artifacts += package_environments(project, artifacts, selected, env_filter)
    if any(d.severity is Severity.ERROR for d in result.diagnostics):
        return result
    _reject_path_clashes(artifacts)
    result.system = project.base.name
    result.project = project
    result.artifacts = sorted(artifacts, key=lambda a: a.path)
    header = header_lines(unit.recorded_path)
    result.files = {a.path: with_header(a, header) for a in result.artifacts}
    from mlspec.ir.graph import build_graph

    result.files[MANIFEST] = manifest_text(result, unit.recorded_path, unit.sha256, build_graph(project))
    return result


def _placed(diagnostic: Diagnostic, unit: SpecUnit) -> Diagnostic:
    """A target's diagnostic at the source position of its key path (targets know key
    paths, not lines), in the spec file being compiled."""
    if diagnostic.span is not None or unit.source is None:
        return diagnostic if diagnostic.file else diagnostic.at(diagnostic.span, unit.display)
    _, span = unit.source.positions.nearest(diagnostic.path)
    return diagnostic.at(span, unit.display)


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
        # A comment ends at `--`+`>`: a spec named `x--><script>...` must not end it early.
        return "<!-- " + " ".join(header).replace("--", "- -") + " -->\n" + content
    return content  # "embedded": the target wrote the header into the content


def manifest_text(result: CompileResult, spec_path: str, sha256: str, graph: dict) -> str:
    manifest = {
        "generatedBy": "mlspec",
        "note": " ".join(header_lines(spec_path)),
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
    from mlspec.compiler.writer import Foreign

    try:
        old = json.loads(previous.get(MANIFEST, "")) if previous.get(MANIFEST) else {"artifacts": []}
    except json.JSONDecodeError:
        old = {"artifacts": []}
    entries = old.get("artifacts") if isinstance(old, dict) else None
    kept = [entry for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, dict) and isinstance(entry.get("path"), str) and "target" in entry
            and "environment" in entry
            and entry["path"] in previous and entry["path"] not in result.files
            and not isinstance(previous[entry["path"]], Foreign)  # a link or FIFO is not kept
            and not ((targets is None or entry["target"] in targets)
                     and (envs is None or entry["environment"] in (None, *envs)))]
    files = dict(result.files)
    for entry in kept:
        files[entry["path"]] = previous[entry["path"]]
    manifest = json.loads(files[MANIFEST])
    manifest["artifacts"] = sorted(manifest["artifacts"] + kept, key=lambda e: e["path"])
    files[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return files


def compile_all(files: list[Path], out_root: Path, targets: list[str], envs: list[str],
                raws: dict[Path, bytes | None] | None = None, reuse_previous: bool = True) -> list[CompileResult]:
    """Compile each spec file (from its bytes in `raws` when the caller has read them);
    specs are independent, so on every core when there are several. Two files defining one
    system are an error (E210) on the second."""
    raws = raws or {}
    jobs = [(spec_file, raws.get(spec_file), out_root, targets, envs, reuse_previous) for spec_file in files]
    if len(jobs) > 2:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor  # ~10 ms: only when there are several

        with ProcessPoolExecutor(max_workers=min(len(jobs), multiprocessing.cpu_count() or 1),
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(_compile_one, jobs))
    else:
        results = [_compile_one(job) for job in jobs]
    reject_duplicate_systems(results)
    return results


def _compile_one(job) -> CompileResult:
    spec_file, raw, out_root, targets, envs, reuse_previous = job
    return compile_spec(spec_file, out_root, targets or None, envs or None, raw=raw, reuse_previous=reuse_previous)


def reject_duplicate_systems(results: list[CompileResult]) -> None:
    owners: dict[str, str] = {}
    for result in results:
        if result.system is None:
            continue
        if result.system in owners:
            result.diagnostics.append(Diagnostic(
                "E210", f"system `{result.system}` is also defined in {owners[result.system]}", result.spec_file,
                help="each spec needs its own metadata.name"))
            result.system = None
        else:
            owners[result.system] = result.spec_file
