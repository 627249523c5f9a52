"""The local run's Airflow metadata database: migrated once by the real `airflow db migrate`,
then copied for the next run from mlspec's cache, and the copy is a database Airflow itself
finds fully migrated (`airflow db check-migrations`)."""

from __future__ import annotations

import sqlite3

import pytest

from mlspec.local import processes
from mlspec.local.airflow_home import AirflowHome, migrated_database_cache


def tables(database) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}


@pytest.mark.slow
def test_the_second_run_copies_the_migrated_database_and_airflow_accepts_it(tmp_path, isolated_cache):
    dags = tmp_path / "dags"
    dags.mkdir()
    first = AirflowHome(tmp_path / "first", dags)
    first.migrate(tmp_path / "first.log")
    kept = migrated_database_cache()
    assert kept is not None and kept.is_relative_to(isolated_cache) and kept.is_file()
    assert "copied" not in (tmp_path / "first.log").read_text()

    second = AirflowHome(tmp_path / "second", dags)
    second.migrate(tmp_path / "second.log")
    assert "copied" in (tmp_path / "second.log").read_text()
    assert tables(second.path / "airflow.db") == tables(first.path / "airflow.db")
    checked = processes.run([*second.airflow(), "db", "check-migrations", "--migration-wait-timeout", "1"],
                            env=second.env(), timeout=300, cwd=second.path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_no_cache_means_no_copy(monkeypatch):
    monkeypatch.setenv("MLSPEC_NO_CACHE", "1")
    assert migrated_database_cache() is None


def test_a_new_airflow_package_is_a_new_database(monkeypatch):
    """The name follows the installed apache-airflow* packages: a provider added is a new key."""
    import importlib.metadata

    before = migrated_database_cache()
    real = importlib.metadata.distributions

    class Extra:
        metadata = {"Name": "apache-airflow-providers-example"}
        version = "1.0.0"

    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [*real(), Extra()])
    assert migrated_database_cache() not in (None, before)
