"""The loader's two composers agree: whatever libyaml's fast path keeps, ruamel.yaml's path
builds into the same values (same types, NaN-aware) with the same key and value spans; and
whatever the fast path declines gets exactly ruamel's result, diagnostics included.

The fast path is only worth having if the real specs take it, so that is checked too.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO, SPECS
from support.mangle import mangled_spec
from mlspec.source import loader
from mlspec.source.loader import load_spec_text

CASES = REPO / "tests" / "cases"
# Every YAML file of the corpus: invalid specs, golden specs and their expected outputs.
def _is_utf8(path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
        return True
    except UnicodeDecodeError:  # refused (E005) before either composer runs
        return False


CASE_FILES = sorted(str(p.relative_to(CASES)) for p in CASES.rglob("*")
                    if p.suffix in (".yaml", ".yml") and p.is_file() and _is_utf8(p))
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Generated texts reuse anchors, which ruamel.yaml allows with a warning (and libyaml refuses).
pytestmark = pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")


def same_value(a, b) -> bool:
    """Equal values of identical types all the way down (so 1 != 1.0 != True), NaN == NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def assert_same_load(got, want, text: str) -> None:
    (source, diagnostics), (want_source, want_diagnostics) = got, want
    assert diagnostics == want_diagnostics, text
    assert (source is None) == (want_source is None), text
    if source is not None:
        assert (source.path, source.text, source.sha256) == (want_source.path, want_source.text, want_source.sha256)
        assert same_value(source.data, want_source.data), (source.data, want_source.data, text)
        assert source.positions.values == want_source.positions.values, text
        assert source.positions.keys == want_source.positions.keys, text


# ruamel.yaml fails on a few texts with its own exceptions: NotImplementedError ("overlap in
# comment") in its round-trip comment handling on valid YAML, OverflowError on a
# `"\UFFFFFFFF"` escape. The ruamel path turns them into one E001 diagnostic; where libyaml
# reads such a text, there is no ruamel answer to compare the fast path with.
def _ruamel_could_not_read(diagnostics) -> bool:
    return any(d.code == "E001" and "cannot read this document" in d.message for d in diagnostics)


def check_equivalent(text: str) -> str:
    """Load `text` by both composers and by the default route; say which one it took."""
    try:
        fast = load_spec_text(text, "spec.yaml", composer="libyaml")
    except loader._FastPathDeclined:
        fast = None
    ruamel = load_spec_text(text, "spec.yaml", composer="ruamel")
    assert_same_load(load_spec_text(text, "spec.yaml"), fast or ruamel, text)
    if fast is None:
        return "ruamel"
    if not _ruamel_could_not_read(ruamel[1]):
        assert ruamel[1] == [], f"libyaml kept a document ruamel.yaml refuses: {ruamel[1]}\n{text!r}"
        assert_same_load(fast, ruamel, text)
    return "libyaml"


# --- the resolver and the files we ship --------------------------------------------------------

def test_resolver_table_is_a_faithful_copy_of_ruamels():
    # Guards the copy against a ruamel.yaml upgrade that changes its YAML 1.2 rules.
    from ruamel.yaml.resolver import implicit_resolvers

    theirs = [(tag, regexp.pattern, regexp.flags, first)
              for versions, tag, regexp, first in implicit_resolvers if (1, 2) in versions]
    ours = [(tag, pattern, re.compile(pattern, flags).flags, first)
            for tag, pattern, flags, first in loader._YAML12_IMPLICIT_RESOLVERS]
    assert ours == theirs


@pytest.mark.parametrize("name", sorted(p.name for p in SPECS.glob("*.yaml")))
def test_example_specs_take_the_fast_path(name: str):
    assert check_equivalent((SPECS / name).read_text(encoding="utf-8")) == "libyaml"


@pytest.mark.parametrize("name", CASE_FILES)
def test_corpus_files_load_the_same(name: str):
    check_equivalent((CASES / name).read_bytes().decode("utf-8"))


def test_odd_scalars_resolve_as_yaml_1_2():
    text = ("a: yes\nb: off\nc: 0o17\nd: 1e3\ne: .inf\nf: -.Inf\ng: ~\nh: 2024-01-01\ni: 0x1F\nj: +1\n"
            "k: 1_000\nl: 017\nm: True\nn: tRUE\no: 0b101\np: .5\nq: null\nr: '1'\ns: !!str 1\nt: 1:30\n")
    assert check_equivalent(text) == "libyaml"
    data = load_spec_text(text, "spec.yaml")[0].data
    assert same_value(data, {"a": "yes", "b": "off", "c": 15, "d": 1000.0, "e": math.inf, "f": -math.inf,
                             "g": None, "h": "2024-01-01", "i": 31, "j": 1, "k": 1000, "l": 17, "m": True,
                             "n": "tRUE", "o": 5, "p": 0.5, "q": None, "r": "1", "s": "1", "t": "1:30"})


@pytest.mark.parametrize("text", [
    "a: x\nb:\tc\n",                      # a tab: ruamel.yaml refuses some that libyaml takes
    "a:\nb: 1\n",                         # an empty value: marked at different places
    "a: {b: }\n",
    "%YAML 1.1\n---\na: yes\n",            # 1.1 scalars in ruamel.yaml
    "a: x\x85b: y\n",                      # NEL: a line break to libyaml only
    "a: \ufeffx\n",                        # a BOM inside the text
    'x: ["a":b]\n',                       # a `:` with no space after it, in flow context
    "a: &a x\nb: [*a :c]\n",
    "a: &a x\nb: *a:\n",                   # `*a:` is an alias to ruamel.yaml
    "a: !!str &a x\n",                    # a tag before an anchor: the node starts elsewhere
    "a: 1\n---\nb: 2\n",                   # two documents (E006)
    "",                                    # empty (E007)
    "- a\n",                               # not a mapping (E008)
    "a: &a [*a]\n",                        # recursive alias (E009)
    "a: &x 1\nb: &x 2\nc: *x\n",           # a reused anchor: libyaml refuses, ruamel.yaml takes the last
    "a: \"\\ud800\"\n",                    # half a surrogate pair (E005)
    "a: 1\na: 2\n",                        # duplicate key (E003)
    "a: !foo x\n",                         # foreign tag (E010)
    "x: " + "[" * 2000 + "]" * 2000 + "\n",  # past libyaml's nesting limit
])
def test_what_the_fast_path_declines_gets_ruamels_answer(text: str):
    assert check_equivalent(text) == "ruamel"


def test_folded_scalars_fold_without_ruamels_fold_marks():
    """ruamel.yaml's round-trip scanner leaves a BEL at each fold; neither path may keep it."""
    text = "a: >\n  one\n  two\n\n  three\nb: >-\n  x\n  y\nc: [1]\n"
    assert check_equivalent(text) == "libyaml"
    for composer in ("ruamel", "libyaml"):
        data = load_spec_text(text, "spec.yaml", composer=composer)[0].data
        assert data == {"a": "one two\nthree\n", "b": "x y", "c": [1]}


def test_alias_bombs_give_ruamels_diagnostic():
    lines = ["l0: &l0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    text = "\n".join(lines) + "\n"
    assert check_equivalent(text) == "ruamel"
    (diagnostic,) = load_spec_text(text, "spec.yaml")[1]
    assert diagnostic.code == "E009"


# --- generated documents -----------------------------------------------------------------------

ODD_SCALARS = ["yes", "no", "on", "off", "y", "N", "true", "True", "FALSE", "tRUE", "0o17", "017", "0b101",
               "0x1F", "0x_1f", "+1", "-0", "1_000", "1e3", "1E-3", "1.", ".5", "+.5e-3", "-.inf", ".Inf",
               ".nan", ".NaN", "~", "null", "Null", "NULL", "2024-01-01", "2024-1-1 10:00:00",
               "2001-12-14t21:59:43.10-05:00", "12:30:45", "1:30", "=", "-", "--", "a b", "é", "😀 ok",
               "C:\\dir", "a#b", "x:y", "100%", "a,b", "x]", "!", "&", "*"]
PLAIN_TEXT = st.text(st.sampled_from(list("abcxyz019 -_.:/") + ["é", "ü", "中", "😀"]), min_size=1, max_size=12)
KEYS = st.one_of(st.sampled_from(["name", "models", "type", "min", "yes", "1", "<<", "~", "é", "a b"]), PLAIN_TEXT)


@st.composite
def yaml_documents(draw) -> str:
    """A YAML text of a top-level mapping in a random mix of styles: block and flow
    collections; plain, quoted and block scalars; comments; anchors, aliases and merge keys.
    Most are valid; the ones that are not must still load the same by both routes."""
    anchors: list[str] = []

    def scalar(indent: int, in_flow: bool) -> str:
        form = draw(st.sampled_from(["odd", "plain", "single", "double", "block", "multiline", "empty"]))
        if form == "odd":
            return draw(st.sampled_from(ODD_SCALARS))
        if form == "plain":
            return draw(PLAIN_TEXT).strip() or "x"
        if form == "single":
            return "'" + draw(st.text(max_size=10)).replace("'", "''") + "'"
        if form == "double":
            return json.dumps(draw(st.text(max_size=10)), ensure_ascii=draw(st.booleans()))
        if form == "empty":
            return ""
        if in_flow:
            return draw(PLAIN_TEXT).strip() or "x"
        pad = " " * (indent + 2)
        lines = draw(st.lists(st.one_of(PLAIN_TEXT, st.just("")), min_size=1, max_size=4))
        if form == "multiline":
            words = [line.strip() for line in lines if line.strip()] or ["x"]
            return ("\n" + pad).join(words)
        header = draw(st.sampled_from(["|", "|-", "|+", "|2", ">", ">-", "| # note"]))
        return header + "".join("\n" + (pad + line if line else "") for line in lines)

    def with_anchor(text: str) -> str:
        """`text` with node properties: sometimes an anchor, sometimes a tag, in either order."""
        properties = []
        if draw(st.integers(0, 5)) == 0:
            anchors.append(f"a{len(anchors)}")
            properties.append(f"&{anchors[-1]}")
        if draw(st.integers(0, 9)) == 0:
            properties.insert(draw(st.integers(0, len(properties))), draw(st.sampled_from(["!!str", "!"])))
        return " ".join(properties + [text] if text else properties)

    def alias() -> str | None:
        return f"*{draw(st.sampled_from(anchors))}" if anchors and draw(st.integers(0, 4)) == 0 else None

    def flow(depth: int) -> str:
        kind = draw(st.sampled_from(["scalar", "seq", "map"])) if depth < 3 else "scalar"
        if kind == "scalar":
            return alias() or with_anchor(scalar(0, in_flow=True))
        count = draw(st.integers(0, 3))
        if kind == "seq":  # items, some of them single-pair mappings (`[a: 1]`)
            items = [flow(depth + 1) if draw(st.integers(0, 3)) else flow_pair(depth) for _ in range(count)]
            return with_anchor("[" + ", ".join(items) + "]")
        return with_anchor("{" + ", ".join(flow_pair(depth) for _ in range(count)) + "}")

    def flow_pair(depth: int) -> str:
        # Quoted keys and aliases may be followed by `:` with no space (`{"a":1}`), which
        # libyaml and ruamel.yaml read differently in places.
        key = draw(KEYS).strip() or "k"
        key = draw(st.sampled_from([key, json.dumps(key, ensure_ascii=False), "'k'", alias() or key]))
        return key + draw(st.sampled_from([": ", ":", " : ", " :"])) + flow(depth + 1)

    def comment() -> str:
        return draw(st.sampled_from(["", "", "", "  # note", " #é"]))

    def value(depth: int, indent: int, under_key: bool) -> str:
        """What follows `key:` or `- `: inline text, or a newline and an indented block."""
        kind = draw(st.sampled_from(["scalar", "flow", "block-seq", "block-map"])) if depth < 4 else "scalar"
        if kind == "scalar":
            text = alias() or with_anchor(scalar(indent, in_flow=False))
            return (" " + text if text else "") + (comment() if "\n" not in text else "")
        if kind == "flow":
            return " " + flow(depth) + comment()
        head = with_anchor("")
        if kind == "block-seq":  # under a key, `- ` may stand in the key's own column
            child = block_seq(depth + 1, indent if under_key and draw(st.booleans()) else indent + 2)
        else:
            child = block_map(depth + 1, indent + 2)
        return (" " + head if head else "") + comment() + "\n" + child

    def block_seq(depth: int, indent: int) -> str:
        items = []
        for _ in range(draw(st.integers(1, 3))):
            if depth < 4 and draw(st.integers(0, 3)) == 0:  # compact: `- key: value` and the rest below
                items.append(" " * indent + "- " + block_map(depth + 1, indent + 2)[indent + 2:])
            else:
                items.append(" " * indent + "-" + value(depth, indent, under_key=False) + "\n")
        return "".join(items)

    def block_map(depth: int, indent: int) -> str:
        lines = []
        for _ in range(draw(st.integers(1, 4))):
            if anchors and draw(st.integers(0, 6)) == 0:
                lines.append(" " * indent + f"<<: {draw(st.sampled_from([f'*{a}' for a in anchors]))}\n")
                continue
            key = draw(KEYS).strip() or "k"
            if draw(st.integers(0, 5)) == 0:
                key = json.dumps(key, ensure_ascii=False)
            lines.append(" " * indent + key + ":" + value(depth, indent, under_key=True) + "\n")
            if draw(st.integers(0, 6)) == 0:
                lines.append(draw(st.sampled_from(["\n", "# comment\n", " " * indent + "# é\n"])))
        return "".join(lines)

    text = block_map(0, 0)
    if draw(st.booleans()):
        text = "---\n" + text + draw(st.sampled_from(["", "...\n"]))
    if draw(st.integers(0, 4)) == 0:
        text = text.replace("\n", "\r\n")
    if draw(st.integers(0, 4)) == 0:  # no line break at the end: libyaml's end marks differ there
        text = text.rstrip("\r\n")
    return text


@FUZZ
@given(yaml_documents())
def test_generated_documents_load_the_same(text: str):
    check_equivalent(text)


YAML_PIECES = list("ab:-[]{}&*!|>'\"#\n ,?%@`01.~<=") + ["é", "😀", "\r", "\\", "x: ", "\n  ", "- ", "*a", "&b ",
                                                          '"q"', "'q'", "{", "["]


@FUZZ
@given(st.lists(st.sampled_from(YAML_PIECES), max_size=60).map("".join))
def test_arbitrary_text_loads_the_same(text: str):
    # After a first key, so that more of these texts are mappings the fast path could keep
    # (and with an anchor for their aliases).
    check_equivalent("apiVersion: &a x\n" + text)


@settings(FUZZ, max_examples=100)  # each example loads a whole spec three times
@given(st.data())
def test_mangled_example_specs_load_the_same(data: st.DataObject):
    # Near-valid real specs: lines deleted, duplicated, re-indented or spliced with YAML text.
    pieces = st.lists(st.sampled_from(YAML_PIECES), max_size=4).map("".join)
    check_equivalent(mangled_spec(data, SPECS, max_edits=3, indents=[" ", "  ", "- "], splice=pieces))
