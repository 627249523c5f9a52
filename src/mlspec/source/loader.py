"""Load a spec file safely and remember where everything came from.

We compose the YAML into nodes with ruamel.yaml and build plain Python values ourselves,
rather than letting a constructor do it, because that is the one place where we can:
record a span for every key and value, reject duplicate keys and foreign tags, keep dates
as the strings the user wrote, and bound alias expansion (a "billion laughs" document is
a few hundred bytes that would otherwise expand into gigabytes).
"""

from __future__ import annotations

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


def load_spec_file(path: str | Path) -> tuple[LoadedSource | None, list[Diagnostic]]:
    display = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [_diag("E004", f"file is {size} bytes, over the limit of {MAX_FILE_BYTES}", display,
                                help="split the system into several spec files")]
        raw = Path(path).read_bytes()
    except OSError as exc:
        return None, [_diag("E000", f"cannot read file: {exc.strerror or exc}", display)]
    return load_spec_bytes(raw, display)


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


def load_spec_text(text: str, display: str, sha256: str | None = None) -> tuple[LoadedSource | None, list[Diagnostic]]:
    if sha256 is None:
        sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    text = text.removeprefix("\ufeff")
    try:
        root = _compose_single_document(text, display)
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


def _compose_single_document(text: str, display: str):
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
    """Turns composed nodes into plain values, recording spans and enforcing limits."""

    def __init__(self, display: str):
        self.display = display
        self.positions = PositionTree()
        self.budget = MAX_EXPANDED_NODES

    def build(self, node) -> Any:
        try:
            size = _expanded_size(node, {})
        except _RecursiveAlias as exc:
            raise _LoadError(_diag("E009", "an alias refers to a value that contains it", self.display,
                                   self._span(exc.node), label="this value contains an alias to itself",
                                   help="YAML aliases must not be recursive")) from None
        if size > MAX_EXPANDED_NODES:
            raise _LoadError(_diag("E009", f"the document expands to more than {MAX_EXPANDED_NODES:,} values"
                                           " (an alias/anchor bomb?)",
                                   self.display, self._bomb_span(node), label="expands too far",
                                   help="use fewer nested aliases"))
        return self._build(node, (), 0)

    def _bomb_span(self, root) -> Span:
        """Point at the top-level key whose value expands the most (the root if not a mapping)."""
        from ruamel.yaml.nodes import MappingNode

        if isinstance(root, MappingNode) and root.value:
            key, _ = max(root.value, key=lambda item: _expanded_size(item[1], {}))
            return self._span(key)
        return self._span(root)

    def _span(self, node) -> Span:
        start, end = node.start_mark, node.end_mark
        return Span(start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def _build(self, node, path: tuple, depth: int) -> Any:
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

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
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            return [self._build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
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
        bad = _SURROGATE_RE.search(text)
        if bad:
            raise _LoadError(_diag("E005", f"`\\u{ord(bad.group()):04x}` is half of a UTF-16 surrogate pair,"
                                           " not a character", self.display, self._span(node),
                                   help="write the character itself, or escape it whole as `\\UXXXXXXXX`"))
        return text

    def _mapping(self, node, path: tuple, depth: int) -> dict:
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        result: dict[str, Any] = {}
        seen: dict[str, Span] = {}
        merged: list = []
        for key_node, value_node in node.value:
            if key_node.tag == _STANDARD_TAG_PREFIX + "merge":
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                merged.extend(s for s in sources if isinstance(s, MappingNode))
                continue
            if not isinstance(key_node, ScalarNode):
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


def _expanded_size(node, memo: dict[int, int | None], depth: int = 0) -> int:
    """How many values `node` builds into, counting each alias expansion (memoised by node
    identity, so shared subtrees cost one visit). Stops counting past the limits; nesting
    past MAX_DEPTH is reported by the builder."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if id(node) in memo:
        known = memo[id(node)]
        if known is None:  # reached again while counting itself: `a: &a [*a]`
            raise _RecursiveAlias(node)
        return known
    if depth > MAX_DEPTH:
        return 1
    memo[id(node)] = None
    if isinstance(node, SequenceNode):
        children = node.value
    elif isinstance(node, MappingNode):
        children = [value for _, value in node.value]
    else:
        children = []
    total = 1
    for child in children:
        total += _expanded_size(child, memo, depth + 1)
        if total > MAX_EXPANDED_NODES:
            break
    memo[id(node)] = total
    return total


def _parse_core_scalar(kind: str, text: str) -> Any:
    """YAML 1.2 core-schema scalars (the resolver already decided the kind)."""
    plain = text.replace("_", "")
    try:
        if kind == "bool":
            return plain.lower() == "true"
        if kind == "int":
            lowered = plain.lower()
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
