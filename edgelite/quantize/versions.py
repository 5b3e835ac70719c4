"""Operator versions of quantized models.

LiteRT picks a kernel by (builtin code, version); a quantized operator must carry the
version that announces its integer types, as TFLite's own converter writes it. The
rules below restate, for the operators edgelite's quantizer emits, the tables of
TFLite's ``tools/versioning/op_version.cc``; the first runtime of each version
(``runtime_version.cc``) is a fact shared with the converter, in
:mod:`edgelite.schema.op_facts`.

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
from edgelite.schema.op_facts import min_runtime_version, runtime_version

__all__ = ["op_version", "min_runtime_version", "runtime_version"]

_INT8, _INT16, _F32 = T.INT8, T.INT16, T.FLOAT32


# Operators whose version depends only on the activation type: (int8, int16) versions
# (float and other types: 1).
_BY_ACTIVATION_TYPE: dict[str, tuple[int, int]] = {
    **dict.fromkeys(("ADD", "MAX_POOL_2D", "AVERAGE_POOL_2D", "SOFTMAX", "MEAN", "REDUCE_MAX", "REDUCE_MIN",
                     "RELU6", "CONCATENATION", "PAD", "PADV2", "MIRROR_PAD", "TANH", "LOGISTIC", "RELU"), (2, 3)),
    **dict.fromkeys(("MAXIMUM", "MINIMUM", "GATHER", "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"), (2, 4)),
    **dict.fromkeys(("SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "SUM", "LOG_SOFTMAX", "L2_NORMALIZATION", "SPLIT_V",
                     "PACK", "UNPACK"), (2, 1)),
    "LEAKY_RELU": (1, 2),
    "EXP": (2, 2),
}


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
    if op in _BY_ACTIVATION_TYPE:
        v8, v16 = _BY_ACTIVATION_TYPE[op]
        return v16 if i0 == _INT16 else v8 if i0 == _INT8 else 1
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
    if op == "SUB":
        if i0 == _INT16:
            return 5
        if len(input_ranks) >= 2 and input_ranks[0] != input_ranks[1] and max(input_ranks) > 4:
            return 3
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
    if op in ("SLICE", "STRIDED_SLICE"):
        if i0 == _INT16:
            return 4 if op == "SLICE" else 1
        return 2 if i0 == _INT8 else 1
    if op == "SPLIT":
        return 2 if i1 == _INT8 else 1
    return 1
