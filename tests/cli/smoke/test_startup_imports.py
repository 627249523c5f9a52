"""The CLI stays light: validating specs must not import the heavy libraries that only
some targets need (kfp, airflow, feast...). Measured, not timed: we look at sys.modules."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO

HEAVY = ("kfp", "airflow", "feast", "great_expectations", "evidently", "mlflow", "pandas", "dvc", "sklearn", "pygls",
         "lsprotocol")

PROBE = """
import json, sys
from mlspec.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="mlspec", standalone_mode=True)
except SystemExit as exit:
    code = exit.code
heavy = sorted({m for m in sys.modules if '.' not in m} & set(json.loads(HEAVY)))
print(json.dumps({"code": code, "heavy": heavy}))
"""


def _probe(*args: str) -> dict:
    code = PROBE.replace("json.loads(HEAVY)", repr(list(HEAVY)))
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_validate_imports_no_heavy_library():
    outcome = _probe("validate", "specs")
    assert outcome == {"code": 0, "heavy": []}


def test_schema_check_and_targets_import_no_heavy_library():
    assert _probe("schema", "--check")["heavy"] == []
    assert _probe("targets")["heavy"] == []


def test_the_language_server_is_imported_only_when_it_runs():
    """`mlspec lsp --help` (and every other command) works without loading pygls."""
    assert _probe("lsp", "--help") == {"code": 0, "heavy": []}


def test_the_plugin_api_module_is_cheap_to_import():
    """A plugin imports everything from `mlspec.targets`; doing so loads neither the template
    engine nor the spec models (nor any heavy library), so plugins cost the CLI nothing."""
    code = ("import sys\nfrom mlspec.targets import *\nimport mlspec.targets as api\n"
            "assert all(getattr(api, name) is not None for name in api.__all__)\n"
            "print(sorted({m for m in sys.modules if '.' not in m} & {'jinja2', 'pydantic', *%r}))" % (HEAVY,))
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
