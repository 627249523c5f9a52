"""diff: what a change to the specs touches, before it is merged.

Compiles the specs and compares the result with the generated tree on disk (what CI would
have to commit) or with the deployments repository (what Argo CD would deploy after a
publish). Reports, per system, environment and target, the files and the Kubernetes
objects added, changed and removed, then the unified diffs; as plain text, as Markdown
ready to post as a pull-request comment (a table, one folded section per file), or as JSON.
manifest.json changes with every spec edit (it records the hashes), so it is summed up in a
line rather than shown as a diff. Everything taken from the files compared (paths, target
names, object names: a pull request controls them) is escaped for the format it lands in.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.fsutil import unified_diff
from mlspec.textsafe import html_text, markdown_code, markdown_text, one_line

MANIFEST = "manifest.json"
MARKDOWN_LIMIT = 60_000  # GitHub refuses comments over 65,536 characters
STATUSES = ("added", "changed", "removed")


ALL_ENVIRONMENTS = "shared"  # a file every environment uses


@dataclass
class FileChange:
    path: str
    status: str
    target: str
    old: str
    new: str
    environment: str = ALL_ENVIRONMENTS

    @property
    def diff(self) -> str:
        return unified_diff(self.old, self.new, self.path)


@dataclass
class ObjectChange:
    id: str  # Kind namespace/name
    status: str
    path: str
    target: str
    environment: str = ALL_ENVIRONMENTS


@dataclass
class SystemDiff:
    system: str
    spec: str
    where: str
    files: list[FileChange] = field(default_factory=list)
    objects: list[ObjectChange] = field(default_factory=list)
    index_changed: bool = False  # manifest.json: the index of hashes, summed up, not listed

    def summary(self) -> dict[tuple[str, str], dict[str, dict[str, int]]]:
        """(environment, target) -> {"files"|"objects": {status: count}}, sorted."""
        table: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
        for kind, changes in (("files", self.files), ("objects", self.objects)):
            for change in changes:
                entry = table.setdefault((change.environment, change.target),
                                         {"files": dict.fromkeys(STATUSES, 0), "objects": dict.fromkeys(STATUSES, 0)})
                entry[kind][change.status] += 1
        return dict(sorted(table.items()))


# --- comparing ----------------------------------------------------------------------------------


def compare(old: dict[str, str], new: dict[str, str], owners: dict[str, tuple[str, str]], system: SystemDiff
            ) -> SystemDiff:
    """Fill `system` with what differs between `old` and `new` (path -> text); `owners`
    maps a path to (target, environment) where known."""
    from mlspec.compiler.writer import same_content

    for path in sorted(set(old) | set(new)):
        if path in old and path in new and same_content(old[path], new[path]):
            continue
        if path == MANIFEST:
            system.index_changed = True
            continue
        status = "added" if path not in old else "removed" if path not in new else "changed"
        target, environment = owners.get(path) or (_guess_target(path, old.get(path, "")), ALL_ENVIRONMENTS)
        system.files.append(FileChange(path, status, target, old.get(path, ""), new.get(path, ""), environment))
        if path.endswith((".yaml", ".yml")):
            before, after = _objects(old.get(path, "")), _objects(new.get(path, ""))  # a Foreign text: no objects
            for key in sorted(set(before) | set(after)):
                if before.get(key) == after.get(key):
                    continue
                what = "added" if key not in before else "removed" if key not in after else "changed"
                system.objects.append(ObjectChange(key, what, path, target, environment))
    return system


def _guess_target(path: str, text: str = "") -> str:
    """For files that only exist on the old side of a deployments-repo comparison, which
    carries no manifest: the target that declares the kind of an object in the file."""
    from mlspec.targets.registry import targets_by_kind

    kinds = [key.split(" ", 1)[0] for key in _objects(text)]
    by_kind = targets_by_kind() if kinds else {}
    return next((by_kind[kind] for kind in kinds if kind in by_kind), "other")


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


def _manifest_owners(files: dict[str, str]) -> dict[str, tuple[str, str]]:
    try:
        manifest = json.loads(files.get(MANIFEST, "") or "{}")
        return {a["path"]: (str(a["target"]), str(a.get("environment") or ALL_ENVIRONMENTS))
                for a in manifest.get("artifacts", [])}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


def diff_against_disk(results, out_root: Path) -> list[SystemDiff]:
    from mlspec.compiler.compile import merge_with_previous
    from mlspec.compiler.writer import LOCK_NAME, Foreign, check_output_folder, read_tree

    try:
        check_output_folder(out_root)
        linked = False
    except OSError:  # reached through a link: nothing there is read
        linked = True
    diffs = []
    for result in results:
        if linked:
            current = {".": Foreign("symbolic link on the way to the output folder")}
        else:
            current = {p: c for p, c in read_tree(out_root / result.system).items() if not p.endswith(LOCK_NAME)}
        files = merge_with_previous(result, current)
        owners = {**_manifest_owners(current), **_manifest_owners(files),
                  **{a.path: (a.target, a.environment or ALL_ENVIRONMENTS) for a in result.artifacts}}
        system = SystemDiff(result.system, result.spec_file, f"{out_root.as_posix()}/{result.system}")
        diffs.append(compare(current, files, owners, system))
    return diffs


def diff_against_repo(plans, repo: str, branch: str | None) -> list[SystemDiff]:
    from mlspec.compiler.deployments import check_owned_path, read_owned
    from mlspec.git import Git, check_branch_name, is_local_repo

    if branch is not None:
        check_branch_name(branch)
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
                # Links, FIFOs and oversized files of the repository are shown, never read.
                current.update(read_owned(root, check_owned_path(owned)))
            system = SystemDiff(plan.system, plan.spec_path, f"{repo}: {', '.join(plan.roots)}")
            owners = {path: (plan.targets[path], plan.environments.get(path, ALL_ENVIRONMENTS))
                      for path in plan.files}
            for path in set(current) - set(plan.files):  # removed: its folder names the environment
                owned_root = next(r for r in plan.roots if path.startswith(r + "/"))
                owners[path] = (_guess_target(path, current[path]),
                                path[len(owned_root) + 1:].split("/", 1)[0])
            diffs.append(compare(current, plan.files, owners, system))
        return diffs
    finally:
        if scratch is not None:
            shutil.rmtree(scratch.parent, ignore_errors=True)


def _shallow_clone(source: str, branch: str | None) -> Path:
    from mlspec.git import Git

    scratch = Path(tempfile.mkdtemp(prefix="mlspec-diff-"))
    git = Git(scratch)
    heads = git.run("ls-remote", "--heads", "--", source).stdout
    exists = branch is None or f"refs/heads/{branch}" in heads.split()
    git.run("clone", "--quiet", "--depth", "1", "--no-tags", *((f"--branch={branch}",) if branch and exists else ()),
            "--", source, str(scratch / "repo"))
    if branch and not exists:  # a branch that does not exist yet: nothing is deployed from it
        for child in (scratch / "repo").iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    return scratch / "repo"


# --- rendering ----------------------------------------------------------------------------------


def _counts(items) -> str:
    counts = {s: sum(1 for i in items if i.status == s) for s in STATUSES}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"


def _index_line(d: SystemDiff) -> str:
    return "manifest.json: the index records the new hashes" if d.index_changed else ""


def render_text(diffs: list[SystemDiff]) -> str:
    out = []
    for d in diffs:
        if not d.files:
            out.append(f"{one_line(d.system)}: no changes ({one_line(d.where)})\n")
            continue
        out.append(f"{one_line(d.system)}: files {_counts(d.files)}; Kubernetes objects {_counts(d.objects)}"
                   f" ({one_line(d.where)})\n")
        for (environment, target), entry in d.summary().items():
            where = f"{environment} / {target}"
            out.append(f"  {one_line(where):32} files {_counts_of(entry['files'])}"
                       f"; objects {_counts_of(entry['objects'])}\n")
        for change in d.objects:
            out.append(f"  {change.status:8} {one_line(change.id)}  ({one_line(change.path)})\n")
        if d.index_changed:
            out.append(f"  {_index_line(d)}\n")
    out.append("\n")
    for d in diffs:
        for change in d.files:
            out.append(change.diff)
    return "".join(out)


def _counts_of(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"


def render_markdown(diffs: list[SystemDiff]) -> str:
    """A pull-request comment: per system a table by environment and target, the Kubernetes
    objects, then each file's diff folded in <details>."""
    changed = [d for d in diffs if d.files]
    out = ["## mlspec diff\n\n"]
    if not changed:
        out.append("No changes: " + ", ".join(f"`{markdown_code(d.system)}`" for d in diffs)
                   + " compile to what is there.\n")
        return "".join(out)
    budget = MARKDOWN_LIMIT
    for d in diffs:
        if not d.files:
            out.append(f"### `{markdown_code(d.system)}`: no changes\n\n")
            continue
        out.append(f"### `{markdown_code(d.system)}`: files {_counts(d.files)}; Kubernetes objects"
                   f" {_counts(d.objects)}\n\n")
        out.append(f"Spec `{markdown_code(d.spec)}`, compared with `{markdown_code(d.where)}`.\n\n")
        out.append("| environment | target | files | Kubernetes objects |\n|---|---|---|---|\n")
        for (environment, target), entry in d.summary().items():
            objects = [f"{c.status} `{markdown_code(c.id)}`" for c in d.objects
                       if (c.environment, c.target) == (environment, target)]
            out.append(f"| {markdown_text(environment)} | `{markdown_code(target)}` | {_counts_of(entry['files'])} |"
                       f" {', '.join(objects) or 'none'} |\n")
        if d.index_changed:
            out.append(f"\n{_index_line(d)}.\n")
        out.append("\n")
        for change in d.files:
            summary = f"<code>{html_text(change.path)}</code> ({change.status})"
            diff = change.diff
            fence = "```"
            while fence in diff:
                fence += "`"
            section = f"<details><summary>{summary}</summary>\n\n{fence}diff\n{diff}{fence}\n\n</details>\n"
            if len(section) > budget:
                out.append(f"<details><summary>{summary}</summary>\n\nDiff too long for a comment: run"
                           " `mlspec diff` locally.\n\n</details>\n")
                continue
            budget -= len(section)
            out.append(section)
        out.append("\n")
    return "".join(out)


def render_json(diffs: list[SystemDiff]) -> str:
    return json.dumps({
        "changed": any(d.files for d in diffs),
        "systems": [{
            "system": d.system, "spec": d.spec, "comparedWith": d.where,
            "summary": [{"environment": env, "target": target, **entry}
                        for (env, target), entry in d.summary().items()],
            "files": [{"path": c.path, "status": c.status, "target": c.target, "environment": c.environment,
                       "diff": c.diff} for c in d.files],
            "objects": [{"id": o.id, "status": o.status, "path": o.path, "target": o.target,
                         "environment": o.environment} for o in d.objects],
            "indexChanged": d.index_changed,
        } for d in diffs],
    }, indent=2, sort_keys=True) + "\n"


# --- the comparison a command asks for -------------------------------------------------------------


def diff_specs(files: list[Path], out_root: Path, repo: str | None, branch: str | None):
    """(compile results, system diffs): what compiling `files` would change in `out_root`,
    or in the deployments repository `repo`. Diffs are None when a spec has errors."""
    from mlspec.compiler.deployments import compile_plans
    from mlspec.compiler.run import compile_files

    if repo is not None:
        plans, results = compile_plans(files, out_root)
        return results, (diff_against_repo(plans, repo, branch) if plans is not None else None)
    results = compile_files(files, out_root, use_cache=False, reuse_previous=False).results
    return results, (diff_against_disk(results, out_root) if all(r.ok for r in results) else None)
