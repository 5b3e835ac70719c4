"""Helpers every edgelite delegate shares: option parsing and the common attributes.

A delegate is any object implementing ``edgelite.interpreter.delegation.Delegate``;
``BaseDelegate`` holds the attributes the partitioner reads and parses LiteRT-style
option dicts, whose values may be strings (LiteRT passes every value through ``str()``).

Example:
    >>> from edgelite.delegates.base import parse_bool, parse_int
    >>> parse_bool("true", "validate"), parse_int("3", "max_delegated_partitions")
    (True, 3)
"""

from __future__ import annotations

from edgelite.errors import DelegateError


def parse_bool(value, key: str) -> bool:
    """``True``/``False``, 1/0 or their strings ("true", "1", "false", "0")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise DelegateError(f"delegate option {key}={value!r}: expected true/false or 1/0")


def parse_int(value, key: str, lo: int | None = None, hi: int | None = None) -> int:
    """An int (or its string) within ``[lo, hi]``."""
    try:
        out = int(str(value).strip()) if not isinstance(value, int) or isinstance(value, bool) else value
    except ValueError:
        raise DelegateError(f"delegate option {key}={value!r}: expected an integer") from None
    if (lo is not None and out < lo) or (hi is not None and out > hi):
        raise DelegateError(f"delegate option {key}={value!r}: must be in [{lo}, {hi}]")
    return out


def parse_float(value, key: str) -> float:
    try:
        return float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise DelegateError(f"delegate option {key}={value!r}: expected a number") from None


def check_keys(options: dict, known: set[str], delegate: str) -> None:
    """Refuse unknown option keys (a typo would otherwise be silently ignored)."""
    unknown = sorted(set(options) - known)
    if unknown:
        raise DelegateError(f"{delegate} delegate: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


class BaseDelegate:
    """Attributes the interpreter's partitioner reads (see ``Delegate``) with their defaults.

    Subclasses set ``name`` and implement ``node_support`` and ``prepare_partition``.
    """

    name = "BASE"

    def __init__(
        self,
        *,
        max_delegated_partitions: int = 1,
        min_partition_size: int = 1,
        validate: bool = False,
        validate_tolerance: float | None = None,
    ) -> None:
        if max_delegated_partitions < 0:
            raise DelegateError(f"{self.name} delegate: max_delegated_partitions must be >= 0 (0: no limit)")
        if min_partition_size < 1:
            raise DelegateError(f"{self.name} delegate: min_partition_size must be >= 1")
        if validate_tolerance is not None and not validate_tolerance >= 0:
            raise DelegateError(f"{self.name} delegate: validate_tolerance must be >= 0")
        self.max_delegated_partitions = int(max_delegated_partitions)
        self.min_partition_size = int(min_partition_size)
        self.validate = bool(validate)
        self.validate_tolerance = validate_tolerance

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(max_delegated_partitions={self.max_delegated_partitions}, "
            f"min_partition_size={self.min_partition_size}, validate={self.validate})"
        )
