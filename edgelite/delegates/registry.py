"""``load_delegate(name, options)``: edgelite's built-in delegates by name, as LiteRT's.

LiteRT's ``load_delegate(library, options)`` loads a shared library; edgelite's
delegates are Python, so the first argument is a name: ``"gpu"`` or ``"nnapi"``.
Option values may be strings (LiteRT passes every value through ``str()``) or
native Python values.

Example:
    >>> from edgelite.delegates import delegate_names
    >>> delegate_names()
    ['gpu', 'nnapi']
"""

from __future__ import annotations

from typing import Callable

from edgelite.errors import DelegateError


def _gpu(options: dict):
    from edgelite.delegates.gpu.delegate import GpuDelegate

    return GpuDelegate.from_options(options)


def _nnapi(options: dict):
    from edgelite.delegates.nnapi.delegate import NnapiDelegate

    return NnapiDelegate.from_options(options)


# name -> loader(options) returning a delegate object (edgelite.interpreter.delegation.Delegate)
_LOADERS: dict[str, Callable[[dict], object]] = {"gpu": _gpu, "nnapi": _nnapi}


def delegate_names() -> list[str]:
    """Names ``load_delegate`` accepts."""
    return sorted(_LOADERS)


def load_delegate(name: str, options: dict | None = None):
    """Create one of edgelite's delegates, to pass in ``Interpreter(experimental_delegates=[...])``.

    Args:
        name: ``"gpu"`` or ``"nnapi"`` (case-insensitive; ``"GPU"`` works too).
        options: the delegate's options (see docs/delegates.md); values may be strings.

    Raises:
        DelegateError: unknown name or option, or the delegate cannot run here (the
            message gives the reason: no wgpu, no adapter, unsupported Python...).

    Example:
        >>> import edgelite
        >>> edgelite.load_delegate("tpu")
        Traceback (most recent call last):
        ...
        edgelite.errors.DelegateError: load_delegate: unknown delegate 'tpu'; edgelite has: gpu, nnapi
    """
    key = str(name).strip().lower()
    loader = _LOADERS.get(key)
    if loader is None:
        raise DelegateError(f"load_delegate: unknown delegate {name!r}; edgelite has: {', '.join(delegate_names())}")
    if options is not None and not isinstance(options, dict):
        raise DelegateError(f"load_delegate({name!r}): options must be a dict, got {type(options).__name__}")
    return loader(dict(options or {}))
