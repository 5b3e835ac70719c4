"""Operator versions and the ``min_runtime_version`` metadata of quantized models.

LiteRT picks a kernel by (builtin code, version); a quantized operator must carry the
version that announces its integer types, as TFLite's own converter writes it. The
rules below restate, for the operators edgelite's quantizer emits, the tables of
TFLite's ``tools/versioning/op_version.cc`` and ``runtime_version.cc``.

Example:
    >>> from edgelite.schema.model import TensorType as T
    >>> op_version("CONV_2D", [T.INT8, T.INT8], [T.INT8])
    3
    >>> runtime_version("FULLY_CONNECTED", 4)
    '1.14.0'
"""

from __future__ import annotations

from typing import Any, Sequence

from edgelite.schema.model import TensorType as T

_INT8, _INT16, _F32 = T.INT8, T.INT16, T.FLOAT32


def op_version(
    op: str,
    inputs: Sequence[int],
    outputs: Sequence[int],
    options: Any = None,
    *,
    per_channel: bool = False,
    num_inputs: int | None = None,
    input_ranks: Sequence[int] = (),
    mul_scales: tuple[float, float, float] | None = None,
) -> int:
    """The version TFLite assigns to ``op`` with these input/output tensor types.

    Args:
        op: builtin operator name.
        inputs: TensorType of each input (omitted inputs left out or ``-1``).
        outputs: TensorType of each output.
        options: the operator's builtin options object, when a rule reads it.
        per_channel: the weight (or dequantized tensor) is quantized per channel.
        num_inputs: number of operator inputs, counting omitted ones.
        input_ranks: rank of each input (for rules that depend on broadcasting).
        mul_scales: ``(input1_scale, input2_scale, output_scale)`` of a quantized MUL.
    """
    i0 = inputs[0] if inputs else -1
    i1 = inputs[1] if len(inputs) > 1 else -1
    o0 = outputs[0] if outputs else -1
    opt = options
    if op == "CONV_2D":
        if i0 == _INT16 and i1 == _INT8:
            return 4
        if i0 == _INT8 and i1 == _INT8:
            return 3
        if i0 == _F32 and i1 == _INT8:
            return 5 if per_channel else 2
        return 1
    if op == "DEPTHWISE_CONV_2D":
        if i0 == _INT16 and i1 == _INT8:
            return 5
        if i0 == _F32 and i1 == _INT8:
            return 6 if per_channel else 4
        if i0 == _INT8 and i1 == _INT8:
            return 3
        if opt is not None and (getattr(opt, "dilationWFactor", 1) != 1 or getattr(opt, "dilationHFactor", 1) != 1):
            return 2
        return 1
    if op == "FULLY_CONNECTED":
        if i0 == _F32 and i1 == _INT8 and per_channel:
            return 12
        if i0 == _INT16 and i1 == _INT8:
            return 7
        if num_inputs == 2:
            return 6
        if opt is not None and getattr(opt, "keepNumDims", False):
            return 5
        if i0 == _INT8 and i1 == _INT8:
            return 4
        if i0 == _F32 and i1 == _INT8:
            return 9 if opt is not None and getattr(opt, "asymmetricQuantizeInputs", False) else 3
        return 1
    if op == "TRANSPOSE_CONV":
        if opt is not None and getattr(opt, "fusedActivationFunction", 0):
            return 4
        if num_inputs == 4:
            return 3
        return 2 if i1 == _INT8 else 1
    if op == "BATCH_MATMUL":
        if i0 == _INT16:
            return 3
        if i0 == _INT8:
            return 2
        if i0 == _F32 and i1 == _INT8:
            return 4 if opt is not None and getattr(opt, "asymmetricQuantizeInputs", False) else 1
        return 1
    if op == "EMBEDDING_LOOKUP":
        # Version 3 reads int8 (hybrid) value tables.
        return 3 if i1 == _INT8 else 1
    if op == "QUANTIZE":
        if per_channel:
            return 3
        return 2 if o0 == _INT16 else 1
    if op == "DEQUANTIZE":
        if i0 in (_INT16, T.FLOAT16):
            return 3
        if i0 == _INT8:
            return 5 if per_channel else 2
        return 1
    if op == "MUL":
        if i0 == _INT16:
            return 4
        if i0 == _INT8:
            s1, s2, so = mul_scales or (0.0, 0.0, 0.0)
            if s1 and s2 and so and s1 * s2 / so >= 1.0:
                return 3
            return 2
        return 1
    if op == "ADD":
        if i0 == _INT16:
            return 3
        return 2 if i0 == _INT8 else 1
    if op == "SUB":
        if i0 == _INT16:
            return 5
        if len(input_ranks) >= 2 and input_ranks[0] != input_ranks[1] and max(input_ranks) > 4:
            return 3
        return 2 if i0 == _INT8 else 1
    if op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        if i0 == _INT16:
            return 3
        return 2 if i0 == _INT8 else 1
    if op in ("SOFTMAX", "MEAN", "REDUCE_MAX", "REDUCE_MIN", "RELU6", "CONCATENATION", "PAD", "PADV2", "MIRROR_PAD"):
        if i0 == _INT16:
            return 3
        return 2 if i0 == _INT8 else 1
    if op in ("TANH", "LOGISTIC", "RELU"):
        if i0 == _INT16:
            return 3
        return 2 if i0 == _INT8 else 1
    if op in ("MAXIMUM", "MINIMUM"):
        if i0 == _INT16:
            return 4
        return 2 if i0 == _INT8 else 1
    if op == "TRANSPOSE":
        rank = input_ranks[0] if input_ranks else 4
        if rank > 5:
            return 6
        if i0 == _INT16:
            return 5
        if rank > 4:
            return 4
        return 2 if i0 == _INT8 else 1
    if op in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        if i0 == _INT16:
            return 4
        if opt is not None and (getattr(opt, "halfPixelCenters", False) or (
            op == "RESIZE_NEAREST_NEIGHBOR" and getattr(opt, "alignCorners", False)
        )):
            return 3
        return 2 if i0 == _INT8 else 1
    if op == "GATHER":
        if i0 == _INT16:
            return 4
        return 2 if i0 == _INT8 else 1
    if op in ("SLICE", "STRIDED_SLICE"):
        if i0 == _INT16:
            return 4 if op == "SLICE" else 1
        return 2 if i0 == _INT8 else 1
    if op in ("SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "SUM", "LOG_SOFTMAX", "L2_NORMALIZATION", "SPLIT_V"):
        return 2 if i0 == _INT8 else 1
    if op == "SPLIT":
        return 2 if i1 == _INT8 else 1
    if op in ("PACK", "UNPACK"):
        return 2 if i0 == _INT8 else 1
    if op in ("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"):
        if i0 == _INT16:
            return 4
        return 2 if i0 == _INT8 else 1
    if op == "LEAKY_RELU":
        return 2 if i0 == _INT16 else 1
    return 1


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
