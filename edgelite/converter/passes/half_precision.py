"""``widen_float16``: float16 / bfloat16 products, reductions and softmaxes computed in float32.

LiteRT's ``BATCH_MATMUL``, ``FULLY_CONNECTED``, ``SUM``/``MEAN``/``REDUCE_*`` and
``SOFTMAX`` kernels take no float16 tensors (measured on ai-edge-litert 2.3), and
edgelite's converters for these ops lower float32 only. ONNX does not fix the precision a
float16 ``MatMul`` or ``ReduceSum`` accumulates in; numpy (the ONNX reference) and ONNX
Runtime's CPU kernels accumulate float16 products and sums in float32 and round the result
once. This pass does the same in the graph: every float16 (or bfloat16) operand of such a
node is ``Cast`` to float32, the node runs in float32, and each such result is ``Cast``
back, so the result is rounded once to float16 (bfloat16). Max/min reductions are exact this way; sums,
products and softmax agree with a float32 computation rounded once.

Elementwise arithmetic needs no pass: ``dtype_rules`` already runs float16 and bfloat16
``+ - * /`` in float32, where each result rounded once is the correctly rounded one
(float32's 24-bit significand is at least twice theirs plus two).

Example:
    >>> from edgelite.converter.passes.half_precision import widen_float16
    >>> widen_float16.__name__
    'widen_float16'
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ir import Graph, Node, Value

_F16, _F32 = np.dtype(np.float16), np.dtype(np.float32)
_ONNX_FLOAT, _ONNX_FLOAT16, _ONNX_BFLOAT16 = 1, 10, 16

# Ops whose float16 form has no LiteRT kernel and whose float32 form the converter lowers.
WIDENED = frozenset({
    "MatMul", "Gemm", "Conv", "ConvTranspose", "Softmax", "LogSoftmax", "Attention", "Einsum", "SwiGLU",
    "ReduceMax", "ReduceMin", "ReduceSum", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
})


# Ops that only move, pick or compare values: on bfloat16 (no LiteRT kernels) they run on the
# float32 values, which hold every bfloat16 value, so the Cast back is exact.
BF16_MOVED = frozenset({
    "Reshape", "Transpose", "Gather", "GatherElements", "GatherND", "Slice", "Concat", "Split", "Squeeze",
    "Unsqueeze", "Flatten", "Expand", "Tile", "Where", "Compress", "ReverseSequence", "Pad", "OneHot",
    "DepthToSpace", "SpaceToDepth", "Unique", "Trilu", "Identity",
})


def _float_dtypes(node: Node) -> set:
    return {np.dtype(v.dtype) for v in list(node.inputs) + node.outputs
            if v is not None and v.dtype is not None and (np.dtype(v.dtype).kind == "f" or _narrow(np.dtype(v.dtype)))}


def _narrow(dt) -> bool:
    return dt == _F16 or dt.name == "bfloat16"


def _applies(node: Node) -> bool:
    if node.domain not in ("", "ai.onnx"):
        return False
    floats = _float_dtypes(node)
    if node.op_type in BF16_MOVED:
        return any(d.name == "bfloat16" for d in floats) and all(d.name == "bfloat16" or d == _F32 for d in floats)
    if node.op_type not in WIDENED:
        return False
    return any(_narrow(d) for d in floats) and all(_narrow(d) or d == _F32 for d in floats)


def _cast(g: Graph, x: Value, to: np.dtype, before: Node, y: Value | None = None) -> Value:
    if x.is_constant and y is None:
        return g.const(np.asarray(x.data).astype(to), x.name + "_f32")
    y = y if y is not None else g.new_value(x.name + "_f32", x.shape, to)
    g.add_node("Cast", [x], [y], {"to": _ONNX_FLOAT},
               name=before.name + "_widen", before=before)
    return y


def widen_float16(g: Graph) -> None:
    """Wrap every float16 node of ``WIDENED``, and every bfloat16 node of ``BF16_MOVED``, in
    ``Cast``s to and from float32."""
    for node in list(g.nodes):
        if not _applies(node):
            continue
        node.inputs = [v if v is None or not _narrow(np.dtype(v.dtype)) else _cast(g, v, _F32, node)
                       for v in node.inputs]
        after = g.nodes[g.nodes.index(node) + 1] if g.nodes.index(node) + 1 < len(g.nodes) else None
        for k, y in enumerate(node.outputs):
            if y.dtype is None or not _narrow(np.dtype(y.dtype)):
                continue
            wide = g.new_value(y.name + "_f32", y.shape, _F32)
            wide.producer = node
            node.outputs[k] = wide
            to = _ONNX_FLOAT16 if np.dtype(y.dtype) == _F16 else _ONNX_BFLOAT16
            cast = g.add_node("Cast", [wide], [y], {"to": to}, name=node.name + "_narrow",
                              before=after)
            y.producer = cast
