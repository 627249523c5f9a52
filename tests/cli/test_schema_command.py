"""`mlspec schema --check`: the committed JSON Schema is fresh, and a stale one fails with the
diff and the command that rewrites it. (The schema itself: tests/unit/spec/test_schema.py.)"""

from __future__ import annotations

from conftest import REPO, invoke_mlspec

SCHEMA_FILE = REPO / "schema" / "mlspec.schema.json"


def test_committed_schema_is_fresh():
    result = invoke_mlspec("schema", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_fails_with_diff_and_command_when_stale(tmp_path):
    stale = tmp_path / "schema.json"
    stale.write_text(SCHEMA_FILE.read_text().replace('"Spec language version."', '"old text"'))
    result = invoke_mlspec("schema", "--check", "--out", str(stale))
    assert result.returncode == 1
    assert '-  "description": "old text"' in result.stdout or "old text" in result.stdout
    assert f"run `mlspec schema --out {stale}`" in result.stderr
