"""mlspec's templates ship precompiled (mlspec.targets.precompiled), so a cold compile does not
compile them: the committed code is what `make templates` writes from templates/ now, it is
what rendering uses, and a template without matching code is compiled as before."""

from __future__ import annotations

import jinja2
import pytest

from conftest import REPO, invoke_mlspec
from mlspec.targets import templating

PRECOMPILED = REPO / "src" / "mlspec" / "targets" / "precompiled"


def test_the_precompiled_code_is_fresh(tmp_path):
    written = templating.write_precompiled(tmp_path)
    committed = sorted(p.name for p in PRECOMPILED.glob("t_*.py"))
    assert sorted(written) == committed, "templates changed: run `make templates` and commit the result"
    for name in written:
        assert (tmp_path / name).read_text() == (PRECOMPILED / name).read_text(), \
            f"{name} is stale: run `make templates` and commit the result"
    assert len(written) == len(list(templating.template_dir().rglob("*.j2")))


def test_rendering_uses_the_precompiled_code_and_compiles_nothing(monkeypatch, compiled_project):
    compiled = []
    original = jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile",
                        lambda self, source, name=None, *a, **k: compiled.append(name) or original(self, source, name, *a, **k))
    result = invoke_mlspec("compile", "specs", "--check", cwd=compiled_project, env={"MLSPEC_NO_CACHE": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert compiled == []


def test_an_edited_template_is_compiled_from_its_source(tmp_path, monkeypatch):
    """The key is the source's hash: a template that differs from what was precompiled (a
    checkout with an edit not yet precompiled) never runs stale code."""
    folder = tmp_path / "templates"
    (folder / "airflow").mkdir(parents=True)
    (folder / "airflow" / "airflowignore.j2").write_text("edited {{ helper }}\n")
    monkeypatch.setattr(templating, "template_dir", lambda: folder)
    templating.environment.cache_clear()
    try:
        assert templating.render_template("airflow/airflowignore.j2", helper="x") == "edited x\n"
    finally:
        templating.environment.cache_clear()


@pytest.mark.parametrize("options", [{}, {"trim_blocks": False}])
def test_the_key_depends_on_the_source_and_the_options(monkeypatch, options):
    key = templating.precompiled_key("a.j2", "x")
    assert key != templating.precompiled_key("a.j2", "y") and key != templating.precompiled_key("b.j2", "x")
    monkeypatch.setattr(templating, "OPTIONS", {**templating.OPTIONS, **options})
    assert (templating.precompiled_key("a.j2", "x") == key) == (not options)
