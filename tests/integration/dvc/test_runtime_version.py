"""The ingestion DAG's versioning task (mlspec.runtime.airflow_tasks.version), called in this
process: the real `dvc` adds the staged file and pushes it to the remote. (The task bodies that
need no tool: tests/unit/runtime/test_runtime_airflow_tasks.py.)"""

from __future__ import annotations

import hashlib

import pytest

from support.runtime_tasks import CONTEXT, GOOD, ingest_config
from support.runtime_tasks import no_airflow  # noqa: F401 (an autouse fixture)
from mlspec.runtime import airflow_tasks as tasks


@pytest.mark.slow  # four `dvc` commands in subprocesses, about a second each
def test_version_adds_the_staged_file_to_dvc_and_pushes_it_to_the_remote(tmp_path):
    remote = tmp_path / "remote"
    config = ingest_config(tmp_path, dvc_repo=["mlspec__shop__dvc_repo", str(tmp_path / "dvc-repo")])
    config["dvc"] = {"remote": "lake", "url": str(remote), "path": "data/customers.parquet", "config": "dvc/config"}
    staged = tasks.staging_path(config, CONTEXT)
    GOOD.to_parquet(staged)
    md5 = hashlib.md5(open(staged, "rb").read()).hexdigest()
    assert tasks.version(config, CONTEXT) == {"path": "data/customers.parquet", "md5": md5, "remote": str(remote)}
    assert (remote / "files" / "md5" / md5[:2] / md5[2:]).read_bytes() == open(staged, "rb").read()
    assert "md5: " + md5 in (tmp_path / "dvc-repo" / "data" / "customers.parquet.dvc").read_text()


@pytest.mark.slow
def test_version_works_in_a_folder_its_git_work_tree_ignores(tmp_path):
    """A DVC repository under a git-ignored folder (`mlspec run --local`'s `.mlspec/run/...` in a
    checkout): DVC refuses `init --subdir` there, so the task makes it a repository of its own."""
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("/work/\n")
    repo = tmp_path / "work" / "dvc-repo"
    config = ingest_config(tmp_path, dvc_repo=["mlspec__shop__dvc_repo", str(repo)])
    config["dvc"] = {"remote": "lake", "url": str(tmp_path / "remote"), "path": "data/customers.parquet",
                     "config": "dvc/config"}
    GOOD.to_parquet(tasks.staging_path(config, CONTEXT))
    assert tasks.version(config, CONTEXT)["md5"]
    assert (repo / ".dvc" / "config").exists() and (repo / "data" / "customers.parquet.dvc").exists()
