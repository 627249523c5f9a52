"""`record`: what `@dataclass(frozen=True)` makes of a class, without its start-up cost.

Every command that reads a spec builds the IR, so its 38 classes are made on every cold run.
`dataclasses` writes each class's `__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__` and
`__delattr__` as source text and compiles it, and formats a signature for the docstring: a fifth
of the import floor for the IR module alone. A record gets the same methods as closures over its
field names, made once per class, and the same `__dataclass_fields__` (real `dataclasses.Field`
objects), so `dataclasses.fields`, `replace`, `asdict`, `astuple` and `is_dataclass` treat it as
the frozen dataclass it stands for. tests/unit/ir/test_record.py holds the two equal, class by
class. Only what the IR uses is supported: annotated fields with plain defaults (no
`field(...)`), `ClassVar` annotations, no inheritance between records.
"""

from __future__ import annotations

import dataclasses
import reprlib
from dataclasses import MISSING, FrozenInstanceError

_FIELD = dataclasses._FIELD  # what marks an instance field (not a ClassVar or InitVar) for fields()


def _is_class_var(annotation) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def record(cls: type) -> type:
    annotations = cls.__dict__.get("__annotations__", {})
    fields: dict[str, dataclasses.Field] = {}
    for name, annotation in annotations.items():
        if _is_class_var(annotation):
            continue
        default = cls.__dict__.get(name, MISSING)
        if isinstance(default, dataclasses.Field):
            raise TypeError(f"{cls.__name__}.{name}: record() takes plain defaults, not field()")
        if default is not MISSING and default.__class__.__hash__ is None:
            raise ValueError(f"mutable default {type(default)} for field {name} is not allowed: use default_factory")
        spec = dataclasses.field(default=default)
        spec.name, spec.type, spec._field_type, spec.kw_only = name, annotation, _FIELD, False
        fields[name] = spec
    names = tuple(fields)
    defaults = {name: f.default for name, f in fields.items() if f.default is not MISSING}
    required = [name for name in names if name not in defaults]
    if any(names.index(r) > min((names.index(d) for d in defaults), default=len(names)) for r in required):
        raise TypeError(f"{cls.__name__}: a field without a default follows one with a default")
    setattr_ = object.__setattr__
    qualname = cls.__qualname__

    def __init__(self, *args, **kwargs):
        if len(args) > len(names):
            raise TypeError(f"{qualname}.__init__() takes {len(names) + 1} positional arguments"
                            f" but {len(args) + 1} were given")
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"{qualname}.__init__() got multiple values for argument '{name}'")
            setattr_(self, name, value)
        for name in names[len(args):]:
            if name in kwargs:
                setattr_(self, name, kwargs.pop(name))
            elif name in defaults:
                setattr_(self, name, defaults[name])
            else:
                raise TypeError(f"{qualname}.__init__() missing 1 required positional argument: '{name}'")
        if kwargs:
            raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument '{next(iter(kwargs))}'")

    @reprlib.recursive_repr()
    def __repr__(self):
        return f"{self.__class__.__qualname__}(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in names) + ")"

    def _values(self):
        return tuple(getattr(self, name) for name in names)

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return _values(self) == _values(other)
        return NotImplemented

    def __hash__(self):
        return hash(_values(self))

    def __setattr__(self, name, value):
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self, name):
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    for method in (__init__, __repr__, __eq__, __hash__, __setattr__, __delattr__):
        method.__qualname__ = f"{qualname}.{method.__name__}"
        setattr(cls, method.__name__, method)
    __init__.__annotations__ = {name: fields[name].type for name in names} | {"return": None}
    for name in names:  # dataclasses keeps defaults as class attributes: so does a record
        if name in defaults:
            setattr(cls, name, defaults[name])
    cls.__dataclass_fields__ = fields
    cls.__match_args__ = names
    if not cls.__doc__:
        cls.__doc__ = f"{cls.__name__}({', '.join(names)})"
    return cls
