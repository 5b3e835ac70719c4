"""``Lazy``: a value a kernel's ``prepare`` describes but makes only when first used.

Some of what ``prepare`` computes serves only the Numba kernels (their tables and
scratch buffers). A fresh process's first invoke runs the numpy reference kernels while
Numba loads in the background (:mod:`~edgelite.interpreter.compute.jit`), so making
those at ``allocate_tensors`` would delay the first result for nothing: ``prepare``
wraps them in a ``Lazy`` and the JIT ``eval`` (or ``bind``) calls :meth:`Lazy.get`.

Example:
    >>> from edgelite.interpreter.compute.lazy import Lazy
    >>> made = []
    >>> v = Lazy(lambda: made.append(1) or 42)
    >>> v.made, made
    (False, [])
    >>> v.get(), v.get(), made
    (42, 42, [1])
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Lazy"]


class Lazy(Generic[T]):
    """``factory()`` made on the first :meth:`get`, then kept."""

    __slots__ = ("_factory", "_value")

    def __init__(self, factory: Callable[[], T]):
        self._factory: Callable[[], T] | None = factory
        self._value: T | None = None

    def get(self) -> T:
        """The value (made now on the first call)."""
        factory = self._factory
        if factory is not None:
            # two threads racing here both make it; one result is kept, and the factory
            # is dropped only after the value is stored
            self._value = factory()
            self._factory = None
        return self._value

    @property
    def made(self) -> bool:
        """Whether :meth:`get` has run."""
        return self._factory is None

    def __repr__(self) -> str:
        return f"<Lazy {'made' if self.made else 'not made yet'}>"
