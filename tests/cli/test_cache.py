"""The result cache: an unchanged spec is neither re-validated nor re-compiled (pydantic,
jinja2 and kfp stay unloaded), yet hand edits to generated files are always noticed.

What a run loads is seen in a fresh interpreter (`_probe`, a subprocess sharing this test's
cache folder); every other command runs in this process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, SPECS, invoke_mlspec
from support.trees import snapshot

HEAVY = ("pydantic", "jinja2", "ruamel", "kfp", "airflow")
# A package is loaded when its top-level module is: the CLI puts a stand-in for pydantic's plugin
# loader under `pydantic.plugin._loader` (mlspec.cli.app), an entry that loads no pydantic.
PROBE = """
import json, sys
from mlspec.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="mlspec")
except SystemExit as exit:
    code = exit.code
print("PROBE" + json.dumps({"code": code, "heavy": sorted({m for m in sys.modules if '.' not in m} & set(%r))}))
""" % (HEAVY,)


def _probe(cwd: Path, *args: str, env: dict | None = None) -> dict:
    import os

    result = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, timeout=600)
    line = [l for l in result.stdout.splitlines() if l.startswith("PROBE")][-1]
    return {**json.loads(line[5:]), "stderr": result.stderr}


def test_revalidating_an_unchanged_spec_skips_pydantic_and_says_the_same(tmp_path):
    case = REPO / "tests/cases/invalid/ref-unknown-slo/spec.yaml"
    shutil.copy(case, tmp_path / "spec.yaml")
    first = _probe(tmp_path, "validate", "spec.yaml")
    second = _probe(tmp_path, "validate", "spec.yaml")
    assert first["code"] == second["code"] == 1
    assert "pydantic" in first["heavy"] and second["heavy"] == []
    assert second["stderr"] == first["stderr"] and "unknown SLO" in second["stderr"]
    # Any change to the file is a miss.
    (tmp_path / "spec.yaml").write_text(case.read_text().replace("churn-apis", "churn-api"))
    third = _probe(tmp_path, "validate", "spec.yaml")
    assert third["code"] == 0 and "pydantic" in third["heavy"]


def test_recompiling_an_unchanged_spec_loads_nothing_heavy_but_repairs_hand_edits(tmp_path):
    shutil.copytree(SPECS, tmp_path / "specs")
    invoke_mlspec("compile", "specs", cwd=tmp_path, check=True)
    again = _probe(tmp_path, "compile", "specs")
    assert again["code"] == 0 and again["heavy"] == []
    assert again["stderr"].count("up to date") == 3

    service = tmp_path / "generated/customer-churn/k8s/prod/inferenceservice-churn.yaml"
    pristine = service.read_text()
    service.write_text(pristine.replace("maxReplicas: 5", "maxReplicas: 50"))
    check = invoke_mlspec("compile", "specs", "--check", cwd=tmp_path)
    assert check.returncode == 1 and "+    maxReplicas: 5" in check.stdout
    stray = tmp_path / "generated/customer-churn/notes.txt"
    stray.write_text("mine\n")
    invoke_mlspec("compile", "specs", cwd=tmp_path, check=True)
    assert service.read_text() == pristine and not stray.exists()


def test_the_cache_can_be_turned_off(tmp_path):
    shutil.copytree(SPECS, tmp_path / "specs")
    invoke_mlspec("validate", "specs", cwd=tmp_path, check=True)
    off = _probe(tmp_path, "validate", "specs", env={"MLSPEC_NO_CACHE": "1"})
    assert off["code"] == 0 and "pydantic" in off["heavy"]


def test_compiled_templates_are_kept_and_a_broken_template_cache_only_costs_time(tmp_path, monkeypatch):
    """jinja2 keeps compiled templates in the cache folder; a corrupted or unwritable one must
    never change the output or fail the compile. (mlspec's own templates ship precompiled: here
    they are compiled from source, as an edited or user template is.)"""
    from mlspec.targets import templating

    monkeypatch.setattr(templating, "PRECOMPILED", "mlspec.targets.no_precompiled_templates")
    shutil.copytree(SPECS, tmp_path / "specs")
    cache = tmp_path / "cache"
    env = {"MLSPEC_CACHE_DIR": str(cache)}
    invoke_mlspec("compile", "specs", cwd=tmp_path, env=env, check=True)
    expected = snapshot(tmp_path / "generated")
    assert expected == {k: v for k, v in snapshot(REPO / "generated").items() if k in expected}
    compiled = sorted((cache / "jinja2").glob("*.cache"))
    assert compiled, "no compiled template was kept"

    for index, path in enumerate(compiled):  # cut short, garbage, empty
        data = path.read_bytes()
        path.write_bytes([data[: len(data) // 2], b"\x00garbage", b""][index % 3])
    shutil.rmtree(tmp_path / "generated")
    shutil.rmtree(cache / "compile")  # so the result cache cannot answer
    invoke_mlspec("compile", "specs", cwd=tmp_path, env=env, check=True)
    assert snapshot(tmp_path / "generated") == expected

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be\n")
    shutil.rmtree(tmp_path / "generated")
    result = invoke_mlspec("compile", "specs", cwd=tmp_path, env={"MLSPEC_CACHE_DIR": str(blocked)})
    assert result.returncode == 0, result.stderr
    assert snapshot(tmp_path / "generated") == expected


def test_a_spec_saved_while_it_compiles_is_compiled_again_next_time(tmp_path, monkeypatch):
    """The result cache must record what the compiled bytes produce: if the user saves the
    spec while mlspec is compiling it, the next compile must see the new bytes as new."""
    from click.testing import CliRunner

    from mlspec.compiler import compile as compile_module
    from mlspec.cli import cli

    shutil.copytree(SPECS, tmp_path / "specs")
    spec = tmp_path / "specs/minimal.yaml"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLSPEC_NO_CACHE", raising=False)
    original = spec.read_text()
    assert '"@daily"' in original
    compile_spec = compile_module.compile_spec

    def compile_then_save(*args, **kwargs):
        result = compile_spec(*args, **kwargs)
        spec.write_text(original.replace('"@daily"', '"@hourly"'))  # the user saves mid-compile
        return result

    monkeypatch.setattr(compile_module, "compile_spec", compile_then_save)
    assert CliRunner().invoke(cli, ["compile", "specs/minimal.yaml"]).exit_code == 0
    monkeypatch.setattr(compile_module, "compile_spec", compile_spec)

    again = CliRunner().invoke(cli, ["compile", "specs/minimal.yaml"])
    assert again.exit_code == 0, again.output
    dags = (tmp_path / "generated").rglob("*__ingest_*.py")
    assert all("schedule='@hourly'" in p.read_text() for p in dags)
