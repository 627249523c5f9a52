"""The validate/init/schema commands as a user meets them: renderings, exit codes, and the
starter spec."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from conftest import REPO, invoke_mlspec

BROKEN = """\
apiVersion: mlspec/v1alpha1
kind: MLSystem
metadata: {name: demo}
datasets:
  customers:
    columns: {id: {type: int64}, churn: {type: int8}}
models:
  churn:
    task: binary_classification
    features: [customer_featurs.total]
    label: customers.chrn
    training: {estimator: sklearn.linear_model.LogisticRegression}
"""


def _broken(tmp_path: Path) -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(BROKEN)
    return path


def test_human_output_shows_every_error_with_line_caret_and_help(tmp_path):
    _broken(tmp_path)
    result = invoke_mlspec("validate", "demo.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    err = result.stderr
    assert "error[E203]: unknown feature view `customer_featurs`" in err
    assert "--> demo.yaml:10:16" in err and "10 |     features: [customer_featurs.total]" in err
    assert "error[E204]: unknown label column `chrn`" in err and "did you mean `churn`?" in err
    assert err.index("E203") < err.index("E204"), "sorted by position"
    assert "\x1b[" not in err, "no colour when not on a terminal"
    assert err.rstrip().endswith("2 errors")


def test_json_format_is_machine_readable(tmp_path):
    _broken(tmp_path)
    result = invoke_mlspec("validate", "demo.yaml", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["errors"] == 2
    first = payload["diagnostics"][0]
    assert (first["code"], first["file"], first["line"], first["col"], first["path"]) == \
        ("E203", "demo.yaml", 10, 16, "models.churn.features[0]")


def test_github_format_annotates_the_pull_request(tmp_path):
    _broken(tmp_path)
    result = invoke_mlspec("validate", "demo.yaml", "--format", "github", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("::error file=demo.yaml,line=10,col=16,")
    assert "title=E203::unknown feature view `customer_featurs`" in lines[0]
    assert len(lines) == 2


def test_valid_specs_exit_0_and_usage_errors_exit_2(tmp_path):
    assert invoke_mlspec("validate", "specs").returncode == 0
    missing = invoke_mlspec("validate", "no/such/file.yaml")
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke_mlspec("validate", str(empty)).returncode == 2
    assert invoke_mlspec("validate", "--format", "xml", "specs").returncode == 2


def test_init_writes_a_commented_starter_that_validates(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "schema").mkdir()
    shutil.copy(REPO / "schema/mlspec.schema.json", tmp_path / "schema")
    result = invoke_mlspec("init", "fraud-detection", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    spec = tmp_path / "specs/fraud-detection.yaml"
    text = spec.read_text()
    assert text.startswith("# yaml-language-server: $schema=../schema/mlspec.schema.json\n")
    assert text.count("\n#") >= 5, "the starter explains itself"
    assert yaml.safe_load(text)["metadata"]["name"] == "fraud-detection"
    assert invoke_mlspec("validate", "specs/fraud-detection.yaml", cwd=tmp_path).returncode == 0
    again = invoke_mlspec("init", "fraud-detection", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert spec.read_text() == text


def test_init_refuses_a_name_kubernetes_would_refuse(tmp_path):
    result = invoke_mlspec("init", "Fraud_Detection", cwd=tmp_path)
    assert result.returncode == 2 and "lower-case" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_pre_commit_hooks_run_mlspec():
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"]: h["entry"] for h in hooks}["mlspec-validate"] == "mlspec validate"


def test_init_outside_a_project_writes_the_schema_its_modeline_names(tmp_path):
    result = invoke_mlspec("init", "fraud-detection", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first = (tmp_path / "fraud-detection.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=schema/mlspec.schema.json"
    written = json.loads((tmp_path / "schema/mlspec.schema.json").read_text())
    assert written["title"] == "mlspec MLSystem"
    assert "wrote schema/mlspec.schema.json" in result.stderr


def test_a_spec_path_with_a_newline_is_refused_before_anything_is_written(tmp_path):
    """A folder name with a newline would put lines of its own into every generated header."""
    folder = tmp_path / "specs" / "team\napiVersion: v1"
    folder.mkdir(parents=True)
    shutil.copy(REPO / "specs/minimal.yaml", folder / "minimal.yaml")
    result = invoke_mlspec("compile", "specs", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    (diagnostic,) = json.loads(result.stdout)["diagnostics"]
    assert diagnostic["code"] == "E013" and diagnostic["file"] == "specs/team\napiVersion: v1/minimal.yaml"
    assert not (tmp_path / "generated").exists()
