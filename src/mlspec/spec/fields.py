"""The spec models read as documentation: what a key at a path means, which keys a mapping
takes, which values a field allows. The same pydantic fields (descriptions, defaults,
examples) `mlspec schema` publishes, so an editor's hover and completion (`mlspec lsp`) and
the JSON Schema never say different things."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined


@dataclass(frozen=True)
class FieldDoc:
    key: str  # the YAML key (the alias where there is one)
    description: str
    default: Any = None  # None when the field is required or defaults to nothing
    required: bool = False
    examples: tuple = ()
    allowed: tuple = ()  # the values of a Literal field
    named_entry: bool = False  # the path names an entry of a mapping by name (`datasets.customers`)


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _members(annotation: Any) -> list:
    """The alternatives of a union (Optional included), else the annotation itself."""
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for member in typing.get_args(annotation) if member is not type(None) for m in _members(member)]
    return [annotation]


def _models(annotation: Any) -> list[type[BaseModel]]:
    return [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]


def _field(annotation: Any, key: str):
    for model in _models(annotation):
        for name, info in model.model_fields.items():
            if key in (name, info.alias):
                return info
    return None


def _container(annotation: Any) -> tuple[Any, Any] | None:
    """(origin, item type) of a dict or list annotation (through Optional)."""
    for member in _members(annotation):
        origin = typing.get_origin(member)
        if origin is dict:
            return dict, typing.get_args(member)[1]
        if origin is list:
            return list, typing.get_args(member)[0]
    return None


def _walk(path: tuple) -> tuple[Any, Any, bool] | None:
    """(annotation, the field that declared it, whether the last step named a mapping entry)
    at `path`, from the root model."""
    from mlspec.spec.models import MLSystemSpec

    annotation: Any = MLSystemSpec
    declared = None
    entry = False
    for element in path:
        info = _field(annotation, str(element)) if not isinstance(element, int) else None
        if info is not None:
            annotation, declared, entry = info.annotation, info, False
            continue
        container = _container(annotation)
        if container is None:
            return None
        origin, item = container
        if origin is list and not isinstance(element, int):
            return None
        annotation, entry = item, origin is dict
    return annotation, declared, entry


def field_doc(path: tuple) -> FieldDoc | None:
    """What the key at `path` (keys and list indexes of the document) means; None outside
    the spec language (a free-form block like Feast's `onlineStore`, or a key that does not
    exist)."""
    walked = _walk(tuple(path))
    if walked is None or not path:
        return None
    annotation, info, entry = walked
    if info is None:
        return None
    default = None
    if info.default is not PydanticUndefined:
        default = info.default
    elif info.default_factory is not None:
        try:
            made = info.default_factory()
        except TypeError:
            made = None
        default = made.model_dump(mode="json", by_alias=True) if isinstance(made, BaseModel) else made
    return FieldDoc(key=str(path[-1]), description=info.description or "", default=default,
                    required=info.is_required(), examples=tuple(info.examples or ()),
                    allowed=tuple(allowed_values_of(annotation)), named_entry=entry)


def allowed_values_of(annotation: Any) -> list:
    values: list = []
    for member in _members(annotation):
        if typing.get_origin(member) is typing.Literal:
            values += [v for v in typing.get_args(member) if v not in values]
    return values


def values_at(path: tuple) -> list:
    """The values the field at `path` may take when it is one of a fixed set (a Literal), or
    true/false for a flag; [] otherwise."""
    walked = _walk(tuple(path))
    if walked is None:
        return []
    annotation = walked[0]
    allowed = allowed_values_of(annotation)
    if allowed:
        return allowed
    if bool in _members(annotation):
        return [True, False]
    return []


def keys_at(path: tuple) -> list[FieldDoc]:
    """The keys the mapping at `path` takes, with their documentation; [] when it is not a
    model (a mapping of named entries takes any name)."""
    walked = _walk(tuple(path))
    if walked is None:
        return []
    found: dict[str, FieldDoc] = {}
    for model in _models(walked[0]):
        for name in model.model_fields:
            key = model.model_fields[name].alias or name
            if key not in found:
                doc = field_doc(tuple(path) + (key,))
                if doc is not None:
                    found[key] = doc
    return list(found.values())


def is_named_mapping(path: tuple) -> bool:
    """Whether the mapping at `path` holds entries by name (`datasets`, `featureViews.X.features`)."""
    walked = _walk(tuple(path))
    return walked is not None and (_container(walked[0]) or (None,))[0] is dict
