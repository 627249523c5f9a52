"""An evaluator for exactly the part of expr-lang (github.com/expr-lang/expr, the language
of Argo Rollouts' successCondition) that mlspec generates, so tests can judge a real
Prometheus result the way the Argo Rollouts controller would.

No Python implementation of expr-lang installs from PyPI with a known provenance, and Go is
not on these machines, so this is written from expr-lang's language definition
(docs/language-definition.md) and Argo Rollouts' evaluation environment
(utils/evaluate/evaluate.go: `result`, `isNaN` = Go's math.IsNaN):

    expr      := or
    or        := and ("||" and)*
    and       := not ("&&" not)*
    not       := "!" not | compare
    compare   := primary (("<=" | ">=" | "<" | ">" | "==" | "!=") primary)?
    primary   := NUMBER | "result" ("[" INT "]")? | "#" | "(" expr ")"
               | "len" "(" expr ")" | "isNaN" "(" expr ")"
               | ("all" | "any") "(" expr "," "{" expr "}" ")"

Semantics as in expr-lang: `||`/`&&` short-circuit, `all` of an empty list is true and `any`
of one false, comparisons with NaN are false (Go's float rules, which Python shares),
indexing past the end is an error (Argo Rollouts turns it into the `Error` phase).
Anything outside this subset raises `Unsupported`, so a generated condition that uses more
must extend this evaluator (after checking the function in expr-lang's docs) rather than
be judged wrongly.
"""

from __future__ import annotations

import math
import re

TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                   r"|(?P<op>\|\||&&|<=|>=|==|!=|[<>!()\[\]{},#]))")


class Unsupported(ValueError):
    """The condition uses expr-lang beyond the subset this evaluator implements."""


class EvalError(RuntimeError):
    """expr-lang would fail at run time (an index out of range)."""


def _tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = TOKEN.match(text, position)
        if not match:
            raise Unsupported(f"cannot read {text[position:]!r}")
        kind = match.lastgroup
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise Unsupported("unexpected end of condition")
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise Unsupported(f"expected {expected!r}, found {token[1]!r}")
        self.at += 1
        return token

    def parse(self):
        node = self.or_()
        if self.at != len(self.tokens):
            raise Unsupported(f"unexpected {self.peek()!r}")
        return node

    def or_(self):
        node = self.and_()
        while self.peek() == "||":
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.not_()
        while self.peek() == "&&":
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self):
        if self.peek() == "!":
            self.take()
            return ("not", self.not_())
        return self.compare()

    def compare(self):
        node = self.primary()
        if self.peek() in ("<=", ">=", "<", ">", "==", "!="):
            operator = self.take()[1]
            node = ("cmp", operator, node, self.primary())
        return node

    def primary(self):
        kind, value = self.take()
        if kind == "number":
            return ("num", float(value))
        if value == "#":
            return ("item",)
        if value == "(":
            node = self.or_()
            self.take(")")
            return node
        if value == "result":
            if self.peek() == "[":
                self.take()
                kind, index = self.take()
                if kind != "number" or not index.isdigit():
                    raise Unsupported("only integer literal indexes are supported")
                self.take("]")
                return ("index", int(index))
            return ("result",)
        if value in ("len", "isNaN"):
            self.take("(")
            argument = self.or_()
            self.take(")")
            return (value, argument)
        if value in ("all", "any"):
            self.take("(")
            array = self.or_()
            self.take(",")
            self.take("{")
            predicate = self.or_()
            self.take("}")
            self.take(")")
            return (value, array, predicate)
        raise Unsupported(f"{value!r} is not in the supported subset")


def parse(condition: str):
    """The condition's syntax tree; `Unsupported` when it leaves the subset."""
    return _Parser(condition).parse()


def evaluate(condition: str, result) -> bool:
    """The condition's value for `result` (a float, or a list of floats for a vector)."""
    outcome = _eval(parse(condition), result, None)
    if not isinstance(outcome, bool):
        raise EvalError(f"expected bool, but got {type(outcome).__name__}")  # as Argo Rollouts says
    return outcome


def _eval(node, result, item):
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "result":
        return result
    if kind == "item":
        if item is None:
            raise Unsupported("`#` outside a predicate")
        return item
    if kind == "index":
        if not isinstance(result, list) or node[1] >= len(result):
            raise EvalError(f"index out of range: {node[1]} (array length is {len(result) if isinstance(result, list) else '-'})")
        return result[node[1]]
    if kind == "len":
        value = _eval(node[1], result, item)
        if not isinstance(value, list):
            raise EvalError("invalid argument for len")
        return len(value)
    if kind == "isNaN":
        return math.isnan(_eval(node[1], result, item))
    if kind in ("all", "any"):
        array = _eval(node[1], result, item)
        if not isinstance(array, list):
            raise EvalError(f"{kind} needs an array")
        values = (_truth(_eval(node[2], result, element)) for element in array)
        return all(values) if kind == "all" else any(values)
    if kind == "not":
        return not _truth(_eval(node[1], result, item))
    if kind == "or":
        return _truth(_eval(node[1], result, item)) or _truth(_eval(node[2], result, item))
    if kind == "and":
        return _truth(_eval(node[1], result, item)) and _truth(_eval(node[2], result, item))
    if kind == "cmp":
        left, right = _eval(node[2], result, item), _eval(node[3], result, item)
        return {"<=": left <= right, ">=": left >= right, "<": left < right, ">": left > right,
                "==": left == right, "!=": left != right}[node[1]]
    raise Unsupported(kind)


def _truth(value) -> bool:
    if not isinstance(value, bool):
        raise EvalError(f"expected bool, got {value!r}")
    return value
