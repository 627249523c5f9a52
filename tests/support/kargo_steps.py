"""A small interpreter of the Kargo objects mlspec writes, run on real git repositories.

It does what Kargo v1.11.2 does with them, for the parts mlspec uses, and refuses anything else
(an unknown step, expression or config key fails the test rather than being skipped). What each
part reproduces, from akuity/kargo at v1.11.2:

- Warehouse, git subscription `NewestFromBranch` with `includePaths`: the newest commit of the
  branch that changes a path under one of the folders (pkg/pattern/matcher.go,
  ParsePathPattern: a plain selector is a base-directory match; docs: working-with-warehouses,
  "only produce new Freight when the latest commit ... contains changes in" the paths).
- Freight availability (docs: how-to-guides/60-verification): a Stage whose request says
  `direct: true` takes Freight from the Warehouse; one that names upstream `stages` takes only
  Freight verified in one of them.
- Expressions `${{ ... }}` (docs: reference-docs/40-expressions): `vars.<name>`, `ctx.stage`,
  `ctx.project`, `commitFrom(<repoURL>).ID` (the Freight's commit of that repository),
  `outputs.<alias>.<key>` and `outputs['<alias>'].<key>`.
- Steps (docs: reference-docs/30-promotion-steps/<step>.md; pkg/promotion/runner/builtin):
  `git-clone` (a bare clone, then one work tree per checkout; a missing branch with
  `create: true` becomes an orphan branch with an empty "Initial commit", pushed first:
  git_cloner.go, ensureRemoteBranch; output `commits`), `git-clear` (`git add . && git rm -rf
  --ignore-unmatch .`), `copy` (recursive, merging into existing folders, overwriting files,
  skipping symlinks and `.git`: file_copier.go), `git-commit` (all changes; no new commit when
  nothing changed, the output `commit` is then the head: git_commiter.go), `git-push` (the
  work tree's branch to the remote branch of the same name; outputs `branch`, `commit`:
  git_pusher.go), `argocd-update` (refused unless the Application's
  `kargo.akuity.io/authorized-stage` annotation names `<project>:<stage>`:
  argocd_updater.go, authorizeArgoCDAppUpdate; then the Application is synced and must be
  observably at `desiredRevision`).

Repository URLs are the real ones from the generated objects; git itself maps them to the local
bare repositories (`url.<local>.insteadOf`), as a credential helper or mirror would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

AUTHORIZED_STAGE = "kargo.akuity.io/authorized-stage"
STAGING = "  staging:\n    namespace: models-staging\n    cluster: https://kubernetes.default.svc\n"


def with_staging(churn_spec: str) -> str:
    """customer-churn's spec (dev, prod) with a staging environment between them: three Stages."""
    marker = "  prod:\n    namespace: models\n"
    assert churn_spec.count(marker) == 1
    return churn_spec.replace(marker, STAGING + marker)
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class PromotionFailed(AssertionError):
    pass


@dataclass
class Kargo:
    """One Kargo Project: its Warehouse, Stages and the Argo CD Applications they may sync."""

    project: str
    warehouse: dict
    stages: dict[str, dict]  # name -> Stage
    applications: dict[str, dict]  # "<namespace>/<name>" -> Application
    url_map: dict[str, Path]  # repoURL -> local bare repository
    env: dict[str, str]  # git's environment (hermetic config, identity)
    work: Path
    freight: list[dict[str, str]] = field(default_factory=list)  # each: repoURL -> commit, oldest first
    verified: dict[str, list[int]] = field(default_factory=dict)  # stage -> indexes of Freight verified there
    current: dict[str, int] = field(default_factory=dict)  # stage -> index of the Freight it runs
    synced: dict[str, str] = field(default_factory=dict)  # application -> revision it was synced to

    # --- git ---------------------------------------------------------------------------------

    def git(self, cwd: Path, *args: str) -> str:
        config = []
        for url, local in self.url_map.items():
            config += ["-c", f"url.{local.as_uri()}.insteadOf={url}"]
        result = subprocess.run(["git", *config, *args], cwd=cwd, env=self.env, capture_output=True, text=True,
                                timeout=120)
        if result.returncode != 0:
            raise PromotionFailed(f"git {' '.join(args)} failed in {cwd}:\n{result.stderr}")
        return result.stdout

    # --- Warehouse ---------------------------------------------------------------------------

    def discover(self) -> bool:
        """One reconciliation of the Warehouse: new Freight when a subscription's newest commit
        (that changes an included path) is not in the newest Freight yet."""
        found: dict[str, str] = {}
        for subscription in self.warehouse["spec"]["subscriptions"]:
            (kind, config), = subscription.items()
            assert kind == "git", f"subscription type {kind!r} is not interpreted"
            unknown = set(config) - {"repoURL", "branch", "commitSelectionStrategy", "includePaths"}
            assert not unknown, f"git subscription settings not interpreted: {unknown}"
            assert config.get("commitSelectionStrategy", "NewestFromBranch") == "NewestFromBranch"
            local = self.url_map[config["repoURL"]]
            branch = config.get("branch") or "main"
            paths = config.get("includePaths") or []
            assert not any(p.startswith(("glob:", "regex:", "regexp:")) for p in paths), "only base-dir selectors"
            commit = self.git(local, "log", "-1", "--format=%H", f"refs/heads/{branch}", "--", *paths).strip()
            if commit:
                found[config["repoURL"]] = commit
        if not found or (self.freight and self.freight[-1] == found):
            return False
        self.freight.append(found)
        return True

    # --- Stages ------------------------------------------------------------------------------

    def available(self, stage: str) -> list[int]:
        """Indexes of the Freight the Stage may be promoted to."""
        requests = self.stages[stage]["spec"]["requestedFreight"]
        assert len(requests) == 1 and requests[0]["origin"] == {"kind": "Warehouse",
                                                                 "name": self.warehouse["metadata"]["name"]}
        sources = requests[0]["sources"]
        if sources.get("direct"):
            return list(range(len(self.freight)))
        return sorted({i for upstream in sources.get("stages", []) for i in self.verified.get(upstream, [])})

    def promote(self, stage: str, freight: int) -> dict:
        """Run the Stage's promotion steps for a piece of Freight; returns the step outputs."""
        if freight not in self.available(stage):
            raise PromotionFailed(f"Freight {freight} is not available to Stage {stage}")
        spec = self.stages[stage]["spec"]
        variables = {v["name"]: v["value"] for v in spec.get("vars", [])}
        workdir = Path(tempfile.mkdtemp(prefix=f"promotion-{stage}-", dir=self.work))
        state = _State(self, stage, self.freight[freight], variables, workdir)
        for step in spec["promotionTemplate"]["spec"]["steps"]:
            unknown = set(step) - {"uses", "as", "config"}
            assert not unknown, f"step fields not interpreted: {unknown}"
            runner = getattr(state, "step_" + step["uses"].replace("-", "_"), None)
            assert runner is not None, f"step {step['uses']!r} is not interpreted"
            output = runner(state.evaluate(step.get("config", {})))
            if "as" in step:
                state.outputs[step["as"]] = output or {}
        self.current[stage] = freight
        return state.outputs

    def verify(self, stage: str, passed: bool) -> list[str]:
        """The Stage's verification, with the analysis result given (the queries themselves are
        proven on Prometheus elsewhere); returns the AnalysisTemplates it runs."""
        templates = [t["name"] for t in self.stages[stage]["spec"].get("verification", {}).get("analysisTemplates", [])]
        if passed:
            self.verified.setdefault(stage, []).append(self.current[stage])
        return templates

    def live(self, app_key: str) -> dict[str, str]:
        """What Argo CD deploys for an Application now: the files under its path at the revision
        it was synced to (which must still be where its targetRevision points)."""
        app = self.applications[app_key]
        source = app["spec"]["source"]
        local = self.url_map[source["repoURL"]]
        head = self.git(local, "rev-parse", f"refs/heads/{source['targetRevision']}").strip()
        assert self.synced.get(app_key) == head, f"{app_key} is not synced to {source['targetRevision']}"
        prefix = source["path"].rstrip("/") + "/"
        names = self.git(local, "ls-tree", "-r", "--name-only", head, "--", source["path"]).splitlines()
        return {n[len(prefix):]: self.git(local, "show", f"{head}:{n}") for n in names}


@dataclass
class _State:
    kargo: Kargo
    stage: str
    freight: dict[str, str]
    vars: dict[str, str]
    workdir: Path
    outputs: dict[str, dict] = field(default_factory=dict)
    bare: dict[str, Path] = field(default_factory=dict)

    # --- expressions -------------------------------------------------------------------------

    def evaluate(self, value):
        if isinstance(value, dict):
            return {k: self.evaluate(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.evaluate(v) for v in value]
        if isinstance(value, str):
            return EXPRESSION.sub(lambda m: str(self.expression(m.group(1))), value)
        return value

    def expression(self, text: str):
        if m := re.fullmatch(r"vars\.(\w+)", text):
            return self.vars[m.group(1)]
        if text == "ctx.stage":
            return self.stage
        if text == "ctx.project":
            return self.kargo.project
        if m := re.fullmatch(r"commitFrom\((.+)\)\.ID", text):
            url = self.expression(m.group(1)) if not m.group(1).startswith(("'", '"')) else m.group(1)[1:-1]
            return self.freight[url]
        if m := re.fullmatch(r"outputs(?:\.([\w]+)|\['([\w-]+)'\])\.(\w+)", text):
            return self.outputs[m.group(1) or m.group(2)][m.group(3)]
        raise AssertionError(f"expression not interpreted: {text!r}")

    def path(self, relative: str) -> Path:
        resolved = (self.workdir / relative).resolve()
        assert resolved.is_relative_to(self.workdir.resolve()), f"{relative} leaves the work folder"
        return resolved

    # --- steps -------------------------------------------------------------------------------

    def step_git_clone(self, config: dict) -> dict:
        assert set(config) <= {"repoURL", "checkout"}, config
        url = config["repoURL"]
        bare = self.workdir / ".repo"
        git = self.kargo.git
        git(self.workdir, "clone", "--quiet", "--bare", url, str(bare))
        git(bare, "config", "remote.origin.url", url)
        self.bare[url] = bare
        commits = {}
        for checkout in config["checkout"]:
            assert set(checkout) <= {"commit", "branch", "create", "path", "as"}, checkout
            target = self.path(checkout["path"])
            if "commit" in checkout:
                git(bare, "worktree", "add", "--quiet", "--detach", str(target), checkout["commit"])
            else:
                branch = checkout["branch"]
                exists = git(bare, "ls-remote", "--heads", "origin", f"refs/heads/{branch}").strip()
                if not exists:
                    if not checkout.get("create"):
                        raise PromotionFailed(f"remote branch {branch!r} does not exist")
                    self._create_orphan(bare, branch)
                git(bare, "fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/heads/{branch}")
                git(bare, "worktree", "add", "--quiet", str(target), branch)
            commits[checkout.get("as") or checkout["path"]] = git(target, "rev-parse", "HEAD").strip()
        return {"commits": commits}

    def _create_orphan(self, bare: Path, branch: str) -> None:
        """ensureRemoteBranch: an empty orphaned branch with an empty "Initial commit", pushed."""
        tmp = Path(tempfile.mkdtemp(prefix="orphan-", dir=self.workdir))
        git = self.kargo.git
        git(bare, "worktree", "add", "--quiet", "--detach", str(tmp))
        git(tmp, "checkout", "--quiet", "--orphan", branch)
        git(tmp, "rm", "-rf", "--quiet", "--ignore-unmatch", ".")
        git(tmp, "commit", "--quiet", "--allow-empty", "-m", "Initial commit")
        git(tmp, "push", "--quiet", "origin", f"{branch}:refs/heads/{branch}")
        git(bare, "worktree", "remove", "--force", str(tmp))
        git(bare, "branch", "-D", branch)

    def step_git_clear(self, config: dict) -> None:
        assert set(config) == {"path"}, config
        tree = self.path(config["path"])
        self.kargo.git(tree, "add", ".")
        self.kargo.git(tree, "rm", "-rf", "--quiet", "--ignore-unmatch", ".")

    def step_copy(self, config: dict) -> None:
        assert set(config) == {"inPath", "outPath"}, config
        source, target = self.path(config["inPath"]), self.path(config["outPath"])
        if not source.exists():
            raise PromotionFailed(f"copy: {config['inPath']} does not exist")
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            return
        for item in source.rglob("*"):
            relative = item.relative_to(source)
            if ".git" in relative.parts or item.is_symlink():
                continue
            if item.is_dir():
                (target / relative).mkdir(parents=True, exist_ok=True)
            else:
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(item, target / relative)

    def step_git_commit(self, config: dict) -> dict:
        assert set(config) == {"path", "message"}, config
        tree = self.path(config["path"])
        git = self.kargo.git
        git(tree, "add", "--all")
        if git(tree, "status", "--porcelain").strip():
            git(tree, "commit", "--quiet", "-m", config["message"])
        return {"commit": git(tree, "rev-parse", "HEAD").strip()}

    def step_git_push(self, config: dict) -> dict:
        assert set(config) == {"path"}, config
        tree = self.path(config["path"])
        git = self.kargo.git
        branch = git(tree, "rev-parse", "--abbrev-ref", "HEAD").strip()
        git(tree, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        return {"branch": branch, "commit": git(tree, "rev-parse", "HEAD").strip()}

    def step_argocd_update(self, config: dict) -> None:
        assert set(config) == {"apps"}, config
        for app_update in config["apps"]:
            assert set(app_update) <= {"name", "namespace", "sources"}, app_update
            key = f"{app_update.get('namespace', 'argocd')}/{app_update['name']}"
            app = self.kargo.applications.get(key)
            if app is None:
                raise PromotionFailed(f"no Argo CD Application {key}")
            allowed = (app["metadata"].get("annotations") or {}).get(AUTHORIZED_STAGE)
            if allowed != f"{self.kargo.project}:{self.stage}":
                raise PromotionFailed(f"Application {key} does not permit mutation by Stage {self.stage}")
            source = app["spec"]["source"]
            for update in app_update.get("sources", []):
                assert set(update) <= {"repoURL", "desiredRevision"}, update
                if update["repoURL"] != source["repoURL"]:
                    continue
                # Argo CD syncs the Application: it deploys what its targetRevision points at, which must be
                # the revision Kargo waits for (else the Stage never becomes healthy).
                local = self.kargo.url_map[source["repoURL"]]
                head = self.kargo.git(local, "rev-parse", f"refs/heads/{source['targetRevision']}").strip()
                if head != update["desiredRevision"]:
                    raise PromotionFailed(f"{key} tracks {source['targetRevision']} at {head}, not the desired"
                                          f" {update['desiredRevision']}")
                self.kargo.synced[key] = head
