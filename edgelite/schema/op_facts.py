"""Facts about TFLite builtin operators that the converter, the quantizer and the
interpreter all need, in one place (low in the layers: ``schema`` imports nothing above).

* which input holds an operator's constant weights, which axis of those weights holds
  the output channels (the axis of per-channel quantization), and which input is the
  bias (:data:`WEIGHTS`);
* the first TFLite runtime that runs each (operator, version) pair, from TFLite's
  ``tools/versioning/runtime_version.cc`` (:func:`runtime_version`), and the
  ``min_runtime_version`` a model with given operators needs (:func:`min_runtime_version`).

Example:
    >>> from edgelite.schema.op_facts import channel_axis, runtime_version, min_runtime_version
    >>> channel_axis("DEPTHWISE_CONV_2D"), channel_axis("ADD")
    (3, None)
    >>> runtime_version("FULLY_CONNECTED", 4)
    '1.14.0'
    >>> min_runtime_version([("CONV_2D", 1), ("GELU", 1)])
    '2.9.0'
"""

from __future__ import annotations

from typing import Sequence

from edgelite.quick_dataclass import dataclass


@dataclass(frozen=True)
class WeightFacts:
    """Where an operator keeps its constant weights (TFLite layouts)."""

    weight_input: int  # input position of the weights
    channel_axis: int | None  # weights' output-channel axis; None: per-tensor only
    bias_input: int | None  # input position of the bias, None if the op has none


# CONV_2D filters are OHWI, DEPTHWISE_CONV_2D 1HW(C*M), FULLY_CONNECTED (O, I),
# TRANSPOSE_CONV (output_shape, OHWI filter, input, bias).
WEIGHTS: dict[str, WeightFacts] = {
    "CONV_2D": WeightFacts(1, 0, 2),
    "DEPTHWISE_CONV_2D": WeightFacts(1, 3, 2),
    "FULLY_CONNECTED": WeightFacts(1, 0, 2),
    "TRANSPOSE_CONV": WeightFacts(1, 0, 3),
    "BATCH_MATMUL": WeightFacts(1, None, None),
    "EMBEDDING_LOOKUP": WeightFacts(1, None, None),
}


def weight_input(op: str) -> int | None:
    """Input position of ``op``'s constant weights (None: the op has none)."""
    f = WEIGHTS.get(op)
    return None if f is None else f.weight_input


def channel_axis(op: str) -> int | None:
    """Output-channel axis of ``op``'s weights (None: no per-channel weights)."""
    f = WEIGHTS.get(op)
    return None if f is None else f.channel_axis


# (operator, version) -> the first TFLite runtime that runs it (runtime_version.cc).
_RUNTIME = {
    ("AVERAGE_POOL_2D", 1): "1.5.0", ("AVERAGE_POOL_2D", 2): "1.14.0", ("AVERAGE_POOL_2D", 3): "2.3.0",
    ("MAX_POOL_2D", 1): "1.5.0", ("MAX_POOL_2D", 2): "1.14.0", ("MAX_POOL_2D", 3): "2.3.0",
    ("BATCH_MATMUL", 1): "2.3.0", ("BATCH_MATMUL", 2): "2.3.0", ("BATCH_MATMUL", 3): "2.4.0",
    ("BATCH_MATMUL", 4): "2.5.0",
    ("CONV_2D", 1): "1.5.0", ("CONV_2D", 2): "1.14.0", ("CONV_2D", 3): "1.14.0", ("CONV_2D", 4): "2.3.0",
    ("CONV_2D", 5): "2.4.0",
    ("DEPTHWISE_CONV_2D", 1): "1.5.0", ("DEPTHWISE_CONV_2D", 2): "1.12.0", ("DEPTHWISE_CONV_2D", 3): "1.14.0",
    ("DEPTHWISE_CONV_2D", 4): "2.2.0", ("DEPTHWISE_CONV_2D", 5): "2.3.0", ("DEPTHWISE_CONV_2D", 6): "2.3.0",
    ("ADD", 1): "1.5.0", ("ADD", 2): "1.14.0", ("ADD", 3): "2.4.0",
    ("SUB", 1): "1.6.0", ("SUB", 2): "1.14.0", ("SUB", 3): "2.3.0", ("SUB", 5): "2.4.0",
    ("MUL", 1): "1.5.0", ("MUL", 2): "1.14.0", ("MUL", 3): "1.15.0", ("MUL", 4): "2.3.0",
    ("CONCATENATION", 1): "1.5.0", ("CONCATENATION", 2): "1.14.0", ("CONCATENATION", 3): "2.3.0",
    ("EMBEDDING_LOOKUP", 1): "1.13.0", ("EMBEDDING_LOOKUP", 3): "1.14.0",
    ("FULLY_CONNECTED", 1): "1.5.0", ("FULLY_CONNECTED", 3): "1.14.0", ("FULLY_CONNECTED", 4): "1.14.0",
    ("FULLY_CONNECTED", 5): "2.0.0", ("FULLY_CONNECTED", 6): "2.1.0", ("FULLY_CONNECTED", 7): "2.3.0",
    ("FULLY_CONNECTED", 9): "2.3.0",
    ("GATHER", 1): "1.6.0", ("GATHER", 2): "1.14.0", ("GATHER", 4): "2.4.0",
    ("L2_NORMALIZATION", 2): "1.14.0",
    ("MAXIMUM", 2): "1.14.0", ("MINIMUM", 2): "1.14.0", ("MAXIMUM", 4): "2.3.0", ("MINIMUM", 4): "2.3.0",
    ("PAD", 1): "1.5.0", ("PAD", 2): "1.14.0", ("PAD", 3): "2.4.0", ("PADV2", 2): "1.14.0",
    ("RESHAPE", 1): "1.5.0",
    ("SOFTMAX", 1): "1.5.0", ("SOFTMAX", 2): "1.14.0", ("SOFTMAX", 3): "2.3.0",
    ("SPACE_TO_DEPTH", 2): "1.14.0", ("DEPTH_TO_SPACE", 2): "2.5.0",
    ("TRANSPOSE", 2): "1.14.0", ("TRANSPOSE", 5): "2.4.0",
    ("MEAN", 1): "1.6.0", ("MEAN", 2): "1.14.0", ("MEAN", 3): "2.4.0",
    ("SUM", 2): "1.15.0", ("REDUCE_MAX", 2): "1.14.0",
    ("RELU", 2): "2.1.0", ("RELU", 3): "2.5.0", ("RELU6", 2): "1.14.0", ("RELU6", 3): "2.5.0",
    ("RESIZE_BILINEAR", 2): "1.14.0", ("RESIZE_BILINEAR", 3): "2.2.0", ("RESIZE_BILINEAR", 4): "2.5.0",
    ("RESIZE_NEAREST_NEIGHBOR", 2): "1.14.0", ("RESIZE_NEAREST_NEIGHBOR", 3): "2.3.0",
    ("SQUEEZE", 1): "1.6.0", ("SLICE", 2): "1.14.0", ("STRIDED_SLICE", 2): "1.14.0",
    ("SPLIT", 2): "1.14.0", ("SPLIT_V", 2): "2.3.0", ("PACK", 2): "1.14.0", ("UNPACK", 2): "1.14.0",
    ("TANH", 2): "1.14.0", ("TANH", 3): "2.3.0", ("LOGISTIC", 2): "1.14.0", ("LOGISTIC", 3): "2.3.0",
    ("LOG_SOFTMAX", 2): "1.14.0", ("LEAKY_RELU", 1): "1.13.1", ("HARD_SWISH", 1): "1.15.0",
    ("DEQUANTIZE", 1): "1.13.1", ("DEQUANTIZE", 2): "1.14.0", ("DEQUANTIZE", 3): "1.15.0",
    ("DEQUANTIZE", 5): "2.7.0",
    ("QUANTIZE", 1): "1.14.0", ("QUANTIZE", 2): "1.15.0", ("QUANTIZE", 3): "2.7.0",
    ("TRANSPOSE_CONV", 2): "2.2.0", ("TRANSPOSE_CONV", 3): "2.3.0",
    ("SPACE_TO_BATCH_ND", 2): "1.14.0", ("BATCH_TO_SPACE_ND", 2): "1.14.0",
    ("EXP", 1): "1.7.0", ("DYNAMIC_UPDATE_SLICE", 1): "2.9.0",
    ("GELU", 1): "2.9.0", ("GELU", 2): "2.9.0", ("RELU_0_TO_1", 1): "2.14.0", ("SELECT_V2", 1): "2.2.0",
    ("TRANSPOSE_CONV", 1): "1.9.0",
}


def runtime_version(op: str, version: int) -> str | None:
    """The first TFLite runtime that has ``op`` at ``version`` (None when not listed)."""
    return _RUNTIME.get((op, int(version)))


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split(".") if p.isdigit())


def min_runtime_version(ops: Sequence[tuple[str, int]]) -> str | None:
    """The highest runtime version among ``(op, version)`` pairs (None if none is listed)."""
    best: str | None = None
    for op, version in ops:
        v = runtime_version(op, version)
        if v is not None and (best is None or _version_key(v) > _version_key(best)):
            best = v
    return best


# A model written by edgelite never claims an older runtime than this.
DEFAULT_MIN_RUNTIME = "1.14.0"


def model_min_runtime(ops: Sequence[tuple[str, int]]) -> str:
    """``min_runtime_version`` of a model with these ``(op, version)`` pairs: the highest
    listed runtime, never below :data:`DEFAULT_MIN_RUNTIME`."""
    best = min_runtime_version(ops)
    if best is None or _version_key(best) < _version_key(DEFAULT_MIN_RUNTIME):
        return DEFAULT_MIN_RUNTIME
    return best
