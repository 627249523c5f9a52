"""Load a spec file safely and remember where everything came from.

We compose the YAML into nodes and build plain Python values ourselves, rather than
letting a constructor do it, because that is the one place where we can: record a span for
every key and value, reject duplicate keys and foreign tags, keep dates as the strings the
user wrote, and bound alias expansion (a "billion laughs" document is a few hundred bytes
that would otherwise expand into gigabytes).

Two composers, one meaning. ruamel.yaml (pure Python, YAML 1.2) defines what a spec means
and words every diagnostic about malformed YAML, but importing it and composing a typical
spec costs tens of milliseconds of every `mlspec validate`. So a spec is first composed by
libyaml, through PyYAML's C parser and a resolver copied from ruamel's YAML 1.2 rules, and
that result is kept only when the document builds without a diagnostic and holds nothing
the two libraries are known to see differently; then its values and spans are the ones
ruamel.yaml would give. Anything else (a YAML error, a diagnostic of ours, a tab, an empty
scalar, and the few other constructs listed at _LIBYAML_DIFFERS_IN_TEXT) is
composed again by ruamel.yaml, so every diagnostic still comes from that one path, word for
word, and ruamel.yaml is only imported then. tests/property/test_loader_equivalence.py holds
the two composers to all this.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlspec.diagnostics import Diagnostic, Span
from mlspec.source.positions import PositionTree

# A spec of a thousand models is about 2 MB; anything far past that is a mistake.
MAX_FILE_BYTES = 16 * 1024 * 1024
# Values built from the document, counting every expansion of an alias. Checked on the
# composed node graph before building (sizes memoised per node), so a "billion laughs"
# document is refused in milliseconds instead of after building millions of values.
MAX_EXPANDED_NODES = 1_000_000
# Characters of text built from the document, counting every expansion of an alias (keys
# and scalars): one 4 MB string and 4000 aliases to it are 16 GB of text that every later
# check would walk, once per alias. Without aliases a spec stays under MAX_FILE_BYTES.
MAX_EXPANDED_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64

_STANDARD_TAG_PREFIX = "tag:yaml.org,2002:"
_SCALAR_TAGS = {"str", "int", "float", "bool", "null", "timestamp"}
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class LoadedSource:
    """A spec file as loaded: its text, hash, plain value and positions."""

    path: str  # as the user named it (shown in diagnostics and headers)
    text: str
    sha256: str
    data: Any
    positions: PositionTree

    @classmethod
    def for_rendering(cls, path: str, text: str) -> "LoadedSource":
        """Only the text, so diagnostics can show their source line (no data, no positions)."""
        return cls(path, text, "", None, PositionTree())

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


class _LoadError(Exception):
    """Internal: a diagnostic that ends loading (the document cannot be trusted after it)."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def spec_path_diagnostics(display: str) -> list[Diagnostic]:
    """E013 when a spec's path cannot be written into generated files: it goes into every
    generated file's header, where a line break would start a line of code in a generated DAG."""
    from mlspec.textsafe import printable

    if printable(display) == display:
        return []
    return [_diag("E013", "the spec's file name holds control characters or bytes that are not UTF-8",
                  display, help="rename the file (letters, digits, `.`, `_`, `-`)")]


def read_spec_file(path: str | Path) -> tuple[bytes | None, list[Diagnostic]]:
    """The file's bytes, or why not; its size is checked before a byte is read. Only a
    regular file is read: a symbolic link (to `~/.git-credentials`, `/proc/self/environ`,
    `/dev/zero`...) or a FIFO named as a spec is refused unread (E012), so no line of it can
    reach a diagnostic or a CI log."""
    from mlspec.fsutil import FileTooLarge, ForeignFile, read_regular

    display = str(path)
    refused = spec_path_diagnostics(display)
    if refused:
        return None, refused
    try:
        return read_regular(path, MAX_FILE_BYTES), []
    except ForeignFile as exc:
        return None, [_diag("E012", f"the spec is a {exc.kind}, not a regular file; it was not read", display,
                            help="name the spec file itself: mlspec does not follow links or read special files")]
    except FileTooLarge as exc:
        return None, [_diag("E004", f"file is {exc.size} bytes, over the limit of {MAX_FILE_BYTES}", display,
                            help="split the system into several spec files")]
    except OSError as exc:
        return None, [_diag("E000", f"cannot read file: {exc.strerror or exc}", display)]


def load_spec_file(path: str | Path) -> tuple[LoadedSource | None, list[Diagnostic]]:
    raw, diagnostics = read_spec_file(path)
    if raw is None:
        return None, diagnostics
    return load_spec_bytes(raw, str(path))


def load_spec_bytes(raw: bytes, display: str) -> tuple[LoadedSource | None, list[Diagnostic]]:
    if len(raw) > MAX_FILE_BYTES:
        return None, [_diag("E004", f"file is {len(raw)} bytes, over the limit of {MAX_FILE_BYTES}", display)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [_diag("E005", f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})", display,
                            Span(line, col, line, col + 1), help="save the file as UTF-8")]
    return load_spec_text(text, display, sha256=hashlib.sha256(raw).hexdigest())


def load_spec_text(text: str, display: str, sha256: str | None = None,
                   composer: str = "auto") -> tuple[LoadedSource | None, list[Diagnostic]]:
    """Load `text`. `composer` is for tests that compare the two composers (see the module
    docstring): "ruamel" skips the libyaml fast path, and "libyaml" raises
    _FastPathDeclined where the default would fall back to ruamel.yaml."""
    if composer not in ("auto", "libyaml", "ruamel"):
        raise ValueError(f"unknown composer {composer!r}")
    if sha256 is None:
        # surrogatepass: a lone surrogate gets its diagnostic (E005) from the builder.
        sha256 = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    text = text.removeprefix("\ufeff")
    if composer != "ruamel":
        source = _load_with_libyaml(text, display, sha256)
        if source is not None:
            return source, []
        if composer == "libyaml":
            raise _FastPathDeclined()
    return _load_with_ruamel(text, display, sha256)


class _FastPathDeclined(Exception):
    """Internal (tests only): the libyaml composer left this document to ruamel.yaml."""


def _load_with_libyaml(text: str, display: str, sha256: str) -> LoadedSource | None:
    """The loaded spec if libyaml composes it and it builds cleanly, else None. Any problem
    is left to _load_with_ruamel, so that diagnostics have one source and never change."""
    root = _compose_with_libyaml(text)
    if root is None:
        return None
    builder = _Builder(display)
    try:
        data = builder.build(root)
    except _LoadError:
        return None
    if not isinstance(data, dict):  # E008, worded by the ruamel path
        return None
    return LoadedSource(display, text, sha256, data, builder.positions)


def _load_with_ruamel(text: str, display: str, sha256: str) -> tuple[LoadedSource | None, list[Diagnostic]]:
    try:
        root = _compose_with_ruamel(text, display)
        builder = _Builder(display)
        data = builder.build(root)
    except _LoadError as exc:
        return None, [exc.diagnostic]
    source = LoadedSource(display, text, sha256, data, builder.positions)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        return None, [_diag("E008", f"a spec must be a mapping at the top level, found {kind}", display,
                            builder.positions.value_span(()),
                            help="start the file with `apiVersion: mlspec/v1alpha1`")]
    return source, []


# Texts that libyaml reads differently from ruamel.yaml (found by comparing the two, see
# tests/property/test_loader_equivalence.py) go straight to ruamel.yaml. First, single characters:
# - a directive (`%YAML 1.1` switches ruamel to YAML 1.1 scalars; libyaml ignores it);
# - NEL, LS and PS, which libyaml takes for line breaks and ruamel.yaml refuses;
# - a byte order mark inside the text, after which libyaml's columns are one too far;
# - a tab anywhere: libyaml takes tabs as separating white space in places where
#   ruamel.yaml reports "tab character in indentation" (E002), e.g. `key:<TAB>value`.
_LIBYAML_DIFFERS_IN_TEXT = ("\n%", "\r%", "\t", "\x85", "\u2028", "\u2029", "\ufeff")
# Then syntax, matched more loosely than the rules below (also inside quotes and comments):
# a spec that matches is only slower, never different. No nested repeats, so that the
# search stays linear on any text.
# - In flow context libyaml takes every `:` that starts a token for a value indicator,
#   ruamel.yaml (YAML 1.2) only one followed by a space: `["key":value]` is a mapping to
#   libyaml and an error to ruamel.yaml.
# - libyaml ends an anchor or alias name at the first character outside [0-9A-Za-z_-];
#   ruamel.yaml reads on through `:`, `?`, `%`, `@` and backquote (`*base:` is an alias).
# - For a tag written before an anchor (`!!str &a x`) ruamel.yaml starts the node at the
#   anchor, libyaml at the tag.
_LIBYAML_DIFFERS_IN_SYNTAX = r"""
    :[,?\[\]{}]                     # a plain scalar ends at `:` before a flow indicator
  | (?:["'\]}]|\*[0-9A-Za-z_-]+)[ \t\r\n]*:[^ \t\r\n]  # a value right after the `:` of a
                                    # quoted key, a flow collection or an alias
  | [&*][0-9A-Za-z_-]+[?:%@`]       # an anchor or alias name that ruamel.yaml reads on past
  | !(?:![0-9A-Za-z%]*|<[^>\s!]*>)?[ \t\r\n]+[&\#]  # a tag, then an anchor (or a comment,
                                    # which may come between); other tags are refused anyway (E010)
"""


def _libyaml_reads_differently(text: str) -> bool:
    # Substring tests first: they are nearly free, the pattern costs about a tenth of a parse.
    return (text.startswith("%") or any(s in text for s in _LIBYAML_DIFFERS_IN_TEXT)
            or _syntax_pattern().search(text) is not None)


@functools.lru_cache(maxsize=None)
def _syntax_pattern() -> re.Pattern:
    # Compiled on first use: the module is imported on every run, even when a cached result
    # means no spec is loaded.
    return re.compile(_LIBYAML_DIFFERS_IN_SYNTAX, re.VERBOSE)


def _compose_with_libyaml(text: str):
    """The root node of a one-document stream as libyaml composes it, or None when the
    text must go to ruamel.yaml: for any error, an empty or multi-document stream (the
    ruamel path words those diagnostics), or something the two libraries see differently."""
    if _libyaml_reads_differently(text):
        return None
    try:
        loader = _libyaml_loader_class()(text)
    except Exception:  # no libyaml in this PyYAML build, or text it cannot take (a lone surrogate)
        return None
    try:
        if not loader.check_node():
            return None
        root = loader.get_node()
        if loader.check_node():
            return None
    except Exception:  # any YAMLError, or libyaml's own limits (it nests at most 1000 deep)
        return None
    finally:
        loader.dispose()
    return root if _match_ruamel(root, text) else None


def _match_ruamel(root, text: str) -> bool:
    """Bring libyaml's nodes in line with ruamel.yaml's for the same text, in place (the
    end of the stream, see _ruamel_end_mark). False if a node holds something ruamel.yaml
    composes differently and we do not imitate: an empty value (`key:` with nothing after
    it), which libyaml marks right after the indicator and ruamel.yaml at the next token,
    which varies with context.
    Walked with an explicit stack and a visited set, as aliases share nodes."""
    end = _ruamel_end_mark(text)
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if end is not None and node.end_mark.index == end.index:
            node.end_mark = end
        if node.id == "scalar":
            if not node.style and node.value == "":
                return False
        elif node.id == "sequence":
            stack.extend(node.value)
        else:
            for key, value in node.value:
                stack += (key, value)
    return True


def _ruamel_end_mark(text: str):
    """Where ruamel.yaml ends the stream (and the block collections still open there), if
    libyaml puts it elsewhere: when the text does not end with a line break, libyaml
    adds one first, so its end is at column 0 of a line past the last; ruamel.yaml's is
    at the end of the last line. None when the two agree."""
    if not text or text.endswith(("\n", "\r")):
        return None
    from yaml.error import Mark

    line = text.count("\n") + text.count("\r") - text.count("\r\n")  # as ruamel.yaml counts lines
    column = len(text) - max(text.rfind("\n"), text.rfind("\r")) - 1
    return Mark("<unicode string>", len(text), line, column, None, None)


# ruamel.yaml's YAML 1.2 implicit resolvers (ruamel/yaml/resolver.py, `implicit_resolvers`,
# the entries for version (1, 2)), copied in order with their flags and first characters,
# so that libyaml's plain scalars are tagged exactly as ruamel's are: `yes`, `on` and `no`
# are strings, `0o17` is an int, `1e3` a float, `2024-01-01` a timestamp.
_YAML12_IMPLICIT_RESOLVERS = [
    ("tag:yaml.org,2002:bool",
     r"""^(?:true|True|TRUE|false|False|FALSE)$""", re.X,
     list("tTfF")),
    ("tag:yaml.org,2002:float",
     r"""^(?:
         [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""", re.X,
     list("-+0123456789.")),
    ("tag:yaml.org,2002:int",
     r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0o?[0-7_]+
        |[-+]?[0-9_]+
        |[-+]?0x[0-9a-fA-F_]+)$""", re.X,
     list("-+0123456789")),
    ("tag:yaml.org,2002:merge",
     r"^(?:<<)$", 0,
     ["<"]),
    ("tag:yaml.org,2002:null",
     r"""^(?: ~
        |null|Null|NULL
        | )$""", re.X,
     ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:timestamp",
     r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
        (?:[Tt]|[ \t]+)[0-9][0-9]?
        :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", re.X,
     list("0123456789")),
    ("tag:yaml.org,2002:value",
     r"^(?:=)$", 0,
     ["="]),
    ("tag:yaml.org,2002:yaml",
     r"^(?:!|&|\*)$", 0,
     list("!&*")),
]


@functools.lru_cache(maxsize=None)
def _libyaml_loader_class():
    """PyYAML's C parser and composer with the YAML 1.2 resolver above. Built on first use:
    importing PyYAML is only worth it when a spec is loaded."""
    import yaml
    from yaml._yaml import CParser  # ImportError when PyYAML was built without libyaml

    class Yaml12Resolver(yaml.resolver.BaseResolver):
        pass

    for tag, pattern, flags, first in _YAML12_IMPLICIT_RESOLVERS:
        Yaml12Resolver.add_implicit_resolver(tag, re.compile(pattern, flags), first)

    class Yaml12CLoader(CParser, Yaml12Resolver):
        def __init__(self, stream):
            CParser.__init__(self, stream)
            Yaml12Resolver.__init__(self)

    return Yaml12CLoader


def _compose_with_ruamel(text: str, display: str):
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt", pure=True)
    try:
        documents = yaml.compose_all(text)
        first = next(documents, None)
        if first is None:
            raise _LoadError(_diag("E007", "the file is empty", display, Span(1, 1, 1, 1),
                                   help="run `mlspec init NAME` for a starter spec"))
        second = next(documents, None)
        if second is not None:
            line = second.start_mark.line + 1
            raise _LoadError(_diag("E006", "the file holds more than one YAML document", display,
                                   Span(line, 1, line, 4), label="second document starts here",
                                   help="keep one MLSystem per file"))
        return first
    except MarkedYAMLError as exc:
        raise _LoadError(_yaml_error_diagnostic(exc, text, display)) from None
    except YAMLError as exc:  # e.g. ReaderError for control characters
        mark = getattr(exc, "position", None)
        span = None
        if isinstance(mark, int):
            line = text.count("\n", 0, mark) + 1
            col = mark - (text.rfind("\n", 0, mark) + 1) + 1
            span = Span(line, col, line, col + 1)
        message = re.sub(r'\s*in "<unicode string>", position \d+', "", _one_line(str(exc)))
        raise _LoadError(_diag("E001", f"YAML error: {message}", display, span)) from None
    except RecursionError:
        raise _LoadError(_diag("E009", "the document nests too deeply", display)) from None
    except (ValueError, OverflowError, NotImplementedError) as exc:
        # ruamel.yaml's own failures on text it cannot read, e.g. the escape "\UFFFFFFFF"
        # (past the last Unicode character): still a diagnostic, never a traceback.
        raise _LoadError(_diag("E001", f"YAML error: the YAML reader cannot read this document ({_one_line(str(exc))})",
                               display, help="look for an unusual escape sequence or comment placement")) from None


def _yaml_error_diagnostic(exc, text: str, display: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    span = Span(mark.line + 1, mark.column + 1, mark.line + 1, mark.column + 2) if mark else None
    problem = (exc.problem or "").strip()
    if "duplicate key" in problem or type(exc).__name__ == "DuplicateKeyError":
        key = problem.split('"')[1] if '"' in problem else ""
        return _diag("E003", f"duplicate key `{key}`" if key else "duplicate key", display, span,
                     help="each key may appear once in a mapping")
    char = text[mark.index] if mark and 0 <= mark.index < len(text) else ""
    if char == "\t" or "'\\t'" in problem:
        return _diag("E002", "tab character in indentation", display, span,
                     label="tab here", help="YAML indents with spaces; replace tabs with spaces")
    context = (exc.context or "").strip()
    message = problem if problem else "invalid YAML"
    if context:
        message = f"{message} ({context})"
    label = help = ""
    if "end of stream" in problem and exc.context_mark is not None:
        # The parser noticed at the end of the file; the user needs the place that was never
        # closed (a quote, bracket or brace), which is the context mark.
        start = exc.context_mark
        span = Span(start.line + 1, start.column + 1, start.line + 1, start.column + 2)
        label = "opened here and never closed"
    elif context.startswith("while parsing a flow") and exc.context_mark is not None \
            and exc.problem_mark is not None and exc.context_mark.line != exc.problem_mark.line:
        # An unclosed `[` or `{` is noticed lines later; say where it was opened.
        opened = exc.context_mark
        bracket = "{" if "mapping" in context else "["
        label = f"the `{bracket}` on line {opened.line + 1} is not closed before this"
    elif "mapping values are not allowed" in problem:
        help = "quote a value that contains `: `, or check the indentation of this line"
    elif "block end" in problem or "block mapping" in context:
        help = "check the indentation: keys of one mapping must start in the same column"
    return _diag("E001", f"YAML syntax error: {_one_line(message)}", display, span, label=label, help=help)


class _Builder:
    """Turns composed nodes into plain values, recording spans and enforcing limits.

    Nodes come from either composer (ruamel.yaml's or PyYAML's node classes), so they are
    told apart by their `id` ("scalar", "sequence", "mapping"), which both define."""

    def __init__(self, display: str):
        self.display = display
        self.positions = PositionTree()
        self.budget = MAX_EXPANDED_NODES

    def build(self, node) -> Any:
        try:
            size, text = _expanded_size(node, {})
        except _RecursiveAlias as exc:
            raise _LoadError(_diag("E009", "an alias refers to a value that contains it", self.display,
                                   self._span(exc.node), label="this value contains an alias to itself",
                                   help="YAML aliases must not be recursive")) from None
        if size > MAX_EXPANDED_NODES:
            raise _LoadError(_diag("E009", f"the document expands to more than {MAX_EXPANDED_NODES:,} values"
                                           " (an alias/anchor bomb?)",
                                   self.display, self._bomb_span(node, 0), label="expands too far",
                                   help="use fewer nested aliases"))
        if text > MAX_EXPANDED_BYTES:
            raise _LoadError(_diag("E009", f"the document expands to more than {MAX_EXPANDED_BYTES:,} characters of"
                                           " text (aliases to a long value?)",
                                   self.display, self._bomb_span(node, 1), label="expands too far",
                                   help="refer to long values fewer times"))
        return self._build(node, (), 0)

    def _bomb_span(self, root, which: int) -> Span:
        """Point at the top-level key whose value expands the most (the root if not a mapping)."""
        if root.id == "mapping" and root.value:
            key, _ = max(root.value, key=lambda item: _expanded_size(item[1], {})[which])
            return self._span(key)
        return self._span(root)

    def _span(self, node) -> Span:
        start, end = node.start_mark, node.end_mark
        return Span(start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def _build(self, node, path: tuple, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _LoadError(_diag("E009", "the document expands to too many values (alias/anchor bomb?)",
                                   self.display, self._span(node), help="use fewer nested aliases"))
        if depth > MAX_DEPTH:
            raise _LoadError(_diag("E009", f"the document nests deeper than {MAX_DEPTH} levels",
                                   self.display, self._span(node)))
        # Aliases point at the anchored node, so their spans show the anchor; record the
        # first span only, so a path is never re-pointed at a shared node later.
        self.positions.values.setdefault(path, self._span(node))
        self._check_tag(node)
        if node.id == "scalar":
            return self._scalar(node)
        if node.id == "sequence":
            return [self._build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        if node.id == "mapping":
            return self._mapping(node, path, depth)
        raise AssertionError(f"unexpected node {type(node).__name__}")  # pragma: no cover

    def _check_tag(self, node) -> None:
        tag = node.tag or ""
        if tag.startswith(_STANDARD_TAG_PREFIX):
            name = tag[len(_STANDARD_TAG_PREFIX):]
            if name in _SCALAR_TAGS | {"map", "seq", "merge", "omap"}:
                return
        shown = "!!" + tag[len(_STANDARD_TAG_PREFIX):] if tag.startswith(_STANDARD_TAG_PREFIX) else tag
        raise _LoadError(_diag("E010", f"unsupported YAML tag `{shown}`", self.display, self._span(node),
                               help="specs use plain YAML values; remove the tag"))

    def _scalar(self, node) -> Any:
        kind = node.tag[len(_STANDARD_TAG_PREFIX):]
        if kind in ("str", "timestamp"):
            return self._text(node)  # dates stay the strings the user wrote
        if kind == "null":
            return None
        return _parse_core_scalar(kind, node.value)

    def _text(self, node) -> str:
        """A string scalar's text. `"\\ud800"` is a valid YAML escape but half a surrogate pair,
        not a character: it cannot be encoded as UTF-8, so it is refused here rather than
        crashing whatever later validates or writes it."""
        text = str(node.value)
        if node.style == ">":
            # ruamel.yaml's round-trip scanner marks each fold of a folded scalar with a BEL
            # (its constructor strips them, we build values ourselves); a BEL cannot be
            # written in a block scalar, so every one here is such a mark.
            text = text.replace("\a", "")
        bad = _SURROGATE_RE.search(text)
        if bad:
            raise _LoadError(_diag("E005", f"`\\u{ord(bad.group()):04x}` is half of a UTF-16 surrogate pair,"
                                           " not a character", self.display, self._span(node),
                                   help="write the character itself, or escape it whole as `\\UXXXXXXXX`"))
        return text

    def _mapping(self, node, path: tuple, depth: int) -> dict:
        result: dict[str, Any] = {}
        seen: dict[str, Span] = {}
        merged: list = []
        for key_node, value_node in node.value:
            if key_node.tag == _STANDARD_TAG_PREFIX + "merge":
                sources = value_node.value if value_node.id == "sequence" else [value_node]
                merged.extend(s for s in sources if s.id == "mapping")
                continue
            if key_node.id != "scalar":
                raise _LoadError(_diag("E011", "mapping keys must be plain strings", self.display,
                                       self._span(key_node)))
            self._check_tag(key_node)
            key = self._text(key_node)
            key_span = self._span(key_node)
            if key in seen:
                raise _LoadError(_diag("E003", f"duplicate key `{key}`", self.display, key_span,
                                       label=f"first defined on line {seen[key].line}",
                                       help="each key may appear once in a mapping"))
            seen[key] = key_span
            self.positions.keys.setdefault(path + (key,), key_span)
            result[key] = self._build(value_node, path + (key,), depth + 1)
        # `<<: *base` merge keys: explicit keys win, earlier merged mappings win over later.
        for source in merged:
            for key_node, value_node in source.value:
                self._check_tag(key_node)
                key = self._text(key_node)
                if key not in result:
                    self.positions.keys.setdefault(path + (key,), self._span(key_node))
                    result[key] = self._build(value_node, path + (key,), depth + 1)
        return result


class _RecursiveAlias(Exception):
    def __init__(self, node):
        super().__init__("recursive alias")
        self.node = node


def _expanded_size(node, memo: dict[int, tuple[int, int] | None], depth: int = 0) -> tuple[int, int]:
    """(values, characters of text) `node` builds into, counting each alias expansion
    (memoised by node identity, so shared subtrees cost one visit). Stops counting past the
    limits; nesting past MAX_DEPTH is reported by the builder."""
    if id(node) in memo:
        known = memo[id(node)]
        if known is None:  # reached again while counting itself: `a: &a [*a]`
            raise _RecursiveAlias(node)
        return known
    if depth > MAX_DEPTH:
        return 1, 0
    memo[id(node)] = None
    if node.id == "sequence":
        children = node.value
        text = 0
    elif node.id == "mapping":
        children = [value for _, value in node.value]
        text = sum(len(key.value) for key, _ in node.value if key.id == "scalar")
    else:
        children = []
        text = len(node.value)
    total = 1
    for child in children:
        values, chars = _expanded_size(child, memo, depth + 1)
        total += values
        text += chars
        if total > MAX_EXPANDED_NODES or text > MAX_EXPANDED_BYTES:
            break
    memo[id(node)] = (total, text)
    return total, text


def _parse_core_scalar(kind: str, text: str) -> Any:
    """YAML 1.2 core-schema scalars (the resolver already decided the kind)."""
    plain = text.replace("_", "")
    try:
        if kind == "bool":
            return plain.lower() == "true"
        if kind == "int":
            lowered = plain.lower()
            if lowered.startswith(("0b", "+0b", "-0b")):
                return int(plain, 2)
            if lowered.startswith(("0x", "+0x", "-0x")):
                return int(plain, 16)
            if lowered.startswith(("0o", "+0o", "-0o")):
                return int(plain, 8)
            return int(plain, 10)
        if kind == "float":
            lowered = plain.lower()
            if lowered.lstrip("+-") in (".inf",):
                return float("-inf") if lowered.startswith("-") else float("inf")
            if lowered == ".nan":
                return float("nan")
            return float(plain)
    except ValueError:
        pass
    return text


def _diag(code: str, message: str, file: str, span: Span | None = None, **extra) -> Diagnostic:
    return Diagnostic(code=code, message=message, file=file, span=span, **extra)


def _one_line(text: str) -> str:
    return " ".join(text.split())
