"""validate: plain data -> `MLSystemSpec`, with pydantic's errors turned into diagnostics
that point at the user's file (dagster's approach: map each error's `loc` onto the
position tree, falling back to the nearest written ancestor)."""

from __future__ import annotations

import keyword
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from mlspec.diagnostics import Diagnostic, Severity, did_you_mean, format_path
from mlspec.source.loader import LoadedSource
from mlspec.spec.models import API_VERSION, KIND, MLSystemSpec
from mlspec.spec.secrets import find_literal_secrets
from mlspec.spec.types import _dns_label, _identifier, _resource_name, _system_name

# pydantic error type -> (code, short description used in the message)
_TYPE_NAMES = {
    "string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "list_type": "a list",
}
_CUSTOM_CODES = {
    "dns_label": "E107", "system_name": "E107", "label_key": "E107", "label_value": "E107", "identifier": "E107", "resource_name": "E107", "duration": "E107",
    "schedule": "E107", "quantity": "E107", "url": "E107", "object_uri": "E107", "estimator": "E107",
    "relative_path": "E107", "registry_name": "E107", "storage_uri": "E107", "package": "E107",
    "model_version": "E107", "region": "E107", "git_revision": "E107", "table_uri": "E107", "model_format": "E107",
    "lineage_namespace": "E107",
    "secret_in_url": "E301", "unreadable_uri": "E112", "dot_segment": "E112",
    # E108 is a value outside its own range (a JSON Schema can say so); E111 is bounds that
    # contradict each other or the column type (min > max), which only the validator sees.
    "bounds": "E111", "gate": "E402", "destination": "E110", "exclusive": "E110", "split_column": "E102",
}
_VALIDATORS = {"dns_label": _dns_label, "system_name": _system_name, "identifier": _identifier,
               "resource_name": _resource_name}
_RANGE_TYPES = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


# Sections whose entries are independent, named things: an entry with an error can be left
# out and the rest of the spec still checked (see validate_partial).
NAMED_SECTIONS = ("datasets", "entities", "featureViews", "models", "slos", "environments")
# Top-level keys without which nothing can be checked.
_REQUIRED = ("apiVersion", "kind", "metadata")


@dataclass
class Validated:
    """What validation made of a document.

    `spec` is the whole spec when it is valid; otherwise, when the errors are confined to
    entries that can be left out (a dataset, a model, an optional platform block...), the
    spec without them, so that later phases can still check the rest. `complete` says which;
    `dropped` names what was left out, as key paths (`("datasets", "customers")`)."""

    spec: MLSystemSpec | None
    diagnostics: list[Diagnostic]
    complete: bool = False
    dropped: frozenset[tuple] = frozenset()


def validate_spec(source: LoadedSource) -> tuple[MLSystemSpec | None, list[Diagnostic]]:
    """The spec when `source` is a valid spec, else None; and every diagnostic found."""
    result = validate_partial(source)
    errors = any(d.severity is Severity.ERROR for d in result.diagnostics)
    return (result.spec if result.complete and not errors else None), result.diagnostics


def validate_partial(source: LoadedSource) -> Validated:
    data = source.data
    header = _check_header(source)
    if header:
        # A file that is not an mlspec spec would only produce noise past this point.
        return Validated(None, header)
    diagnostics = find_literal_secrets(source)
    try:
        return Validated(MLSystemSpec.model_validate(data), diagnostics, complete=True)
    except ValidationError as exc:
        # A literal secret under a key the schema does not know is reported once, as a
        # secret: "unknown key `password`" would invite the user to find a key that takes it.
        secret_paths = {d.path for d in diagnostics}
        errors = exc.errors(include_url=False)
        diagnostics += [d for d in _convert_errors(source, errors)
                        if not (d.code == "E101" and d.path in secret_paths)]
    dropped = _broken_entries(data, errors)
    if dropped is None:
        return Validated(None, diagnostics)
    try:
        partial = MLSystemSpec.model_validate(_without(data, dropped))
    except ValidationError:
        return Validated(None, diagnostics)  # the errors reach further than their entries
    return Validated(partial, diagnostics, complete=False, dropped=frozenset(dropped))


def _broken_entries(data: dict, errors: list[dict]) -> set[tuple] | None:
    """The smallest independent parts of the document that hold every error: an entry of a
    named section, an optional platform or deploy block, or an unknown top-level key. None
    when an error is in something nothing can be checked without (metadata, the header)."""
    broken: set[tuple] = set()
    for error in errors:
        path, _ = _data_path(data, error["loc"], error["type"])
        if not path or path[0] in _REQUIRED:
            return None
        if path[0] in NAMED_SECTIONS and len(path) >= 2:
            broken.add(path[:2])
        elif path[0] in ("platform", "deploy") and len(path) >= 2:
            broken.add(path[:2])
        else:
            broken.add(path[:1])
    return broken


def _without(data: dict, dropped: set[tuple]) -> dict:
    result = dict(data)
    for path in dropped:
        if len(path) == 1:
            result.pop(path[0], None)
        elif isinstance(result.get(path[0]), dict):
            result[path[0]] = {k: v for k, v in result[path[0]].items() if k != path[1]}
    return result


def _check_header(source: LoadedSource) -> list[Diagnostic]:
    data, found = source.data, []
    for key, expected, code in (("apiVersion", API_VERSION, "E105"), ("kind", KIND, "E106")):
        if key not in data:
            found.append(Diagnostic(code, f"missing `{key}`", source.path, source.positions.value_span(()),
                                    (key,), help=f"add `{key}: {expected}` at the top of the file"))
        elif data[key] != expected:
            found.append(Diagnostic(code, f"unsupported {key} `{data[key]}`", source.path,
                                    source.positions.value_span((key,)), (key,),
                                    label=f"expected `{expected}`", help=f"write `{key}: {expected}`"))
    return found


def _convert_errors(source: LoadedSource, errors: list[dict]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    union_groups: dict[tuple, list[dict]] = {}
    for error in errors:
        path, consumed_all = _data_path(source.data, error["loc"], error["type"])
        # Errors of a plain union (str | int | ...) come once per member: merge them.
        if error["type"] in _TYPE_NAMES and not consumed_all and error["loc"][-1] in ("str", "int", "float", "bool"):
            union_groups.setdefault(path, []).append(error)
            continue
        out.append(_convert_one(source, error, path))
    reported = {d.path for d in out}
    for path, group in union_groups.items():
        if path in reported:
            # Another member of the union got further (a number, but not finite): its error
            # says more than "expected a number or a string".
            continue
        names = list(dict.fromkeys(_TYPE_NAMES[e["type"]] for e in group))
        expected = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
        out.append(_at(source, "E103", f"expected {expected}, found {_describe(group[0]['input'])}", path))
    return out


def _convert_one(source: LoadedSource, error: dict, path: tuple) -> Diagnostic:
    kind, loc, ctx = error["type"], error["loc"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        key = path[-1] if path else loc[-1]
        allowed = _allowed_keys(loc[:-1])
        return _at(source, "E101", f"unknown key `{key}` {_where(path[:-1])}", path, on_key=True,
                   help=did_you_mean(str(key), allowed))
    if kind == "missing":
        field = loc[-1]
        parent = path
        return _at(source, "E102", f"missing required key `{field}` {_where(parent)}", parent, on_key=True,
                   label=f"`{field}` is required here")
    if loc and loc[-1] == "[key]":
        return _at(source, _CUSTOM_CODES.get(kind, "E107"), _message(error), path, on_key=True,
                   help=_name_suggestion(kind, error["input"]))
    if kind in _TYPE_NAMES:
        return _at(source, "E103", f"expected {_TYPE_NAMES[kind]}, found {_describe(error['input'])}", path)
    if kind in ("literal_error", "enum"):
        options = [o.strip().strip("'\"") for o in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")]
        value = error["input"]
        return _at(source, "E104", f"invalid value `{value}`", path, label="not an allowed value",
                   help=did_you_mean(str(value), [o for o in options if o]))
    if kind in _RANGE_TYPES:
        field = f"`{path[-1]}`" if path and isinstance(path[-1], str) else "the value"
        rule = ", ".join(f"{_RANGE_WORDS[k]} {_number(v)}" for k, v in ctx.items() if k in _RANGE_WORDS)
        return _at(source, "E108", f"{field} must be {rule or 'in range'}, found {_number(error['input'])}", path)
    if kind == "finite_number":
        return _at(source, "E108", f"expected a finite number, found `{error['input']}`", path)
    if kind in ("too_short", "too_long"):
        return _at(source, "E109", _length_message(kind, error["input"], ctx), path)
    return _at(source, _CUSTOM_CODES.get(kind, "E100"), _message(error), path,
               help=_name_suggestion(kind, error["input"]))


def _name_suggestion(kind: str, value: Any) -> str:
    """`Churn_Prediction` -> "try `churn-prediction`", for the name rules people trip over."""
    if not isinstance(value, str) or kind not in _VALIDATORS:
        return ""
    if re.search(r"[^\w.\- ]", value):
        return ""  # quotes, newlines, punctuation: not a near-miss worth correcting
    if kind == "identifier":
        suggestion = re.sub(r"\W+", "_", value).strip("_")
        suggestion = f"_{suggestion}" if suggestion[:1].isdigit() else suggestion
        suggestion = f"{suggestion}_" if keyword.iskeyword(suggestion) else suggestion
    else:
        separator = "[^a-z0-9]+" if kind in ("dns_label", "system_name") else "[^a-z0-9_-]+"
        suggestion = re.sub(separator, "-", value.lower())
        suggestion = re.sub(r"([-_])[-_]+", r"\1", suggestion).strip("-_")
    try:
        valid = suggestion and suggestion != value and _VALIDATORS[kind](suggestion)
    except PydanticCustomError:  # the suggestion breaks the rule too (e.g. no letters left)
        return ""
    return f"try `{suggestion}`" if valid else ""


_RANGE_WORDS = {"gt": "greater than", "ge": "at least", "lt": "less than", "le": "at most"}


def _number(value: Any) -> str:
    """`100.0` -> `100`: show numbers the way the user wrote them."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _length_message(kind: str, value: Any, ctx: dict) -> str:
    if isinstance(value, str):
        return (f"`{value}` is {len(value)} characters long; at most {ctx.get('max_length')} are allowed"
                if kind == "too_long" else f"`{value}` is too short: at least {ctx.get('min_length')} characters")
    limit = ctx.get("min_length" if kind == "too_short" else "max_length")
    singular, plural = ("entry", "entries") if isinstance(value, dict) else ("item", "items")
    what = singular if limit == 1 else plural
    found = len(value) if hasattr(value, "__len__") else "?"
    return f"expected {'at least' if kind == 'too_short' else 'at most'} {limit} {what}, found {found or 'none'}"


def _where(path: tuple) -> str:
    return f"in `{format_path(path)}`" if path else "at the top level"


def _message(error: dict) -> str:
    message = str(error["msg"])
    # pydantic prefixes custom messages with "Value error, "; ours are complete sentences.
    return message.removeprefix("Value error, ")


def _at(source: LoadedSource, code: str, message: str, path: tuple, on_key: bool = False,
        label: str = "", help: str = "") -> Diagnostic:
    _, span = source.positions.nearest(path, prefer_key=on_key)
    return Diagnostic(code, message, source.path, span, tuple(path), label=label, help=help)


def _data_path(data: Any, loc: tuple, kind: str) -> tuple[tuple, bool]:
    """The part of an error location that names real keys/indexes of the document.

    pydantic inserts union tags (`sql-source`, `str`) and `[key]` into locations; those
    are skipped. For `missing`, the last element names the absent key, so it is dropped.
    Returns the path and whether every element was consumed."""
    path: list = []
    current = data
    elements = loc[:-1] if kind == "missing" else loc
    consumed_all = True
    for element in elements:
        if isinstance(current, dict) and element in current:
            path.append(element)
            current = current[element]
        elif isinstance(current, list) and isinstance(element, int) and 0 <= element < len(current):
            path.append(element)
            current = current[element]
        elif kind == "extra_forbidden" and element == loc[-1] and isinstance(current, dict):
            path.append(element)
        else:
            consumed_all = False
    return tuple(path), consumed_all


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, (int, float)):
        return f"number `{value}`"
    if isinstance(value, str):
        return f"string `{value}`" if len(value) < 40 else "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


# --- "did you mean" for unknown keys: walk the model types along the error location -------


def _allowed_keys(loc: tuple) -> list[str]:
    annotation: Any = MLSystemSpec
    for element in loc:
        annotation = _step(annotation, element)
        if annotation is None:
            return []
    model = _as_model(annotation)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _as_model(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [m for m in map(_as_model, typing.get_args(annotation)) if m is not None]
        return models[0] if len(models) == 1 else None
    return None


def _step(annotation: Any, element: Any) -> Any:
    raw = annotation
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        for member in members:  # a tagged member named by this element
            tags = [getattr(meta, "tag", None) for meta in getattr(member, "__metadata__", ())]
            if element in tags:
                return member
        if len(members) == 1:
            return _step(members[0], element)
        # Discriminated union (tag in the next element) — stay on the union.
        return raw if any(getattr(m, "__metadata__", None) for m in members) else None
    if origin is dict:
        return typing.get_args(annotation)[1]
    if origin is list:
        return typing.get_args(annotation)[0]
    model = _as_model(annotation)
    if model is not None:
        for name, field in model.model_fields.items():
            if element in (name, field.alias):
                return field.annotation
    return None


def allowed_values(path: tuple) -> list | None:
    """The values a field at `path` (keys and indexes of the document) may take when it is
    one of a fixed set (a Literal), else None."""
    annotation: Any = MLSystemSpec
    for element in path:
        annotation = _step(annotation, element)
        if annotation is None:
            return None
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        annotation = _unwrap(members[0]) if len(members) == 1 else annotation
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return None


def schema_keys(path: tuple) -> dict[str, bool] | None:
    """The keys the spec language allows in the mapping at `path` (keys and indexes of the
    document), each with whether leaving it out means an empty mapping of its own (a
    sub-section with every field defaulted, such as `serving.replicas`); None when the
    mapping there is not one of the spec's models (a named section, a free-form block)."""
    annotation: Any = MLSystemSpec
    for element in path:
        annotation = _step(annotation, element)
        if annotation is None:
            return None
    model = _as_model(annotation)
    if model is None:
        return None
    return {field.alias or name: field.default_factory is not None and _as_model(field.annotation) is not None
            for name, field in model.model_fields.items()}
