"""What `mlspec run --local` needs installed: the real tools of the `local` extra.

Checked before any work (compiling, migrating Airflow), so a missing tool costs a second and
names the one command that installs them all."""

from __future__ import annotations

import importlib.util

EXTRA = "local"
INSTALL = f"pip install 'mlspec[{EXTRA}]'"

# import name -> the distribution of the `local` extra that provides it (pyproject.toml).
MODULES = {
    "airflow": "apache-airflow",
    "airflow.providers.openlineage": "apache-airflow-providers-openlineage",  # the run's lineage events
    "duckdb_provider": "airflow-provider-duckdb",  # the hook of the `duckdb` connections SQL sources use
    "duckdb": "duckdb",
    "feast": "feast",
    "great_expectations": "great-expectations",
    "evidently": "evidently",
    "dvc": "dvc",
    "mlflow": "mlflow",
    "kfp.kubernetes": "kfp-kubernetes",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
    "sklearn": "scikit-learn",
    "fairlearn": "fairlearn",
    "lightgbm": "lightgbm",  # the ranker of `task: ranking` models
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing, or a broken install
        return False


def missing_tools() -> list[str]:
    """The distributions of the `local` extra that are not importable here, sorted."""
    return sorted({dist for module, dist in MODULES.items() if not _installed(module)})


def missing_tools_message(missing: list[str]) -> str:
    return (f"`mlspec run --local` needs the tools of the `{EXTRA}` extra; missing: {', '.join(missing)}.\n"
            f"Install them with: {INSTALL}")
