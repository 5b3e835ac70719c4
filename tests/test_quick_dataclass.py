"""``quick_dataclass.dataclass`` against ``dataclasses.dataclass``: the same classes
declared with each, instances built from the same arguments, must behave alike
(construction and its errors, repr, equality, hashing, frozen fields, ``replace``,
``asdict``, ``fields``, inheritance, ``__post_init__``, field options)."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import field

import numpy as np
import pytest

from edgelite import quick_dataclass


def _pair(body: dict, **options):
    """The class ``body`` declared with the standard decorator and with the quick one."""
    made = []
    for deco in (dataclasses.dataclass, quick_dataclass.dataclass):
        ns = dict(body)
        ns["__module__"] = __name__
        ns["__annotations__"] = dict(body["__annotations__"])
        made.append(deco(**options)(type("Rec", (), ns)))
    return made


BODY = {
    "__annotations__": {"a": "int", "b": "tuple", "c": "list", "d": "str", "e": "int"},
    "__doc__": "A record.",
    "c": field(default_factory=list),
    "d": field(default="x", repr=False),
    "e": field(default=5, compare=False),
}
CALLS = [((1, (2,)), {}), ((1,), {"b": (3, 4)}), ((), {"a": 0, "b": (), "c": [1], "d": "y", "e": 9}),
         ((1, (2,), [3], "z", 4), {})]
BAD_CALLS = [((), {}), ((1,), {}), ((1, (2,), [], "q", 4, 5), {}), ((1, (2,)), {"a": 3}), ((1, (2,)), {"zz": 1})]


def _outcome(fn):
    try:
        return "value", fn()
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return "error", type(e)


@pytest.mark.parametrize("options", [{}, {"frozen": True}, {"eq": False}, {"frozen": True, "eq": False},
                                     {"repr": False}])
def test_behaves_like_the_standard_decorator(options):
    std, quick = _pair(BODY, **options)
    assert dataclasses.is_dataclass(quick)
    assert [(f.name, f.default, f.default_factory, f.repr, f.compare) for f in dataclasses.fields(std)] == \
           [(f.name, f.default, f.default_factory, f.repr, f.compare) for f in dataclasses.fields(quick)]
    assert quick.__match_args__ == std.__match_args__ and quick.__doc__ == std.__doc__
    for name in ("init", "repr", "eq", "frozen", "order", "unsafe_hash"):
        assert getattr(quick.__dataclass_params__, name) == getattr(std.__dataclass_params__, name), name
    assert (quick.__hash__ is None) == (std.__hash__ is None)
    for args, kwargs in CALLS:
        s, q = std(*args, **kwargs), quick(*args, **kwargs)
        assert vars(s) == vars(q)
        if options.get("repr", True):
            assert repr(s) == repr(q)
        else:
            assert repr(q).startswith("<")
        assert dataclasses.asdict(s) == dataclasses.asdict(q)
        assert dataclasses.astuple(s) == dataclasses.astuple(q)
        q2, s2 = quick(*args, **kwargs), std(*args, **kwargs)
        assert (q == q2) == (s == s2)
        assert (q == dataclasses.replace(q2, e=123)) == (s == dataclasses.replace(s2, e=123))  # e: compare=False
        assert (q == dataclasses.replace(q2, a=-1)) == (s == dataclasses.replace(s2, a=-1))
        assert q.__eq__(s) is NotImplemented or not options.get("eq", True)
        if std.__hash__ is object.__hash__:
            assert quick.__hash__ is object.__hash__  # identity hash, as without eq
        else:
            assert _outcome(lambda: hash(q)) == _outcome(lambda: hash(s))  # a value, or the same error
            hashable = dataclasses.replace(q, c=(1,)), dataclasses.replace(s, c=(1,))
            assert _outcome(lambda: hash(hashable[0])) == _outcome(lambda: hash(hashable[1]))
        assert vars(copy.deepcopy(q)) == vars(q) and vars(copy.copy(q)) == vars(q)
        for target in (q, s):
            if options.get("frozen"):
                with pytest.raises(dataclasses.FrozenInstanceError):
                    target.a = 7
                with pytest.raises(dataclasses.FrozenInstanceError):
                    del target.b
            else:
                target.a = 7
                assert target.a == 7
    for args, kwargs in BAD_CALLS:
        with pytest.raises(TypeError):
            std(*args, **kwargs)
        with pytest.raises(TypeError):
            quick(*args, **kwargs)


def test_default_factories_give_each_instance_its_own_value():
    _, quick = _pair(BODY)
    one, two = quick(1, ()), quick(2, ())
    one.c.append(1)
    assert two.c == []


def test_post_init_runs_after_the_fields_are_set():
    calls = []

    @quick_dataclass.dataclass
    class Ctx:
        outputs: list
        shapes: list = field(default_factory=list)

        def __post_init__(self):
            calls.append(len(self.outputs))
            if not self.shapes:
                self.shapes = [None] * len(self.outputs)

    c = Ctx([1, 2])
    assert c.shapes == [None, None] and calls == [2]
    assert Ctx.__doc__ == "Ctx(outputs, shapes)"  # written for a class without one


def test_inheritance_follows_the_frozen_rule_and_extends_fields():
    @quick_dataclass.dataclass(frozen=True)
    class Base:
        q: np.ndarray
        zp: int = 0

    @quick_dataclass.dataclass(frozen=True)
    class Child(Base):
        extra: int = 1

    @dataclasses.dataclass(frozen=True)
    class StdChild(Base):
        other: str = "s"

    c = Child(np.arange(2), 3, 4)
    assert [f.name for f in dataclasses.fields(c)] == ["q", "zp", "extra"]
    assert repr(c) == "test_inheritance_follows_the_frozen_rule_and_extends_fields.<locals>.Child(q=array([0, 1]), zp=3, extra=4)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.extra = 2
    assert StdChild(np.zeros(1)).other == "s"
    with pytest.raises(TypeError, match="non-frozen"):
        @quick_dataclass.dataclass
        class Thawed(Base):
            y: int = 0
    with pytest.raises(TypeError, match="non-frozen"):
        @dataclasses.dataclass
        class StdThawed(Base):
            y: int = 0


def test_frozen_subclass_of_a_plain_class_may_set_its_own_attributes():
    class Plain:
        pass

    @quick_dataclass.dataclass(frozen=True)
    class Rec(Plain):
        a: int

    class Sub(Rec):
        pass

    s = Sub(1)
    s.note = "free"  # not a field, and not the dataclass itself: allowed, as with the stdlib
    assert s.note == "free"
    with pytest.raises(dataclasses.FrozenInstanceError):
        Rec(1).note = "x"


def test_unsupported_features_are_refused():
    with pytest.raises(TypeError, match="InitVar"):
        @quick_dataclass.dataclass
        class WithInitVar:
            a: dataclasses.InitVar[int]
    with pytest.raises(TypeError, match="init=False"):
        @quick_dataclass.dataclass
        class NoInit:
            a: int = field(default=0, init=False)
    with pytest.raises(TypeError, match="__repr__"):
        @quick_dataclass.dataclass
        class OwnRepr:
            a: int

            def __repr__(self):
                return "mine"


def test_interpreter_records_are_quick_dataclasses():
    """The schema tables, graph records and kernel parameters use it (what a cold start creates)."""
    from edgelite.interpreter.compute.int8_numpy import RequantPlan
    from edgelite.interpreter.graph import TensorSpec
    from edgelite.interpreter.kernels.base import OpContext
    from edgelite.interpreter.kernels.conv.conv_quant import ConvQuantParams

    from edgelite.schema.model import Model, Tensor

    for cls in (RequantPlan, TensorSpec, OpContext, ConvQuantParams, Model, Tensor):
        assert dataclasses.is_dataclass(cls)
        assert cls.__init__.__module__ == quick_dataclass.__name__, cls
