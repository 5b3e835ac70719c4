"""Builtin operator names and codes, and the options table each operator takes.

Example:
    >>> from edgelite.schema.ops import builtin_code, builtin_name
    >>> builtin_code("CONV_2D"), builtin_name(150)
    (3, 'GELU')
"""

from __future__ import annotations

from functools import lru_cache

from edgelite.schema.fb.BuiltinOperator import BuiltinOperator
from edgelite.schema.fb.BuiltinOptions import BuiltinOptions
from edgelite.schema.fb.BuiltinOptions2 import BuiltinOptions2

CUSTOM = BuiltinOperator.CUSTOM
# OperatorCode.deprecated_builtin_code is a byte: codes above this saturate to it.
PLACEHOLDER_FOR_GREATER_OP_CODES = BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES


def _enum_items(cls) -> dict[str, int]:
    return {k: v for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


@lru_cache(maxsize=None)
def _names() -> dict[int, str]:
    return {v: k for k, v in _enum_items(BuiltinOperator).items()}


@lru_cache(maxsize=None)
def _codes() -> dict[str, int]:
    return _enum_items(BuiltinOperator)


def builtin_name(code: int) -> str:
    """``3 -> "CONV_2D"``; unknown codes give ``"UNKNOWN_<code>"``."""
    return _names().get(int(code), f"UNKNOWN_{int(code)}")


def builtin_code(name: str) -> int:
    """``"CONV_2D" -> 3``. Raises KeyError for a name that is not a builtin operator."""
    try:
        return _codes()[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a TFLite builtin operator") from None


def all_builtin_names() -> list[str]:
    return sorted(_codes())


@lru_cache(maxsize=None)
def _options_types() -> tuple[dict[str, int], dict[str, int]]:
    return _enum_items(BuiltinOptions), _enum_items(BuiltinOptions2)


def options_union_type(options) -> tuple[int, int]:
    """For a generated options object (``Conv2DOptionsT``), ``(union, type code)``.

    ``union`` is 1 for ``builtin_options`` and 2 for ``builtin_options_2``.

    Raises:
        TypeError: the object is not a builtin options table.
    """
    name = type(options).__name__
    if name.endswith("T"):
        name = name[:-1]
    first, second = _options_types()
    if name in first and name != "NONE":
        return 1, first[name]
    if name in second and name != "NONE":
        return 2, second[name]
    raise TypeError(f"{type(options).__name__} is not a builtin options table")
