"""The template environment (mlspec.targets.templating) keeps compiled templates in the cache
folder, and an edited template is compiled again rather than served from there."""

from __future__ import annotations


def test_an_edited_template_is_compiled_again_not_served_from_the_cache(tmp_path, monkeypatch):
    from mlspec.targets import templating

    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLSPEC_NO_CACHE", raising=False)
    user = tmp_path / "templates"
    user.mkdir()
    template = user / "note.txt.j2"
    try:
        template.write_text("first {{ value }}\n")
        assert templating.environment(str(user)).get_template("note.txt.j2").render(value=1) == "first 1\n"
        templating.environment.cache_clear()  # a new process: only the on-disk cache remains
        template.write_text("second {{ value }}\n")
        assert templating.environment(str(user)).get_template("note.txt.j2").render(value=2) == "second 2\n"
    finally:
        templating.environment.cache_clear()
    assert list((tmp_path / "cache/jinja2").glob("*.cache"))
