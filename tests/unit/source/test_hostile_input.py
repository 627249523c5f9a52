"""Input built to hurt the front end: files too large to read, alias bombs, and random
documents. Whatever arrives, `mlspec validate` answers with diagnostics, never a crash,
and in bounded time and memory. (Small hostile files live in the golden corpus,
tests/cases/invalid/; these are the ones too big, or too many, to commit.)"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SPECS
from support.mangle import mangled_spec
from mlspec.build.session import load_unit
from mlspec.cli import cli
from mlspec.diagnostics.render import render
from mlspec.errors import ExitCode
from mlspec.source.loader import MAX_FILE_BYTES, load_spec_text

EXIT_SPEC_ERRORS = ExitCode.SPEC_ERRORS

HEADER = "apiVersion: mlspec/v1alpha1\nkind: MLSystem\nmetadata: {name: churn}\n"


def front_end(raw: bytes, display: str = "spec.yaml") -> list:
    """The front end as `mlspec validate` runs it, and every rendering of its diagnostics."""
    unit = load_unit(Path(display), raw=raw)
    sources = {display: unit.source.text} if unit.source is not None else {}
    for fmt in ("human", "json", "github"):
        render(unit.diagnostics, fmt, sources)
    return unit.diagnostics


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


def _bomb(levels: int, width: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return HEADER + "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels, width", [(9, 9), (30, 10), (200, 2)])
def test_alias_bombs_are_refused_without_expanding(levels: int, width: int):
    # 10^30 values if expanded; the loader counts sizes on the node graph instead, so this
    # returns at once. No timing is asserted: a regression shows up as a hung test.
    source, (diagnostic,) = load_spec_text(_bomb(levels, width), "spec.yaml")
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


# --- random documents: never a crash ------------------------------------------------------------

SPEC_KEYS = ["apiVersion", "kind", "metadata", "name", "datasets", "columns", "type", "models", "features",
             "label", "training", "estimator", "serving", "replicas", "min", "max", "rollout", "slo", "slos",
             "environments", "namespace", "featureViews", "entities", "joinKeys", "source", "password"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(SPEC_KEYS + ["customers.churn", "@daily", "1d"]))
keys = st.one_of(st.sampled_from(SPEC_KEYS), st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=5)), max_leaves=30)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.dictionaries(keys, values, max_size=8))
def test_random_documents_give_diagnostics_not_crashes(document: dict):
    # JSON is YAML, so any JSON value is a document the loader must handle.
    body = json.dumps({"apiVersion": "mlspec/v1alpha1", "kind": "MLSystem", **document})
    front_end(body.encode())


def _paths(value, prefix=()):
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _paths(item, prefix + (key,))


@FUZZ
@given(st.data())
def test_example_specs_with_a_value_replaced_give_diagnostics_not_crashes(data: st.DataObject):
    # Reach the later stages (checks, cross-references) by keeping the rest of a valid spec.
    source, _ = load_spec_text((SPECS / "customer-churn.yaml").read_text(), "spec.yaml")
    document = source.data
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(sorted((p for p in _paths(document) if p), key=repr)))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            parent[data.draw(keys)] = parent.pop(path[-1])  # rename the key
        else:
            parent[path[-1]] = data.draw(values)
    front_end(json.dumps(document).encode())


@FUZZ
@given(st.data())
def test_mangled_example_specs_give_diagnostics_not_crashes(data: st.DataObject):
    # Damage a valid spec line by line: delete, duplicate, re-indent or splice in text.
    text = mangled_spec(data, SPECS, max_edits=4, indents=[" ", "\t", "  - "], splice=st.text(max_size=6))
    front_end(text.encode("utf-8", "surrogatepass"))


# --- the real CLI under a memory cap ------------------------------------------------------------

MEMORY_CAP = 1536 * 1024 * 1024  # address space: a few times what validating a real spec takes


def _validate_capped(path: Path) -> subprocess.CompletedProcess:
    """`mlspec validate` in a process that cannot map more than MEMORY_CAP: a front end that
    expanded a bomb or copied a huge document would die of MemoryError instead of answering."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    return subprocess.run([sys.executable, "-m", "mlspec", "validate", "--format", "json", str(path)],
                          capture_output=True, text=True, preexec_fn=cap, timeout=300,
                          env={**os.environ, "MLSPEC_NO_CACHE": "1", "NO_COLOR": "1"})


HOSTILE_FILES = {
    "alias-bomb": lambda: _bomb(30, 10),
    "merge-bomb": lambda: HEADER + "\n".join(
        ["m0: &m0 {" + ", ".join(f"k{j}: [lol, lol]" for j in range(10)) + "}"]
        + [f"m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i - 1}" for j in range(10)) + "}" for i in range(1, 12)]) + "\n",
    "deep-nesting": lambda: HEADER + "x: " + "[" * 50_000 + "]" * 50_000 + "\n",
    "wide-mapping": lambda: HEADER + "labels:\n" + "".join(f"  k{i}: v\n" for i in range(200_000)),
    "long-line": lambda: HEADER + "description: " + "x" * (MAX_FILE_BYTES - 200) + "\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_files_get_diagnostics_within_a_memory_cap(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(HOSTILE_FILES[name]())
    result = _validate_capped(path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    diagnostics = json.loads(result.stdout)["diagnostics"]
    assert diagnostics and all(d["file"] == str(path) for d in diagnostics), diagnostics[:3]


def test_a_real_spec_validates_under_the_same_cap():
    # The cap must not be what refuses the hostile files above.
    result = _validate_capped(SPECS / "customer-churn.yaml")
    assert result.returncode == 0, result.stderr[-2000:]
