"""Spec text and spec paths reach generated files only escaped for the syntax they land in:
no header line an attacker's path can turn into a Python encoding declaration, ASCII-only
Python literals, inert Markdown and HTML in model cards."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from conftest import SPECS
from mlspec.compiler.compile import compile_spec

HOSTILE_OWNER = "<img src=x onerror=alert(1)> | x"
HOSTILE_LINK = "[click](javascript:alert(1))"


def _hostile_churn(folder: Path) -> Path:
    spec = yaml.safe_load((SPECS / "customer-churn.yaml").read_text())
    spec["metadata"]["owner"] = HOSTILE_OWNER
    spec["metadata"]["description"] = "Prédit Á' quién se va\x1b]8;;x\x07"
    card = spec["models"]["churn"]["card"]
    card["limitations"] = [HOSTILE_LINK, "line one\n## Injected heading"]
    card["references"] = ["https://example.com/churn-paper", "javascript:alert(1)"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "customer-churn.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True))
    return path


def test_no_path_reaches_the_lines_python_reads_an_encoding_from(tmp_path):
    """PEP 263: a `coding=sjis` in line 1 or 2 would change how the file is decoded, so a
    string literal that is inert in UTF-8 could end early under Shift_JIS."""
    spec = _hostile_churn(tmp_path / "specs" / "coding=sjis")
    result = compile_spec(spec, tmp_path / "generated")
    assert result.ok, [d.message for d in result.diagnostics]
    python_files = {p: text for p, text in result.files.items() if p.endswith(".py")}
    assert python_files
    for path, text in python_files.items():
        first_two = text.split("\n", 2)[:2]
        assert not any(re.search(r"coding[:=]", line) for line in first_two), path
        assert text.split("\n", 3)[2] == "# Spec: specs/coding%3Dsjis/customer-churn.yaml", path
        assert text.isascii(), f"{path} holds non-ASCII characters"
        compile(text, path, "exec")  # still Python


def test_model_cards_show_hostile_text_as_text(tmp_path):
    spec = _hostile_churn(tmp_path / "specs")
    result = compile_spec(spec, tmp_path / "generated")
    markdown = result.files["docs/churn.model-card.md"]
    html = result.files["docs/churn.model-card.html"]

    assert "<img" not in markdown and "&lt;img src=x onerror=alert\\(1\\)> \\| x" in markdown
    assert "](javascript:" not in markdown and "\\[click\\]\\(javascript:alert\\(1\\)\\)" in markdown
    assert "\n## Injected heading" not in markdown  # one line, the # escaped
    assert "\x1b" not in markdown and "\x07" not in markdown
    # references in every card format; a link only for http(s)
    assert "- <https://example.com/churn-paper>" in markdown and "- javascript:alert\\(1\\)" in markdown
    assert '<a href="https://example.com/churn-paper" rel="noopener noreferrer">' in html
    assert 'href="javascript:' not in html and "<li>javascript:alert(1)</li>" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_path_cannot_close_the_html_comment_header(tmp_path):
    folder = tmp_path / "specs" / "--><img src=x onerror=alert(1)>"
    shutil.copytree(SPECS, folder, dirs_exist_ok=True)
    result = compile_spec(folder / "customer-churn.yaml", tmp_path / "generated")
    header = result.files["docs/churn.model-card.html"].split("\n", 1)[0]
    assert header.startswith("<!-- ") and header.endswith(" -->") and header.count("-->") == 1
    assert "<img" not in header
