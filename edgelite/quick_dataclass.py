"""``dataclass``: standard-library dataclasses, made without compiling any code.

``dataclasses.dataclass`` writes ``__init__``, ``__repr__``, ``__eq__`` (and for a
frozen class ``__hash__``, ``__setattr__``, ``__delattr__``) as source text and compiles
each one: about 1 ms per class on a 2.8 GHz Xeon (measured), and a fresh process that
runs an int8 MobileNetV2 defines over fifty classes on its way to the first result
(the schema's tables, the interpreter's tensor and operator records, kernel
parameters), a fifth of its start-up beyond numpy's. ``edgelite.schema`` and
``edgelite.interpreter`` use it (it sits with ``errors`` below every layer and imports
nothing of ours). This decorator lets the standard library collect and check the fields (about
0.2 ms: nothing compiled) and gives the class generic methods that read the field list
instead, with the same behaviour:

* ``__init__(*args, **kwargs)``: the fields in order, positional or by keyword,
  defaults and ``default_factory`` for the missing ones, then ``__post_init__`` when
  the class has one; the same ``TypeError`` for a missing, unexpected or repeated
  argument;
* ``__repr__`` (fields with ``repr=True``), ``__eq__`` (same class, fields with
  ``compare=True`` compared as a tuple), and the standard rules for ``__hash__``
  (frozen with ``eq``: the hash of that tuple; ``eq`` without frozen: unhashable);
* ``frozen=True``: assigning or deleting a field raises ``FrozenInstanceError``.

The result is a dataclass to the standard library (``dataclasses.fields``,
``replace``, ``asdict`` and ``is_dataclass`` work, ``__dataclass_params__`` tells
``frozen``, ``eq``, ``repr``) and may be subclassed by either decorator under the usual
frozen / non-frozen rule. A call to a generic ``__init__`` costs a few microseconds
more than a compiled one; classes are made once per process and instances once per
operator per ``allocate_tensors``. ``InitVar``, ``kw_only`` and ``field(init=False)``
are not supported (a ``TypeError`` says so): use ``dataclasses.dataclass`` for them.

Example:
    >>> from edgelite.quick_dataclass import dataclass
    >>> @dataclass(frozen=True)
    ... class Window:
    ...     kh: int
    ...     kw: int = 1
    >>> Window(3)
    Window(kh=3, kw=1)
    >>> Window(3) == Window(kh=3, kw=1), hash(Window(3)) == hash(Window(3, 1))
    (True, True)
"""

from __future__ import annotations

import dataclasses
import reprlib
from dataclasses import MISSING, FrozenInstanceError

__all__ = ["dataclass"]


def dataclass(cls=None, /, *, frozen: bool = False, eq: bool = True, repr: bool = True):  # noqa: A002 - the stdlib's names
    """``dataclasses.dataclass(cls, frozen=..., eq=..., repr=...)`` without compiled methods
    (see the module docstring). Used bare (``@dataclass``) or with arguments."""

    def wrap(c):
        return _make(c, frozen=frozen, eq=eq, repr_=repr)

    return wrap if cls is None else wrap(cls)


def _any_frozen_base(cls) -> bool:
    for b in cls.__mro__[1:]:
        params = getattr(b, "__dataclass_params__", None)
        if params is not None and getattr(b, "__dataclass_fields__", None) is not None and params.frozen:
            return True
    return False


def _make(cls, *, frozen: bool, eq: bool, repr_: bool):
    for name in ("__init__", "__repr__", "__eq__", "__setattr__", "__delattr__"):
        if name in cls.__dict__:
            # the standard library keeps a class's own method; so would a rewrite of this
            # one that did, which the generic methods below would silently replace
            raise TypeError(f"{cls.__qualname__} defines {name}: use dataclasses.dataclass for it")
    # Under a frozen base the standard library itself must make the class frozen (its
    # rule refuses a non-frozen child); it then compiles the two frozen methods only.
    std_frozen = frozen and _any_frozen_base(cls)
    has_doc = bool(cls.__dict__.get("__doc__"))
    if not has_doc:
        # The standard library writes a missing docstring from inspect.signature(cls),
        # whose first use compiles tokenize's patterns (milliseconds); one is written below.
        cls.__doc__ = cls.__name__
    cls = dataclasses.dataclass(cls, init=False, repr=False, eq=False, frozen=std_frozen)
    fields = dataclasses.fields(cls)
    for f in fields:
        if not f.init or getattr(f, "kw_only", False) is True:
            raise TypeError(f"{cls.__qualname__}.{f.name}: init=False / kw_only fields need dataclasses.dataclass")
    initvar = getattr(dataclasses, "_FIELD_INITVAR", None)  # how the standard library marks them
    if any(getattr(f, "_field_type", None) is initvar for f in cls.__dict__["__dataclass_fields__"].values()):
        raise TypeError(f"{cls.__qualname__}: InitVar fields need dataclasses.dataclass")

    cls.__init__ = _init(cls, fields)
    if repr_:
        cls.__repr__ = _repr(tuple(f.name for f in fields if f.repr))
    if eq:
        compared = tuple(f.name for f in fields if f.compare)
        cls.__eq__ = _eq(compared)
        if "__hash__" not in cls.__dict__ or cls.__dict__["__hash__"] is None:
            # the standard rules (unsafe_hash=False): frozen -> hash of the compared
            # fields (those with hash=None or True); not frozen -> unhashable
            hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
            cls.__hash__ = _hash(hashed) if frozen else None
    if frozen and not std_frozen:
        names = frozenset(f.name for f in fields)
        cls.__setattr__, cls.__delattr__ = _frozen_methods(cls, names)
    params = cls.__dict__["__dataclass_params__"]
    params.init, params.repr, params.eq, params.frozen = True, repr_, eq, frozen
    if not has_doc:
        cls.__doc__ = f"{cls.__name__}({', '.join(f.name for f in fields)})"
    return cls


def _init(cls, fields):
    names = tuple(f.name for f in fields)
    n = len(names)
    position = {name: i for i, name in enumerate(names)}
    known = position.keys()
    defaults = tuple(f.default for f in fields)
    factories = tuple(f.default_factory for f in fields)
    qualname = cls.__qualname__
    post_init = hasattr(cls, "__post_init__")

    def __init__(self, *args, **kwargs):
        # Fields go straight into the instance dict, as the compiled __init__ of a
        # frozen dataclass does through object.__setattr__.
        d = self.__dict__
        given = len(args)
        if given:
            if given > n:
                raise TypeError(f"{qualname}.__init__() takes {n + 1} positional arguments but {given + 1} were given")
            d.update(zip(names, args))
        if kwargs:
            if not kwargs.keys() <= known:
                bad = next(k for k in kwargs if k not in known)
                raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument {bad!r}")
            if given:
                for key in kwargs:
                    if position[key] < given:
                        raise TypeError(f"{qualname}.__init__() got multiple values for argument {key!r}")
            d.update(kwargs)
        if given + len(kwargs) < n:
            missing = []
            for i in range(given, n):
                name = names[i]
                if name in kwargs:
                    continue
                if defaults[i] is not MISSING:
                    d[name] = defaults[i]
                elif factories[i] is not MISSING:
                    d[name] = factories[i]()
                else:
                    missing.append(repr(name))
            if missing:
                raise TypeError(f"{qualname}.__init__() missing {len(missing)} required argument"
                                f"{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
        if post_init:
            self.__post_init__()

    __init__.__qualname__ = f"{qualname}.__init__"
    return __init__


def _repr(names: tuple[str, ...]):
    @reprlib.recursive_repr()
    def __repr__(self):
        return f"{type(self).__qualname__}({', '.join(f'{k}={getattr(self, k)!r}' for k in names)})"

    return __repr__


def _eq(names: tuple[str, ...]):
    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return tuple(getattr(self, k) for k in names) == tuple(getattr(other, k) for k in names)
        return NotImplemented

    return __eq__


def _hash(names: tuple[str, ...]):
    def __hash__(self):
        return hash(tuple(getattr(self, k) for k in names))

    return __hash__


def _frozen_methods(cls, names: frozenset[str]):
    def __setattr__(self, name, value):
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self, name):
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __setattr__, __delattr__
