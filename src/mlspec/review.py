"""diff: what a change to the specs touches, before it is merged.

Compiles the specs and compares the result with the generated tree on disk (what CI would
have to commit) or with the deployments repository (what Argo CD would deploy after a
publish). Reports, per system and per target, the files and the Kubernetes objects added,
changed and removed, then the unified diffs; as plain text, as Markdown ready to post as a
pull-request comment (a table, one collapsible section per file, no ANSI codes), or as JSON.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.fsutil import unified_diff

MARKDOWN_LIMIT = 60_000  # GitHub refuses comments over 65,536 characters
STATUSES = ("added", "changed", "removed")


@dataclass
class FileChange:
    path: str
    status: str
    target: str
    old: str
    new: str

    @property
    def diff(self) -> str:
        return unified_diff(self.old, self.new, self.path)


@dataclass
class ObjectChange:
    id: str  # Kind namespace/name
    status: str
    path: str
    target: str


@dataclass
class SystemDiff:
    system: str
    spec: str
    where: str
    files: list[FileChange] = field(default_factory=list)
    objects: list[ObjectChange] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, dict[str, int]]]:
        table: dict[str, dict[str, dict[str, int]]] = {}
        for change in self.files:
            entry = table.setdefault(change.target, {"files": dict.fromkeys(STATUSES, 0),
                                                     "objects": dict.fromkeys(STATUSES, 0)})
            entry["files"][change.status] += 1
        for change in self.objects:
            entry = table.setdefault(change.target, {"files": dict.fromkeys(STATUSES, 0),
                                                     "objects": dict.fromkeys(STATUSES, 0)})
            entry["objects"][change.status] += 1
        return dict(sorted(table.items()))


# --- comparing ----------------------------------------------------------------------------------


def compare(old: dict[str, str], new: dict[str, str], targets_new: dict[str, str], targets_old: dict[str, str],
            system: SystemDiff) -> SystemDiff:
    for path in sorted(set(old) | set(new)):
        if path in old and path in new and old[path] == new[path]:
            continue
        status = "added" if path not in old else "removed" if path not in new else "changed"
        target = targets_new.get(path) or targets_old.get(path) or _guess_target(path, old.get(path, ""))
        system.files.append(FileChange(path, status, target, old.get(path, ""), new.get(path, "")))
        if path.endswith((".yaml", ".yml")):
            before, after = _objects(old.get(path, "")), _objects(new.get(path, ""))
            for key in sorted(set(before) | set(after)):
                if before.get(key) == after.get(key):
                    continue
                what = "added" if key not in before else "removed" if key not in after else "changed"
                system.objects.append(ObjectChange(key, what, path, target))
    return system


# For files that only exist on the old side of a deployments-repo comparison, which carries
# no manifest: the target that writes each kind of object.
_KIND_TARGETS = {"InferenceService": "kserve", "Kustomization": "argocd", "Application": "argocd",
                 "AnalysisTemplate": "rollout", "AnalysisRun": "rollout", "Experiment": "rollout", "Metric": "rollout"}


def _guess_target(path: str, text: str = "") -> str:
    for key in _objects(text):
        if key.split(" ", 1)[0] in _KIND_TARGETS:
            return _KIND_TARGETS[key.split(" ", 1)[0]]
    return "other"


def _objects(text: str) -> dict[str, object]:
    """Kubernetes objects of a YAML file, keyed `Kind namespace/name` (others ignored)."""
    if not text.strip():
        return {}
    from ruamel.yaml import YAML

    try:
        documents = list(YAML(typ="safe", pure=True).load_all(text))
    except Exception:  # not YAML we can read: compare it as a file only
        return {}
    found = {}
    for doc in documents:
        if isinstance(doc, dict) and "kind" in doc and isinstance(doc.get("metadata"), dict):
            meta = doc["metadata"]
            name = f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))
            found[f"{doc['kind']} {name}"] = doc
    return found


def _manifest_targets(files: dict[str, str]) -> dict[str, str]:
    try:
        manifest = json.loads(files.get("manifest.json", "") or "{}")
        return {a["path"]: a["target"] for a in manifest.get("artifacts", [])}
    except (ValueError, KeyError, TypeError):
        return {}


def diff_against_disk(results, out_root: Path) -> list[SystemDiff]:
    from mlspec.compiler import merge_with_previous
    from mlspec.writer import LOCK_NAME, read_tree

    diffs = []
    for result in results:
        current = {p: c for p, c in read_tree(out_root / result.system).items() if not p.endswith(LOCK_NAME)}
        files = merge_with_previous(result, current)
        targets_new = {a.path: a.target for a in result.artifacts}
        targets_new["manifest.json"] = "manifest"
        system = SystemDiff(result.system, result.spec_file, f"{out_root.as_posix()}/{result.system}")
        diffs.append(compare(current, files, targets_new, {**_manifest_targets(current), "manifest.json": "manifest"},
                             system))
    return diffs


def diff_against_repo(plans, repo: str, branch: str | None) -> list[SystemDiff]:
    from mlspec.gitrepo import Git, GitError, is_local_repo

    scratch = None
    try:
        if is_local_repo(repo) and not Git(Path(repo)).is_bare():
            root = Path(Git(Path(repo)).out("rev-parse", "--show-toplevel"))
            if branch and Git(root).current_branch() != branch:
                root = scratch = _shallow_clone(str(root), branch)
        else:
            source = str(Path(repo).resolve()) if is_local_repo(repo) else repo
            root = scratch = _shallow_clone(source, branch)
        diffs = []
        for plan in plans:
            current = {}
            for owned in plan.roots:
                folder = root / owned
                if folder.is_dir():
                    for path in sorted(folder.rglob("*")):
                        if path.is_file():
                            current[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8",
                                                                                       errors="replace")
            system = SystemDiff(plan.system, plan.spec_path, f"{repo}: {', '.join(plan.roots)}")
            diffs.append(compare(current, plan.files, plan.targets, {}, system))
        return diffs
    except GitError:
        raise
    finally:
        if scratch is not None:
            shutil.rmtree(scratch.parent, ignore_errors=True)


def _shallow_clone(source: str, branch: str | None) -> Path:
    from mlspec.gitrepo import Git

    scratch = Path(tempfile.mkdtemp(prefix="mlspec-diff-"))
    git = Git(scratch)
    heads = git.run("ls-remote", "--heads", source).stdout
    exists = branch is None or f"refs/heads/{branch}" in heads.split()
    git.run("clone", "--quiet", "--depth", "1", "--no-tags", *(("--branch", branch) if branch and exists else ()),
            source, str(scratch / "repo"))
    if branch and not exists:  # a branch that does not exist yet: nothing is deployed from it
        for child in (scratch / "repo").iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    return scratch / "repo"


# --- rendering ----------------------------------------------------------------------------------


def _counts(items) -> str:
    counts = {s: sum(1 for i in items if i.status == s) for s in STATUSES}
    return f"{counts['added']} added, {counts['changed']} changed, {counts['removed']} removed"


def render_text(diffs: list[SystemDiff]) -> str:
    out = []
    for d in diffs:
        if not d.files:
            out.append(f"{d.system}: no changes ({d.where})\n")
            continue
        out.append(f"{d.system}: {_counts(d.files)} files; {_counts(d.objects)} Kubernetes objects ({d.where})\n")
        for target, entry in d.summary().items():
            f, o = entry["files"], entry["objects"]
            out.append(f"  {target:18} files {f['added']:>3} added {f['changed']:>3} changed {f['removed']:>3} removed"
                       f"   objects {o['added']:>3} added {o['changed']:>3} changed {o['removed']:>3} removed\n")
        for change in d.objects:
            out.append(f"  {change.status:8} {change.id}  ({change.path})\n")
    out.append("\n")
    for d in diffs:
        for change in d.files:
            out.append(change.diff)
    return "".join(out)


def render_markdown(diffs: list[SystemDiff]) -> str:
    changed = [d for d in diffs if d.files]
    out = ["## mlspec diff\n\n"]
    if not changed:
        out.append("No changes: " + ", ".join(f"`{d.system}`" for d in diffs) + " compile to what is there.\n")
        return "".join(out)
    budget = MARKDOWN_LIMIT
    for d in diffs:
        if not d.files:
            out.append(f"### `{d.system}`: no changes\n\n")
            continue
        out.append(f"### `{d.system}`: {_counts(d.files)} files, {_counts(d.objects)} Kubernetes objects\n\n")
        out.append(f"Spec `{_md_code(d.spec)}`, compared with `{_md_code(d.where)}`.\n\n")
        out.append("| target | files added | files changed | files removed | objects added | objects changed"
                   " | objects removed |\n|---|---:|---:|---:|---:|---:|---:|\n")
        for target, entry in d.summary().items():
            f, o = entry["files"], entry["objects"]
            out.append(f"| `{_md_code(target)}` | {f['added']} | {f['changed']} | {f['removed']} | {o['added']} |"
                       f" {o['changed']} | {o['removed']} |\n")
        if d.objects:
            out.append("\n<details><summary>Kubernetes objects</summary>\n\n")
            for change in d.objects:
                out.append(f"- {change.status} `{_md_code(change.id)}` in `{_md_code(change.path)}`\n")
            out.append("\n</details>\n")
        out.append("\n")
        for change in d.files:
            diff = change.diff
            fence = "```"
            while fence in diff:
                fence += "`"
            section = (f"<details><summary><code>{_html(change.path)}</code> ({change.status})</summary>\n\n"
                       f"{fence}diff\n{diff}{fence}\n\n</details>\n")
            if len(section) > budget:
                out.append(f"<details><summary><code>{_html(change.path)}</code> ({change.status})</summary>\n\n"
                           "Diff too long for a comment: run `mlspec diff` locally.\n\n</details>\n")
                continue
            budget -= len(section)
            out.append(section)
        out.append("\n")
    return "".join(out)


def _md_code(text: str) -> str:
    return str(text).replace("`", "'").replace("|", "\\|")


def _html(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_json(diffs: list[SystemDiff]) -> str:
    return json.dumps({
        "changed": any(d.files for d in diffs),
        "systems": [{
            "system": d.system, "spec": d.spec, "comparedWith": d.where, "summary": d.summary(),
            "files": [{"path": c.path, "status": c.status, "target": c.target, "diff": c.diff} for c in d.files],
            "objects": [{"id": o.id, "status": o.status, "path": o.path, "target": o.target} for o in d.objects],
        } for d in diffs],
    }, indent=2, sort_keys=True) + "\n"


# --- the command ---------------------------------------------------------------------------------


def run_diff(paths: list[str], out_root: Path, repo: str | None, branch: str | None, fmt: str,
             exit_code: bool, report) -> int:
    import click

    from mlspec.compile_command import _as_frontend
    from mlspec.frontend import expand_spec_paths
    from mlspec.gitrepo import GitError
    from mlspec.publish import compile_plans

    files, missing = expand_spec_paths(paths)
    if missing:
        raise click.UsageError(f"no such file or folder: {', '.join(missing)}")
    if not files:
        raise click.UsageError("no spec files (*.yaml, *.yml) found in: " + ", ".join(paths))
    if repo is not None:
        plans, results = compile_plans(files, out_root)
    else:
        from mlspec.compile_command import _compile_all, _reject_duplicate_systems

        results = _compile_all(files, out_root, [], [])
        _reject_duplicate_systems(results)
        plans = results if all(r.ok for r in results) else None
    if report([_as_frontend(r) for r in results], "human") or plans is None:
        return 1
    try:
        diffs = diff_against_repo(plans, repo, branch) if repo is not None else diff_against_disk(results, out_root)
    except GitError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    render = {"text": render_text, "markdown": render_markdown, "json": render_json}[fmt]
    click.echo(render(diffs), nl=False)
    return 1 if exit_code and any(d.files for d in diffs) else 0
