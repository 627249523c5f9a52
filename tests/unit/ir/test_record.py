"""The IR's `record` classes behave as the frozen dataclasses they stand for: the module's own
source, made again with `@dataclass(frozen=True)`, gives equal fields, constructors, reprs,
equality, hashes, `replace`, `asdict` and frozenness, class by class."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import sys
import types

import pytest

import mlspec.ir.model as ir
from mlspec.ir.record import record

RECORDS = sorted(name for name, value in vars(ir).items()
                 if isinstance(value, type) and value.__module__ == ir.__name__ and dataclasses.is_dataclass(value))


@pytest.fixture(scope="module")
def as_dataclasses():
    source = open(ir.__file__).read().replace("@record\n", "@dataclass(frozen=True)\n")
    source = source.replace("from mlspec.ir.record import record\n", "from dataclasses import dataclass\n")
    module = types.ModuleType("ir_as_dataclasses")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, ir.__file__, "exec"), module.__dict__)
        yield module
    finally:
        del sys.modules[module.__name__]


def test_every_class_of_the_ir_is_a_record():
    assert len(RECORDS) >= 38
    assert "dataclass(" not in open(ir.__file__).read()


def _arguments(cls) -> dict:
    """A value per required field: its name, so every field differs from every other."""
    return {f.name: f"{cls.__name__}.{f.name}" for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}


@pytest.mark.parametrize("name", RECORDS)
def test_a_record_behaves_as_its_frozen_dataclass(as_dataclasses, name):
    ours, theirs = getattr(ir, name), getattr(as_dataclasses, name)
    assert [(f.name, f.type, f.default, f.init, f.repr, f.compare, f.hash, f.kw_only)
            for f in dataclasses.fields(ours)] == \
           [(f.name, f.type, f.default, f.init, f.repr, f.compare, f.hash, f.kw_only) for f in dataclasses.fields(theirs)]
    a, b = ours(**_arguments(ours)), theirs(**_arguments(theirs))
    assert repr(a) == repr(b)
    assert dataclasses.asdict(a) == dataclasses.asdict(b) and dataclasses.astuple(a) == dataclasses.astuple(b)
    assert hash(a) == hash(b)
    assert a == ours(**_arguments(ours)) and a != b  # equal only to its own class
    positional = [getattr(a, f.name) for f in dataclasses.fields(ours)]
    assert ours(*positional) == a and theirs(*positional) == b
    first = dataclasses.fields(ours)[0].name
    changed = dataclasses.replace(a, **{first: "other"})
    assert getattr(changed, first) == "other" and changed != a and getattr(a, first) != "other"
    for act in (lambda o: setattr(o, first, 1), lambda o: delattr(o, first), lambda o: setattr(o, "new", 1)):
        with pytest.raises(dataclasses.FrozenInstanceError) as ours_error:
            act(a)
        with pytest.raises(dataclasses.FrozenInstanceError) as their_error:
            act(b)
        assert str(ours_error.value) == str(their_error.value)
    assert pickle.loads(pickle.dumps(a)) == a and copy.deepcopy(a) == a
    assert ours.__match_args__ == theirs.__match_args__


def test_constructor_errors_name_the_argument():
    @record
    class Point:
        x: int
        y: int = 0

    assert Point(1) == Point(x=1, y=0) and Point(1, 2) == Point(y=2, x=1)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'x'"):
        Point()
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        Point(1, z=3)
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        Point(1, x=2)
    with pytest.raises(TypeError, match="positional arguments"):
        Point(1, 2, 3)


def test_what_a_record_refuses():
    with pytest.raises(ValueError, match="mutable default"):
        record(type("Bad", (), {"__annotations__": {"x": "list"}, "x": []}))
    with pytest.raises(TypeError, match="without a default follows"):
        record(type("Bad", (), {"__annotations__": {"x": "int", "y": "int"}, "x": 0}))
    with pytest.raises(TypeError, match="plain defaults"):
        record(type("Bad", (), {"__annotations__": {"x": "int"}, "x": dataclasses.field(default=0)}))


def test_a_recursive_repr_does_not_loop():
    @record
    class Box:
        items: tuple

    inner = []
    box = Box(tuple([inner]))
    inner.append(box)
    assert repr(box) == "test_a_recursive_repr_does_not_loop.<locals>.Box(items=([...],))"
