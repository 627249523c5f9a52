"""Input built to hurt the front end: files too large to read, alias bombs, deep nesting.
Whatever arrives, `mlspec validate` answers with diagnostics, never a crash, and in bounded
time. (Small hostile files live in the golden corpus, tests/cases/invalid/; these are the ones
too big to commit. Random documents: tests/property/test_hostile_input_fuzz.py; the real CLI
under a memory cap: tests/integration/process/test_memory_cap.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from support.hostile import HEADER, bomb, front_end
from mlspec.cli import cli
from mlspec.errors import ExitCode
from mlspec.source.loader import MAX_FILE_BYTES, load_spec_text

EXIT_SPEC_ERRORS = ExitCode.SPEC_ERRORS


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # A valid spec padded with one long comment: refused on its size alone (16 MiB + 1 byte
    # is written here rather than committed).
    spec = tmp_path / "spec.yaml"
    head = HEADER.encode()
    spec.write_bytes(head + b"#" * (MAX_FILE_BYTES + 1 - len(head)))
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env={"NO_COLOR": "1"}).invoke(cli, ["validate", "--format", "human", "spec.yaml"])
    assert result.exit_code == EXIT_SPEC_ERRORS
    assert result.output == (
        f"error[E004]: file is {MAX_FILE_BYTES + 1} bytes, over the limit of {MAX_FILE_BYTES}\n"
        "  --> spec.yaml\n"
        "  = help: split the system into several spec files\n"
        "\n"
        "1 error\n")


def test_bytes_over_the_size_limit_are_refused():
    (diagnostic,) = front_end(b"#" * (MAX_FILE_BYTES + 1))
    assert diagnostic.code == "E004"


@pytest.mark.parametrize("levels, width", [(9, 9), (30, 10), (200, 2)])
def test_alias_bombs_are_refused_without_expanding(levels: int, width: int):
    # 10^30 values if expanded; the loader counts sizes on the node graph instead, so this
    # returns at once. No timing is asserted: a regression shows up as a hung test.
    source, (diagnostic,) = load_spec_text(bomb(levels, width), "spec.yaml")
    assert source is None
    assert diagnostic.code == "E009"
    assert diagnostic.span is not None


def test_merge_key_bomb_is_refused():
    # The same attack through `<<:` merge keys instead of sequences.
    lines = ["m0: &m0 {" + ", ".join(f"k{j}: [lol, lol, lol, lol]" for j in range(10)) + "}"]
    lines += [f"m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i - 1}" for j in range(10)) + "}" for i in range(1, 12)]
    _, (diagnostic,) = load_spec_text(HEADER + "\n".join(lines) + "\n", "spec.yaml")
    assert diagnostic.code == "E009"


def test_recursive_alias_is_refused():
    _, (diagnostic,) = load_spec_text(HEADER + "x: &x {self: *x}\n", "spec.yaml")
    assert (diagnostic.code, diagnostic.span.line) == ("E009", 4)


def test_deep_nesting_past_the_parser_is_refused():
    # Deeper than Python's recursion limit inside the YAML composer itself.
    (diagnostic,) = front_end((HEADER + "x: " + "[" * 5000 + "]" * 5000 + "\n").encode())
    assert diagnostic.code == "E009"


def test_an_escape_past_the_last_unicode_character_is_a_diagnostic_not_a_crash():
    # ruamel.yaml raises OverflowError on it; libyaml refuses it too.
    (diagnostic,) = front_end((HEADER + 'x: "\\UFFFFFFFF"\n').encode())
    assert diagnostic.code == "E001" and diagnostic.file == "spec.yaml"


def test_a_folded_description_loads_as_folded_text():
    """ruamel.yaml's round-trip scanner marks folds with BEL characters; none may reach a
    value (and from there a generated file), whichever composer reads the spec."""
    text = HEADER.replace("metadata: {name: churn}\n", "metadata:\n  name: churn\n  description: >\n"
                          "    One row per\n    customer.\n\n    Refreshed daily.\n")
    for extra in ("", "# a tab sends this text to ruamel.yaml:\t\n"):
        source, diagnostics = load_spec_text(text + extra, "spec.yaml")
        assert diagnostics == []
        assert source.data["metadata"]["description"] == "One row per customer.\nRefreshed daily.\n"


def test_binary_integers_are_integers():
    source, _ = load_spec_text(HEADER + "x: [0b101, -0b11, 0x1F, 0o17]\n", "spec.yaml")
    assert source.data["x"] == [5, -3, 31, 15]
