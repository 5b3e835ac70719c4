"""The typed errors edgelite raises.

Every error a user can cause (a bad file, an operator edgelite lacks, an input of the
wrong shape) is one of these, so callers can catch ``EdgeliteError`` and the CLI can
print a one-line message instead of a traceback.

Example:
    >>> from edgelite.errors import ModelFormatError
    >>> try:
    ...     import edgelite.schema
    ...     edgelite.schema.read_model(b"not a model")
    ... except ModelFormatError as e:
    ...     print(type(e).__name__)
    ModelFormatError
"""

from __future__ import annotations


class EdgeliteError(Exception):
    """Base class of every error edgelite raises on purpose."""


class RegistrationError(EdgeliteError):
    """A kernel or an op converter registered twice for one operator (a programming error)."""


class ModelFormatError(EdgeliteError, ValueError):
    """A model file is truncated, corrupted, or not a TFLite flatbuffer."""


class UnsupportedOperatorError(EdgeliteError, NotImplementedError):
    """One or more operators cannot be converted or executed.

    Attributes:
        ops: list of ``(op_type, node_or_operator_name)`` pairs, every one that failed,
            so a user sees the whole list at once.
    """

    def __init__(self, message: str, ops: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.ops = list(ops or [])


class ShapeError(EdgeliteError, ValueError):
    """A tensor has a shape that the model or operator cannot accept."""


class DTypeError(EdgeliteError, TypeError):
    """A tensor has a dtype that the model or operator cannot accept."""


class ConversionError(EdgeliteError):
    """Conversion failed in a named pass on a named node."""


class QuantizationError(EdgeliteError):
    """Quantization could not be applied (missing calibration, unsupported layer...)."""


class InterpreterStateError(EdgeliteError, RuntimeError):
    """An interpreter call came at the wrong time (before allocate_tensors, with live views...)."""


class DelegateError(EdgeliteError, RuntimeError):
    """A delegate could not be created or could not run its partition."""


class InvocationError(EdgeliteError, RuntimeError):
    """A kernel refused the data of one run (an index out of range...), as LiteRT's invoke fails."""
