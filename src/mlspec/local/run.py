"""Set up a local run: the work folder (spec copy, generated files), sample sources (files,
and DuckDB tables for SQL sources), and a migrated Airflow home; see mlspec.local.stages for
what runs."""

from __future__ import annotations

from pathlib import Path

from mlspec.errors import UsageError
from mlspec.local.airflow_home import AirflowHome, run_python
from mlspec.local.data import write_sources
from mlspec.local.repos import Deployer
from mlspec.local.stages import LocalRun
from mlspec.local.workspace import prepare_workspace


def start_local_run(spec_file: Path, workdir: Path, model: str | None = None, *,
                    deployer: Deployer | None = None, unit=None, data=None) -> LocalRun:
    """The prepared run. `deployer`: mlspec's publish and promote, which the promote stage
    calls (without one that stage is skipped); the CLI hands in gitops' (local_deployer).
    `unit`: the spec as the front end read it (compiler.session.SpecUnit), when the caller
    has, so that it is read once. `data`: the checked rows of `--data DIR`
    (mlspec.local.user_data.UserData), used in place of the sample of their datasets."""
    workspace = prepare_workspace(spec_file, workdir, unit=unit)
    models = list(workspace.system.models)
    if model is not None:
        models = [m for m in models if m.name == model]
        if not models:
            known = ", ".join(m.name for m in workspace.system.models) or "none"
            raise UsageError(f"{spec_file} has no model `{model}` (its models: {known})")
    sources = write_sources(workspace.system, workspace.databases, where=workspace.where,
                            locate=workspace.sql_place, own=data)
    logs = workspace.root / "logs"
    logs.mkdir(exist_ok=True)
    # Airflow, and the kfp steps it runs, on the run's own Python: `training.packages` are
    # installed there, not into the environment mlspec runs from.
    home = AirflowHome(workspace.root / "airflow", workspace.dags, run_python(workspace.root / "python"))
    home.migrate(logs / "airflow-db-migrate.log")
    return LocalRun(workspace, home, models, data_date=sources.day.isoformat(), sample=sources.frames,
                    deployer=deployer, own_data=tuple(data.datasets) if data is not None else ())
