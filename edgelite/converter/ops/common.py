"""Helpers shared by op converters: padding arithmetic, constant access, int32 casts.

Example:
    >>> from edgelite.converter.ops.common import same_pads
    >>> same_pads(224, 3, 2, 1)   # TF "SAME": total 1, all at the end
    (0, 1)
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ir import Node, Value
from edgelite.errors import ConversionError


def same_pads(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow SAME padding (before, after) for one spatial dimension."""
    out = -(-size // s)
    eff = (k - 1) * d + 1
    total = max((out - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def float_conv_reason(node) -> str | None:
    """Why the general float lowering of a Conv / ConvTranspose cannot take ``node``
    (non-float data, weights of unknown rank, a group count that does not divide the
    input channels), or None."""
    x, w = node.inputs[0], node.inputs[1]
    if x.dtype is not None and np.dtype(x.dtype).kind != "f":
        return f"{node.op_type} of {np.dtype(x.dtype).name}"
    if w.shape is None or len(w.shape) < 3:
        return "weights of unknown rank"
    group = int(node.attrs.get("group", 1))
    if x.shape is not None and x.shape[1] % group:
        return f"group={group} does not divide the {x.shape[1]} input channels"
    return None


def onnx_pads(
    node: Node, spatial: list[int], kernel: list[int], strides: list[int], dil: list[int]
) -> list[tuple[int, int]]:
    """Per spatial dimension (before, after) padding of a Conv/Pool node, auto_pad resolved."""
    n = len(spatial)
    auto = node.attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out = []
        for i in range(n):
            b, a = same_pads(spatial[i], kernel[i], strides[i], dil[i])
            out.append((b, a) if auto == "SAME_UPPER" else (a, b))
        return out
    if auto == "VALID":
        return [(0, 0)] * n
    pads = list(node.attrs.get("pads", [0] * (2 * n)))
    return [(int(pads[i]), int(pads[i + n])) for i in range(n)]


def constant(node: Node, i: int, what: str) -> np.ndarray:
    v = node.input(i)
    if v is None or not v.is_constant:
        raise ConversionError(f"[lowering] {node.describe()}: {what} (input {i}) must be a constant")
    return np.asarray(v.data)


def is_constant_input(node: Node, i: int) -> bool:
    v = node.input(i)
    return v is not None and v.is_constant


def i32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).astype(np.int32)


def out0(node: Node) -> Value:
    return node.outputs[0]
