"""The CI integrations as their platforms run them, with the real tools:

- action.yml, the example workflow and the GitLab template validate against GitHub's and
  GitLab's schemas (check-jsonschema's offline copies), and zizmor finds nothing in the action
  or the workflow;
- every shell step passes shellcheck (Debian's; under CI=true its absence is a failure);
- the action's steps run one after the other with bash, with the environment GitHub gives them,
  against real git repositories (a bare origin, a pull request's checkout), the comment step
  pointed at a loopback server that records the API calls: the first push creates the comment,
  the second updates the same one; the GitLab template's script does the same with a note.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SPECS
from support.forge_api import Forge, ForgeServer
from support.git_repos import git, git_env

ACTION = REPO / "action.yml"
WORKFLOW = REPO / "docs" / "ci" / "github-workflow.yml"
GITLAB = REPO / "docs" / "ci" / "gitlab-ci.yml"
BIN = Path(sys.executable).parent
MARKER = "<!-- mlspec-diff -->"


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(BIN))
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed: CI must install it (.ci/run)")
        pytest.skip(f"{name} is not installed (`apt-get install -y {name}`); CI installs it")
    return found


# --- schemas, zizmor, shellcheck --------------------------------------------------------------


@pytest.mark.parametrize(("path", "schema"), [(ACTION, "vendor.github-actions"),
                                              (WORKFLOW, "vendor.github-workflows"),
                                              (GITLAB, "vendor.gitlab-ci")])
def test_the_file_validates_against_its_platforms_schema(path, schema):
    result = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", schema, str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schemas_do_refuse_a_broken_file(tmp_path):
    """The check above can fail: a step with neither `run` nor `uses` is not an action."""
    broken = tmp_path / "action.yml"
    broken.write_text(ACTION.read_text().replace("shell: bash", "shel: bash", 1))
    result = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(broken)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1


@pytest.mark.parametrize("path", [ACTION, WORKFLOW])
def test_zizmor_finds_nothing(path):
    result = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_would_find_a_template_injection(tmp_path):
    """What the audit is for: a pull request's branch name expanded inside a shell step."""
    bad = tmp_path / "action.yml"
    original = ACTION.read_text()
    bad.write_text(original.replace('read -ra spec_paths <<< "$SPECS"', 'echo "${{ github.head_ref }}"', 1))
    assert bad.read_text() != original
    result = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "template-injection" in result.stdout + result.stderr


def action_steps() -> list[dict]:
    return yaml.safe_load(ACTION.read_text())["runs"]["steps"]


def gitlab_script() -> str:
    return "\n".join(yaml.safe_load(GITLAB.read_text())["mlspec"]["script"])


SHELLS = [(f"action.yml: {s['name']}", s["run"]) for s in action_steps() if "run" in s] + [
    ("gitlab-ci.yml: mlspec", gitlab_script())]


@pytest.mark.parametrize(("name", "script"), SHELLS, ids=[name for name, _ in SHELLS])
def test_shellcheck_finds_nothing(name, script):
    assert all(s.get("shell") == "bash" for s in action_steps() if "run" in s)
    result = subprocess.run([_tool("shellcheck"), "--shell=bash", "--severity=style", "-"],
                            input=script, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{name}:\n{result.stdout}{result.stderr}"


def test_shellcheck_would_find_an_unquoted_expansion():
    result = subprocess.run([_tool("shellcheck"), "--shell=bash", "-"], input='rm -rf $base/x\n',
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "SC2086" in result.stdout


# --- the steps, run --------------------------------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def evaluate(expression: str, context: dict) -> str:
    """The few GitHub expressions the action uses: `inputs.X`, `github.X.Y...`, and `inputs.X ==
    'v'` in conditions; anything else fails the test, so the action cannot grow an expression
    this harness does not understand."""
    if (match := re.fullmatch(r"inputs\.([\w-]+) == '([^']*)'", expression)):
        return "true" if context["inputs"][match[1]] == match[2] else "false"
    if (match := re.fullmatch(r"(inputs|github)((?:\.[\w-]+)+)", expression)):
        value = context[match[1]]
        for part in match[2].split(".")[1:]:
            value = value.get(part, "") if isinstance(value, dict) else ""
        return "" if value is None else str(value)
    raise AssertionError(f"expression the test harness does not know: {expression}")


def substitute(text: str, context: dict) -> str:
    return EXPRESSION.sub(lambda m: evaluate(m[1], context), text)


def run_action(checkout: Path, *, env: dict, event: dict, inputs: dict, forge: Forge, runner: Path) -> list:
    """Run the action's steps as the runner does: each `run` with `bash -e {0}` in the workspace
    (or its working-directory), with the step's `env` over the job's; a failing step stops the rest."""
    declared = yaml.safe_load(ACTION.read_text())["inputs"]
    context = {"github": {"action_path": str(REPO), "token": forge.token, "event": event,
                          "event_name": "pull_request"}}
    context["inputs"] = {name: substitute(str(spec.get("default", "")), context) for name, spec in declared.items()}
    context["inputs"].update(inputs)
    runner.mkdir(parents=True, exist_ok=True)
    (runner / "event.json").write_text(json.dumps(event))
    summary = runner / "summary.md"
    base_env = {**env, "GITHUB_ACTIONS": "true", "RUNNER_TEMP": str(runner), "GITHUB_WORKSPACE": str(checkout),
                "GITHUB_EVENT_PATH": str(runner / "event.json"), "GITHUB_EVENT_NAME": "pull_request",
                "GITHUB_REPOSITORY": "acme/ml-specs", "GITHUB_API_URL": forge.url,
                "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTION_PATH": str(REPO)}
    results = []
    for step in action_steps():
        if "if" in step and substitute("${{ " + step["if"] + " }}", context) != "true":
            results.append((step["name"], None))
            continue
        step_env = {**base_env, **{k: substitute(str(v), context) for k, v in (step.get("env") or {}).items()}}
        cwd = checkout / substitute(step.get("working-directory", "."), context)
        script = runner / "step.sh"
        script.write_text(step["run"])
        result = subprocess.run(["bash", "-e", str(script)], cwd=cwd, env=step_env, capture_output=True,
                                text=True, timeout=600)
        results.append((step["name"], result))
        if result.returncode != 0:
            break
    return results


@pytest.fixture
def project(tmp_path):
    """A bare origin whose main holds a spec and its generated tree, and a pull request's
    checkout (a branch off main), as actions/checkout with fetch-depth 0 leaves it; `mlspec`
    on PATH runs this repository's code."""
    env = git_env(tmp_path / "home")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(origin), env=env)
    work = tmp_path / "work"
    git(tmp_path, "clone", "--quiet", str(origin), str(work), env=env)
    (work / "specs").mkdir()
    shutil.copy(SPECS / "minimal.yaml", work / "specs" / "minimal.yaml")
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "mlspec").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mlspec "$@"\n')
    (tools / "mlspec").chmod(0o755)
    env.update(PATH=f"{tools}{os.pathsep}{env['PATH']}", PYTHONPATH=str(REPO / "src"), NO_COLOR="1")
    env.pop("GITLAB_CI", None)
    compile_and_commit(work, env, "web-events spec")
    git(work, "push", "--quiet", "origin", "HEAD:refs/heads/main", env=env)
    base = git(work, "rev-parse", "HEAD", env=env).strip()
    git(work, "checkout", "--quiet", "-b", "tune", env=env)
    return {"work": work, "env": env, "base": base, "origin": origin}


def compile_and_commit(work: Path, env: dict, message: str) -> str:
    subprocess.run([sys.executable, "-m", "mlspec", "compile", "specs"], cwd=work, env=env, check=True,
                   capture_output=True, timeout=300)
    git(work, "add", "-A", env=env)
    git(work, "commit", "--quiet", "-m", message, env=env)
    return git(work, "rev-parse", "HEAD", env=env).strip()


def edit_schedule(work: Path, schedule: str) -> None:
    spec = work / "specs" / "minimal.yaml"
    spec.write_text(re.sub(r'schedule: "[^"]*"', f'schedule: "{schedule}"', spec.read_text(), count=1))


def pull_request(project, head_repo: str = "acme/ml-specs") -> dict:
    return {"pull_request": {"number": 7, "base": {"sha": project["base"], "ref": "main"},
                             "head": {"ref": "tune", "repo": {"full_name": head_repo}}}}


def assert_all_passed(results):
    for name, result in results:
        assert result is None or result.returncode == 0, f"step {name!r} failed:\n{result.stdout}\n{result.stderr}"


def test_two_pushes_make_one_comment_created_then_updated(project, tmp_path):
    work, env = project["work"], project["env"]
    with ForgeServer() as forge:
        edit_schedule(work, "@hourly")
        compile_and_commit(work, env, "hourly")
        first = run_action(work, env=env, event=pull_request(project), inputs={"install": "false"}, forge=forge,
                           runner=tmp_path / "run1")
        assert_all_passed(first)
        assert [name for name, result in first if result is not None] == [
            "mlspec validate", "mlspec diff, posted as one pull-request comment", "mlspec compile --check"]
        assert [(c.method, c.path) for c in forge.writes()] == [("POST", "/repos/acme/ml-specs/issues/7/comments")]
        body = forge.comments[0]["body"]
        # The diff is against the base branch's generated tree, which the pull request changed.
        assert body.startswith(MARKER + "\n## mlspec diff")
        assert "airflow/dags/web_events__ingest_page_views.py" in body and "@hourly" in body
        assert (tmp_path / "run1" / "summary.md").read_text() in body

        edit_schedule(work, "@weekly")  # the second push
        compile_and_commit(work, env, "weekly")
        second = run_action(work, env=env, event=pull_request(project), inputs={"install": "false"}, forge=forge,
                            runner=tmp_path / "run2")
        assert_all_passed(second)
        assert [(c.method, c.path) for c in forge.writes()] == [
            ("POST", "/repos/acme/ml-specs/issues/7/comments"),
            ("PATCH", f"/repos/acme/ml-specs/issues/comments/{forge.comments[0]['id']}")]
        assert len(forge.comments) == 1
        assert "@weekly" in forge.comments[0]["body"] and "@hourly" not in forge.comments[0]["body"]
    # The base's work tree is gone again; the checkout is as it was.
    assert git(work, "worktree", "list", "--porcelain", env=env).count("worktree ") == 1
    assert not git(work, "status", "--porcelain", env=env).strip()


def test_a_stale_generated_tree_fails_the_last_step_after_the_diff_is_posted(project, tmp_path):
    work, env = project["work"], project["env"]
    edit_schedule(work, "@hourly")
    git(work, "commit", "--quiet", "-am", "spec only, generated/ not recompiled", env=env)
    with ForgeServer() as forge:
        results = run_action(work, env=env, event=pull_request(project), inputs={"install": "false"}, forge=forge,
                             runner=tmp_path / "run")
        names = [name for name, result in results if result is not None]
        assert names[-1] == "mlspec compile --check" and results[-1][1].returncode == 1
        assert [c.method for c in forge.writes()] == ["POST"] and "@hourly" in forge.comments[0]["body"]


def test_an_invalid_spec_stops_at_validate_with_annotations(project, tmp_path):
    work, env = project["work"], project["env"]
    spec = work / "specs" / "minimal.yaml"
    spec.write_text(spec.read_text().replace("type: int64", "type: integer"))
    git(work, "commit", "--quiet", "-am", "a bad type", env=env)
    with ForgeServer() as forge:
        results = run_action(work, env=env, event=pull_request(project), inputs={"install": "false"}, forge=forge,
                             runner=tmp_path / "run")
        (name, result), = [(n, r) for n, r in results if r is not None]
        assert name == "mlspec validate" and result.returncode == 1
        assert re.search(r"^::error file=specs/minimal\.yaml,line=\d+", result.stdout, re.M), result.stdout
        assert not forge.calls


def test_a_pull_request_from_a_fork_gets_the_diff_in_the_summary_and_no_api_call(project, tmp_path):
    work, env = project["work"], project["env"]
    edit_schedule(work, "@hourly")
    compile_and_commit(work, env, "hourly")
    with ForgeServer() as forge:
        results = run_action(work, env=env, event=pull_request(project, head_repo="mallory/ml-specs"),
                             inputs={"install": "false"}, forge=forge, runner=tmp_path / "run")
        assert_all_passed(results)
        assert not forge.calls
        assert "@hourly" in (tmp_path / "run" / "summary.md").read_text()


def test_a_shallow_checkout_fetches_the_base_commit(project, tmp_path):
    """actions/checkout's default depth 1: the step fetches the base commit from origin."""
    env = project["env"]
    edit_schedule(project["work"], "@hourly")
    compile_and_commit(project["work"], env, "hourly")
    git(project["work"], "push", "--quiet", "origin", "tune", env=env)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "--quiet", "--depth=1", "--branch", "tune", f"file://{project['origin']}", str(shallow),
        env=env)
    with ForgeServer() as forge:
        results = run_action(shallow, env=env, event=pull_request(project), inputs={"install": "false"},
                             forge=forge, runner=tmp_path / "run")
        assert_all_passed(results)
        assert "@hourly" in forge.comments[0]["body"]


def test_the_gitlab_template_posts_one_note_and_updates_it(project, tmp_path):
    work, env = project["work"], project["env"]
    variables = {k: str(v) for k, v in yaml.safe_load(GITLAB.read_text())["variables"].items()}
    with ForgeServer() as forge:
        gitlab = {**env, **variables, "MLSPEC_INSTALL": "false", "GITLAB_CI": "true",
                  "CI_API_V4_URL": forge.url + "/api/v4", "CI_PROJECT_ID": "17", "CI_MERGE_REQUEST_IID": "3",
                  "CI_MERGE_REQUEST_DIFF_BASE_SHA": project["base"], "MLSPEC_GITLAB_TOKEN": forge.token,
                  "TMPDIR": str(tmp_path)}
        for schedule in ("@hourly", "@weekly"):
            edit_schedule(work, schedule)
            compile_and_commit(work, env, schedule)
            result = subprocess.run(["bash", "-c", gitlab_script()], cwd=work, env=gitlab, capture_output=True,
                                    text=True, timeout=600)
            assert result.returncode == 0, result.stdout + result.stderr
        assert [(c.method, c.path) for c in forge.writes()] == [
            ("POST", "/api/v4/projects/17/merge_requests/3/notes"),
            ("PUT", f"/api/v4/projects/17/merge_requests/3/notes/{forge.comments[0]['id']}")]
        assert len(forge.comments) == 1 and "@weekly" in forge.comments[0]["body"]


def test_the_readmes_minimal_files_validate_too(tmp_path):
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## CI in one file"):readme.index("## Performance")]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    for block, schema in zip(blocks, ("vendor.github-workflows", "vendor.gitlab-ci")):
        path = tmp_path / f"{schema}.yml"
        path.write_text(block)
        result = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", schema, str(path)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_the_install_step_installs_mlspec_that_runs_the_other_steps(project, tmp_path):
    """The action's default, `install: true`: a new virtual environment in RUNNER_TEMP, mlspec
    installed from the action's folder with the versions of its constraints file, and the later
    steps run that mlspec, not one on PATH (PATH's `mlspec` is made to fail here)."""
    work, env = project["work"], dict(project["env"])
    poisoned = tmp_path / "poisoned"
    poisoned.mkdir()
    (poisoned / "mlspec").write_text("#!/bin/sh\necho 'the mlspec on PATH ran' >&2\nexit 99\n")
    (poisoned / "mlspec").chmod(0o755)
    env["PATH"] = f"{poisoned}{os.pathsep}{os.environ['PATH']}"
    env.pop("PYTHONPATH", None)  # the installed package, not this checkout's src/
    # pip's cache of the machine (the test's HOME is a fresh folder), so the install reads what CI
    # already downloaded for the test environment.
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    edit_schedule(work, "@hourly")
    compile_and_commit(work, project["env"], "hourly")
    runner = tmp_path / "run"
    with ForgeServer() as forge:
        results = run_action(work, env=env, event=pull_request(project),
                             inputs={"install": "true", "python": sys.executable}, forge=forge, runner=runner)
        assert_all_passed(results)
        assert [name for name, result in results if result is not None] == [
            "Install mlspec", "mlspec validate", "mlspec diff, posted as one pull-request comment",
            "mlspec compile --check"]
        installed = runner / "mlspec-venv"
        version = subprocess.run([str(installed / "bin" / "mlspec"), "--version"], capture_output=True, text=True,
                                 env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, timeout=120)
        assert version.returncode == 0 and version.stdout.strip() in results[0][1].stdout
        # What the constraints file pins is what was installed.
        def canonical(name: str) -> str:
            return re.sub(r"[-_.]+", "-", name).lower()

        pins = {canonical(name): version.split(";")[0].strip()
                for name, _, version in (line.partition("==") for line in
                                         (REPO / "constraints" / "test.txt").read_text().splitlines())
                if version and not name.startswith("#")}
        frozen = subprocess.run([str(installed / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True,
                                text=True, timeout=120).stdout
        checked = 0
        for name, _, got in (line.partition("==") for line in frozen.splitlines()):
            if got and canonical(name) in pins:
                assert got == pins[canonical(name)], f"{name}: {got} installed, {pins[canonical(name)]} pinned"
                checked += 1
        assert checked >= 10, frozen  # pydantic, jinja2, click, kfp... all came from the constraints
        assert "@hourly" in forge.comments[0]["body"]


@pytest.mark.slow
def test_the_gitlab_templates_install_clones_the_pinned_version_and_runs_it(project, tmp_path):
    """MLSPEC_INSTALL=true: mlspec's repository cloned at MLSPEC_VERSION (here a bare copy of this
    repository with a tag on its HEAD), installed into a new venv with its constraints, and that
    mlspec runs the job (PATH's `mlspec` is made to fail)."""
    work, env = project["work"], dict(project["env"])
    mirror = tmp_path / "mlspec.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(REPO), str(mirror), env=env)
    git(mirror, "tag", "v9.9.9-test", "HEAD", env=env)
    poisoned = tmp_path / "poisoned"
    poisoned.mkdir()
    (poisoned / "mlspec").write_text("#!/bin/sh\necho 'the mlspec on PATH ran' >&2\nexit 99\n")
    (poisoned / "mlspec").chmod(0o755)
    env["PATH"] = f"{poisoned}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env.pop("PYTHONPATH", None)
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    edit_schedule(work, "@hourly")
    compile_and_commit(work, project["env"], "hourly")
    variables = {k: str(v) for k, v in yaml.safe_load(GITLAB.read_text())["variables"].items()}
    with ForgeServer() as forge:
        gitlab = {**env, **variables, "MLSPEC_INSTALL": "true", "MLSPEC_REPOSITORY": f"file://{mirror}",
                  "MLSPEC_VERSION": "v9.9.9-test", "GITLAB_CI": "true", "CI_API_V4_URL": forge.url + "/api/v4",
                  "CI_PROJECT_ID": "17", "CI_MERGE_REQUEST_IID": "3",
                  "CI_MERGE_REQUEST_DIFF_BASE_SHA": project["base"], "MLSPEC_GITLAB_TOKEN": forge.token,
                  "TMPDIR": str(tmp_path)}
        result = subprocess.run(["bash", "-c", gitlab_script()], cwd=work, env=gitlab, capture_output=True,
                                text=True, timeout=900)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "the mlspec on PATH ran" not in result.stderr
        assert [c.method for c in forge.writes()] == ["POST"] and "@hourly" in forge.comments[0]["body"]
