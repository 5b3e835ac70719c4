"""The ``.tflite`` format: TFLite schema v3 (file identifier ``TFL3``).

``read_model`` parses a file into the typed ``Model`` (constant data stays a zero-copy
view of the memory-mapped file); ``write_model`` writes it back; ``ModelBuilder``
makes models from scratch. The generated accessors live in ``edgelite.schema.fb``
(regenerate with ``python -m edgelite.schema.regenerate``).

Example:
    >>> from edgelite.schema import read_model, write_model
    >>> from edgelite.schema.model import Model, Subgraph
    >>> m = read_model(write_model(Model(subgraphs=[Subgraph()])))
    >>> m.version
    3
"""

from edgelite.schema.model import (  # noqa: F401
    Buffer,
    Metadata,
    Model,
    Operator,
    OperatorCode,
    QuantizationParameters,
    SignatureDef,
    SparsityParameters,
    Subgraph,
    Tensor,
    TensorMap,
    TensorType,
)
from edgelite.schema.reader import read_model, validate_model  # noqa: F401


def __getattr__(name: str):
    # The writer (and the builder API it pulls in) is imported on first use: running a
    # model never writes one, and the import cost every interpreter start-up.
    if name == "write_model":
        from edgelite.schema.writer import write_model

        return write_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Buffer", "Metadata", "Model", "Operator", "OperatorCode", "QuantizationParameters",
    "SignatureDef", "SparsityParameters", "Subgraph", "Tensor", "TensorMap", "TensorType",
    "read_model", "validate_model", "write_model",
]
