"""The GitOps deployments repository, and the names that reach git: folder paths from a
spec used as pathspecs, links committed in the repository, hooks and server policies
that refuse, option-like branch names and repository arguments, a new empty repository.
Publish passes git literal pathspecs and `--` before user values, writes only plain paths
inside the repository, never through a link, restores what it wrote when the commit
fails, and reports a server's refusal at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import run_mlspec
from support.git_repos import clone, files_at, git, git_env, log, make_remote
from support.trees import tree_state

from mlspec.errors import UsageError
from mlspec.compiler.deployments import SystemPlan
from mlspec.gitops.publish import publish

SECRET = "SECRETTOKEN"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return git_env(tmp_path / "home")


@pytest.fixture
def remote(tmp_path: Path, env) -> Path:
    return make_remote(tmp_path, env)


@pytest.fixture
def work(remote, env, tmp_path) -> Path:
    """A clone of the deployments repository with more than one file in it."""
    work = clone(remote, tmp_path / "work", env)
    (work / "other-team").mkdir()
    (work / "other-team/app.yaml").write_text("kind: ConfigMap\n")
    git(work, "add", "-A", env=env)
    git(work, "commit", "-q", "-m", "other team", env=env)
    return work


def _with_deployments_path(project: Path, path: str) -> None:
    spec = project / "specs/customer-churn.yaml"
    text = spec.read_text()
    assert "path: deployments}" in text
    spec.write_text(text.replace("path: deployments}", f"path: {path!r}}}"))


def _plan(root: str) -> SystemPlan:
    return SystemPlan("churn", "specs/churn.yaml", "0" * 64, files={f"{root}/prod/x.yaml": "kind: X\n"},
                      targets={f"{root}/prod/x.yaml": "kserve"}, roots=(root,))


def _in_process_env(monkeypatch, env: dict[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("root", [":!nothing", ":(exclude)nothing", "*", ".git", ".git/objects", "a/../.git",
                                  "-x", "../outside", "/tmp/abs", "a//b", "a/./b", ".hidden"])
def test_a_deployments_folder_that_is_not_a_plain_path_is_refused(work, env, monkeypatch, root):
    """Attack: `platform.deployments.path: ":!nothing"` is a git pathspec that matches every
    file but `nothing`, so publish deleted the whole deployments repository; `.git` (with a
    system named `objects`) emptied `.git/objects`. The spec's validation may be bypassed
    (a hand-made plan here), so publish refuses such folders itself."""
    _in_process_env(monkeypatch, env)
    before = tree_state(work)
    head = git(work, "rev-parse", "HEAD", env=env)

    with pytest.raises(UsageError, match="not a plain relative path"):
        publish([_plan(root)], str(work), None, False)

    assert tree_state(work) == before
    assert git(work, "rev-parse", "HEAD", env=env) == head
    git(work, "fsck", "--no-progress", env=env)


@pytest.mark.parametrize("path", [":!nothing", ".git"])
def test_publishing_a_spec_with_a_pathspec_as_its_deployments_folder_changes_nothing(project, work, env, path):
    """Attack: the same through `mlspec publish` and a spec in a pull request. Refused
    (by the spec's validation or by publish itself); the repository is untouched."""
    _with_deployments_path(project, path)
    before = tree_state(work)

    result = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(work), cwd=project, env=env)

    assert result.returncode in (1, 2), result.stderr
    assert "Traceback" not in result.stderr
    assert tree_state(work) == before
    assert log(work, env)[0] == "other team"


def test_pathspec_characters_in_an_owned_folder_are_taken_literally(work, env, monkeypatch):
    """A plain folder name may still hold pathspec glob characters for git (`[`, `*` are
    refused above; `.` and `-` are not magic): git gets every path literally, so nothing
    outside the owned folder is listed, staged or deleted."""
    _in_process_env(monkeypatch, env)
    (work / "deployments-other").mkdir()
    (work / "deployments-other/keep.yaml").write_text("kind: Keep\n")
    git(work, "add", "-A", env=env)
    git(work, "commit", "-q", "-m", "keep", env=env)

    outcome = publish([_plan("deployments")], str(work), None, False)

    assert outcome.commit
    published = files_at(work, "HEAD", env)
    assert published["deployments-other/keep.yaml"] == "kind: Keep\n"
    assert published["other-team/app.yaml"] == "kind: ConfigMap\n"


def test_a_linked_folder_in_the_deployments_repo_is_not_written_through(project, work, env, outside):
    """Attack: commit `deployments -> /some/folder` in the deployments repository: publish
    deletes the files it finds there that it does not produce, and writes its manifests
    there, outside the repository."""
    (work / "deployments").symlink_to(outside)
    git(work, "add", "-A", env=env)
    git(work, "commit", "-q", "-m", "link", env=env)
    before = tree_state(outside)

    result = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(work), cwd=project, env=env)

    assert result.returncode == 4, result.stderr
    assert "symbolic link" in result.stderr and "Traceback" not in result.stderr
    assert tree_state(outside) == before
    assert git(work, "status", "--porcelain", env=env) == ""


def test_a_link_inside_an_owned_folder_is_replaced_not_followed(project, work, env, outside):
    """Attack: the link one level down, inside the folder publish owns:
    `deployments/customer-churn/prod -> outside`. The link is publish's to replace (it is
    an entry of its own folder): removed without being followed, and a real folder holds
    the manifests; nothing outside changes."""
    (work / "deployments/customer-churn").mkdir(parents=True)
    (work / "deployments/customer-churn/prod").symlink_to(outside)
    (work / "deployments/customer-churn/dev").mkdir()
    (work / "deployments/customer-churn/dev/kustomization.yaml").symlink_to(outside / "credentials")
    git(work, "add", "-A", env=env)
    git(work, "commit", "-q", "-m", "link", env=env)
    before = tree_state(outside)

    result = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(work), cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    assert tree_state(outside) == before
    prod = work / "deployments/customer-churn/prod"
    assert prod.is_dir() and not prod.is_symlink() and (prod / "kustomization.yaml").is_file()
    kustomization = work / "deployments/customer-churn/dev/kustomization.yaml"
    assert not kustomization.is_symlink() and SECRET not in kustomization.read_text()
    assert git(work, "status", "--porcelain", env=env) == ""


def test_diff_against_the_repo_does_not_print_linked_files(project, work, env, outside):
    """Attack: commit `deployments/customer-churn/prod/inferenceservice-churn.yaml ->
    ~/.git-credentials`: `mlspec diff --repo` prints the file's old content in the
    pull-request comment."""
    folder = work / "deployments/customer-churn/prod"
    folder.mkdir(parents=True)
    (folder / "inferenceservice-churn.yaml").symlink_to(outside / "credentials")
    (folder / "extra.yaml").symlink_to("/proc/self/environ")
    git(work, "add", "-A", env=env)
    git(work, "commit", "-q", "-m", "links", env=env)

    result = run_mlspec("diff", "specs/customer-churn.yaml", "--repo", str(work), cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout and "GIT_CONFIG_GLOBAL" not in result.stdout
    assert "symbolic link: not a file mlspec wrote; not read" in result.stdout


REFUSING_PRE_COMMIT = "#!/bin/sh\necho 'policy: commits need a ticket number' >&2\nexit 1\n"


def test_a_commit_refused_by_a_hook_leaves_the_repository_clean(project, work, env):
    """Attack (or policy): a pre-commit hook that refuses. Publish left its files staged
    and reported an empty error; every later publish then refused the dirty repository.
    Now the hook's message is shown and the owned folders are put back as HEAD has them."""
    hook = work / ".git/hooks/pre-commit"
    hook.write_text(REFUSING_PRE_COMMIT)
    hook.chmod(0o755)
    silent = work / ".git/hooks/commit-msg"

    result = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(work), cwd=project, env=env)

    assert result.returncode == 4
    assert "policy: commits need a ticket number" in result.stderr
    assert git(work, "status", "--porcelain", "--untracked-files=all", env=env) == ""
    assert not (work / "deployments").exists()
    # a hook that refuses silently: still a message that says what happened
    hook.unlink()
    silent.write_text("#!/bin/sh\nexit 1\n")
    silent.chmod(0o755)
    result = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(work), cwd=project, env=env)
    assert result.returncode == 4 and "git printed nothing" in result.stderr, result.stderr
    assert git(work, "status", "--porcelain", "--untracked-files=all", env=env) == ""
    silent.unlink()
    again = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(work), cwd=project, env=env)
    assert again.returncode == 0, again.stderr
    assert log(work, env)[0].startswith("mlspec publish: customer-churn")


def test_a_commit_refused_on_an_update_keeps_the_previous_deployment(project, work, env):
    """The same refusal on a second publish: the files of the first stay as committed."""
    assert run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(work), cwd=project,
                      env=env).returncode == 0
    committed = files_at(work, "HEAD", env)
    spec = project / "specs/customer-churn.yaml"
    text = spec.read_text()
    assert "replicas: {min: 1, max: 5}" in text
    spec.write_text(text.replace("replicas: {min: 1, max: 5}", "replicas: {min: 2, max: 5}"))
    hook = work / ".git/hooks/pre-commit"
    hook.write_text(REFUSING_PRE_COMMIT)
    hook.chmod(0o755)

    result = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(work), cwd=project, env=env)

    assert result.returncode == 4
    assert git(work, "status", "--porcelain", "--untracked-files=all", env=env) == ""
    assert {p: (work / p).read_text() for p in committed} == committed


DECLINING_PRE_RECEIVE = "#!/bin/sh\necho 'GL-HOOK-ERR: pushes to main need a merge request' >&2\nexit 1\n"


def test_a_push_refused_by_the_servers_policy_is_reported_at_once(project, remote, env):
    """A pre-receive hook that declines (a protected branch): the refusal was taken for a
    race, rebased and retried 8 times, then reported as "it keeps moving". Now it is
    reported at once with the server's own message."""
    hook = remote / "hooks/pre-receive"
    hook.write_text(DECLINING_PRE_RECEIVE)
    hook.chmod(0o755)

    result = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(remote), cwd=project, env=env)

    assert result.returncode == 4
    assert "pushes to main need a merge request" in result.stderr
    assert "retrying" not in result.stderr and "keeps moving" not in result.stderr
    assert log(remote, env) == ["initial"]


@pytest.mark.parametrize("empty", [False, True], ids=["seeded", "empty"])
@pytest.mark.parametrize("branch", ["--force", "-x", "HEAD", "a..b", "@{-1}", "x\nmain", "main.lock"])
def test_option_like_and_invalid_branch_names_are_refused(project, tmp_path, remote, env, branch, empty):
    """Attack: `--branch --force` / `-x` reached `git checkout -b`, `git symbolic-ref` and
    `git push` as given: on an empty bare repository, a branch named `--force` was created
    (every later `git push origin --force` is then ambiguous); elsewhere git's own refusal
    was the only check."""
    if empty:
        remote = tmp_path / "empty.git"
        git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(remote), env=env)

    result = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(remote), "--branch", branch,
                        cwd=project, env=env)

    assert result.returncode == 2, result.stderr
    assert "not a valid branch name" in result.stderr
    refs = git(remote, "for-each-ref", "--format=%(refname)", env=env).split()
    assert refs == ([] if empty else ["refs/heads/main"])


def test_a_repository_argument_that_looks_like_an_option_never_reaches_git_as_one(project, tmp_path, env):
    """Attack: `--repo '--upload-pack=touch PWNED;:@x'` (it passes the check for an scp-like
    URL) reached `git clone` and `git ls-remote` as an option. Refused; git runs nothing."""
    marker = tmp_path / "PWNED"
    for command in (["publish", "specs/customer-churn.yaml"], ["diff", "specs/customer-churn.yaml"]):
        result = run_mlspec(*command, "--repo", f"--upload-pack=touch {marker};:@x", cwd=project, env=env)
        assert result.returncode == 2, result.stderr
        assert "cannot start with `-`" in result.stderr
    assert not marker.exists()


def test_publishing_to_an_empty_bare_repository_creates_the_branch_argo_cd_tracks(project, tmp_path):
    """A new, empty deployments repository (git's default branch `master` on this machine):
    publish created `master` while every Application tracks `main`
    (`platform.deployments.revision`), so Argo CD never saw the commit."""
    home = tmp_path / "plain-home"
    home.mkdir()
    (home / "gitconfig").write_text("")  # no init.defaultBranch: git's own default (master)
    env = {**git_env(home)}
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "--quiet", "--bare", str(empty), env=env)
    assert git(empty, "symbolic-ref", "HEAD", env=env).strip() == "refs/heads/master"

    result = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(empty), cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    assert git(empty, "for-each-ref", "--format=%(refname)", env=env).split() == ["refs/heads/main"]
    assert "deployments/customer-churn/prod/kustomization.yaml" in files_at(empty, "main", env)


@pytest.mark.parametrize("bare_head", ["master", "trunk"])
def test_publish_push_from_a_fresh_clone_of_an_empty_repository_pushes_the_branch_argo_cd_tracks(
        project, tmp_path, bare_head):
    """The README's own set-up: a new, empty deployments repository, cloned, then `mlspec
    publish --repo <clone> --push`. With git's default branch `master` (init.defaultBranch),
    publish committed and pushed `master` while every Application tracks `main`
    (`platform.deployments.revision`), so nothing deployed and nothing said why."""
    home = tmp_path / "master-home"
    home.mkdir()
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = master\n")
    env = git_env(home)
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", bare_head, str(empty), env=env)
    work = tmp_path / "deployments"
    git(tmp_path, "clone", "--quiet", str(empty), str(work), env=env)
    # The clone's unborn branch: the remote's HEAD (git >= 2.31), or init.defaultBranch.
    assert git(work, "symbolic-ref", "HEAD", env=env).strip() in ("refs/heads/master", f"refs/heads/{bare_head}")

    result = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(work), "--push", cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    assert git(empty, "for-each-ref", "--format=%(refname)", env=env).split() == ["refs/heads/main"]
    assert "deployments/customer-churn/prod/kustomization.yaml" in files_at(empty, "main", env)
    assert git(work, "symbolic-ref", "--short", "HEAD", env=env).strip() == "main"
    # The clone's main tracks the remote's: a second publish (or `git pull`) just works.
    assert git(work, "rev-parse", "--abbrev-ref", "main@{upstream}", env=env).strip() == "origin/main"


def test_publish_into_a_new_repository_with_no_remote_commits_on_the_branch_argo_cd_tracks(project, tmp_path):
    """`git init` (default branch master), then publish without --push: the first commit is
    made on the branch the Applications track, ready to push."""
    home = tmp_path / "master-home"
    home.mkdir()
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = master\n")
    env = git_env(home)
    work = tmp_path / "deployments"
    git(tmp_path, "init", "--quiet", str(work), env=env)

    result = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(work), cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    assert git(work, "for-each-ref", "--format=%(refname)", env=env).split() == ["refs/heads/main"]


def test_publish_push_from_a_new_work_tree_of_a_repository_with_history_builds_on_it(project, tmp_path, remote):
    """`git init` (default branch master) and `git remote add origin` of a deployments
    repository that has commits on main: the first publish commits on top of the remote's
    main and pushes there, rather than an unrelated `master`."""
    home = tmp_path / "master-home"
    home.mkdir()
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = master\n")
    env = git_env(home)
    work = tmp_path / "deployments"
    git(tmp_path, "init", "--quiet", str(work), env=env)
    git(work, "remote", "add", "origin", str(remote), env=env)

    result = run_mlspec("publish", "specs/customer-churn.yaml", "--repo", str(work), "--push", cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    assert git(remote, "for-each-ref", "--format=%(refname)", env=env).split() == ["refs/heads/main"]
    assert log(remote, env)[1:] == ["initial"]
    assert "README.md" in files_at(remote, "main", env)
