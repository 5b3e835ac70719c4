"""``qdq_mean``: an imported QDQ ``ReduceMean`` becomes ``ReduceSum`` then ``Mul(1/n)``.

ONNX Runtime runs a QDQ global average pool (``QLinearGlobalAveragePool``) as one
rounding of the centred sum, ``round((sum(q) - n zp_in) * s_in / (n s_out)) + zp_out``
in float32. TFLite's int8 MEAN rounds twice: its global-pool kernel rescales ``sum(q)``
and the input zero point's share separately (and rounds the fixed-point product in two
steps), its generic kernel folds ``1/n`` into a fixed-point multiplier and rounds in
two steps too. Measured on ONNX Runtime's own inputs (ResNet18, per-tensor), MEAN
gives a different integer on 10-13% of the pooled outputs, one step each.

TFLite's int8 SUM rescales in float32 instead: ``round(sum(q) s - zp_in s n) + zp_out``
with ``s = s_in / s_sum``. Giving the SUM the output scale ``n s_out`` (its real value
is ``n`` times the mean) makes its integers the rounded mean in ``s_out`` steps, and a
``Mul`` by the constant ``1/n`` with ``s_out`` as output scale turns the value back into
the mean without touching those integers (the product's multiplier is ``1`` to 2^-24).
Measured: the pooled integers then equal ONNX Runtime's on every output checked.

Only nodes whose input and output both carry QDQ parameters (``Value.quant``, set by
``qdq_import``) are rewritten; runs after ``canonicalize`` (global pools are
``ReduceMean`` by then) and before ``layout``.

Example:
    >>> import numpy as np
    >>> from edgelite.converter.ir import Graph, Value
    >>> g = Graph()
    >>> x = g.add_input(Value("x", (1, 4, 3, 3), np.dtype("float32")))
    >>> from edgelite.schema.quant import QuantParams
    >>> x.quant = QuantParams(np.array([0.1], np.float32), np.array([-3]), 0)
    >>> y = g.add_node("ReduceMean", [x], ["y"], {"axes": [2, 3], "keepdims": 1}).outputs[0]
    >>> y.shape, y.dtype = (1, 4, 1, 1), x.dtype
    >>> y.quant = QuantParams(np.array([0.02], np.float32), np.array([5]), 0)
    >>> g.outputs.append(y)
    >>> qdq_mean(g)
    >>> [n.op_type for n in g.nodes], float(g.nodes[0].outputs[0].quant[0][0] / y.quant[0][0])
    (['ReduceSum', 'Mul'], 9.0)
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ir import Graph, Node
from edgelite.schema.quant import QuantParams

_ONNX_DOMAINS = ("", "ai.onnx")


def _reduced_count(node: Node) -> int | None:
    """Number of elements each output averages, or None when unknown."""
    x = node.inputs[0]
    if x.shape is None or len(node.inputs) > 1 and node.inputs[1] is not None:
        return None  # axes still an input: canonicalize could not make them static
    axes = node.attrs.get("axes")
    rank = len(x.shape)
    if not axes:
        if node.attrs.get("noop_with_empty_axes", 0):
            return None
        axes = range(rank)
    n = int(np.prod([x.shape[int(a) % rank] for a in axes], dtype=np.int64))
    return n if n > 1 else None


def _int8_params(v) -> bool:
    return v.quant is not None and np.asarray(v.quant[0]).size == 1 and v.dtype is not None and np.dtype(v.dtype) == np.float32


def qdq_mean(g: Graph) -> None:
    """Rewrite every QDQ-annotated ``ReduceMean`` as ``ReduceSum`` + ``Mul(1/n)`` (module docstring)."""
    for node in list(g.nodes):
        if node.op_type != "ReduceMean" or node.domain not in _ONNX_DOMAINS:
            continue
        x, y = node.inputs[0], node.outputs[0]
        if not (_int8_params(x) and _int8_params(y)):
            continue
        n = _reduced_count(node)
        if n is None or y.shape is None:
            continue
        scale, zp, _ = y.quant
        total = g.new_value(y.name + "_sum", y.shape, y.dtype)
        total.quant = QuantParams(np.array([np.float32(scale[0]) * np.float32(n)], np.float32), np.array(zp, np.int64), 0)
        node.op_type = "ReduceSum"
        node.outputs = [total]
        total.producer = node
        inv = g.const(np.array(1.0 / n, np.float32), node.name + "_inv_count")
        k = g.nodes.index(node)
        after = g.nodes[k + 1] if k + 1 < len(g.nodes) else None
        g.add_node("Mul", [total, inv], [y], name=node.name + "_mean", before=after)
