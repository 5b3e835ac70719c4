"""MatMul, Gemm and the ``FullyConnected`` nodes the ``fully_connected`` pass makes.

Constant-weight products become ``FULLY_CONNECTED`` (``keepNumDims`` for [..., K]
inputs); products of two runtime tensors (attention) become ``BATCH_MATMUL``.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.lower import activation_code
from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import LayoutPlan, OpConverter, register
from edgelite.converter.passes.layout import identity


@register("FullyConnected", domain="edgelite")
class FullyConnected(OpConverter):
    fusable = True

    def layout(self, node, perms, lp):
        x = node.inputs[0]
        r = len(lp.logical_shape(x))
        want = None if perms[0] is None or perms[0] == identity(r) else identity(r)
        return LayoutPlan([want] + [None] * (len(node.inputs) - 1), [lp.identity(node.outputs[0])])

    def lower(self, node, out):
        from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT

        x, w = node.inputs[0], node.inputs[1]
        y = node.outputs[0]
        o = FullyConnectedOptionsT()
        o.fusedActivationFunction = activation_code(node)
        o.keepNumDims = len(y.shape) > 2
        bias = node.input(2)
        out.emit("FULLY_CONNECTED", [x, w, bias], [y], o, version=1 if not o.keepNumDims else 5)


def _float32_operands(node):
    for v in node.inputs[:2]:
        if v is not None and v.dtype is not None and v.dtype != np.dtype(np.float32):
            return f"{v.dtype} operands (TFLite's BATCH_MATMUL takes float32 or quantized tensors)"
    return None


@register("MatMul")
class MatMul(OpConverter):
    """``BATCH_MATMUL`` (batch dimensions broadcast); a 1-D operand is a row (left) or a
    column (right) vector whose dimension is dropped again afterwards, as numpy does."""

    def check(self, node):
        a, b = node.inputs
        if a.shape is None or b.shape is None:
            return "operands without static shapes"
        return _float32_operands(node)

    def lower(self, node, out):
        a, b = node.inputs
        y = node.outputs[0]
        e = Emitter(out, node.name)
        if b.is_constant:
            b = out.const(b.data, b.name)
        if len(a.shape) == 1:
            a = e.reshape(a, (1, a.shape[0]))
        if len(b.shape) == 1:
            b = e.reshape(b, (b.shape[0], 1))
        if len(node.inputs[0].shape) == 1 or len(node.inputs[1].shape) == 1:
            e.reshape(e.matmul(a, b), None, y=y)
        else:
            e.matmul(a, b, y=y)


@register("Gemm")
class Gemm(OpConverter):
    """The Gemm nodes the ``fully_connected`` pass leaves (run-time B, transA, bias that is
    not per output...): ``alpha * BATCH_MATMUL(A, B, adjX=transA, adjY=transB) + beta * C``."""

    def check(self, node):
        return _float32_operands(node)

    def lower(self, node, out):
        a, b, c = node.inputs[0], node.inputs[1], node.input(2)
        y = node.outputs[0]
        e = Emitter(out, node.name)
        alpha, beta = float(node.attrs.get("alpha", 1.0)), float(node.attrs.get("beta", 1.0))
        if b.is_constant:
            b = out.const(b.data, b.name)
        last = c is None or beta == 0.0
        p = e.matmul(a, b, bool(node.attrs.get("transA", 0)), bool(node.attrs.get("transB", 0)),
                     y=y if last and alpha == 1.0 else None)
        if alpha != 1.0:
            p = e.mul(p, e.scalar(alpha, p.dtype), y=y if last else None)
        if last:
            return
        if c.is_constant:
            c = e.const(np.asarray(c.data, p.dtype) * np.float32(beta), tag="bias")
        elif beta != 1.0:
            c = e.mul(c, e.scalar(beta, p.dtype))
        e.add(p, c, y=y)
