"""MatMul, Gemm and the ``FullyConnected`` nodes the ``fully_connected`` pass makes.

Constant-weight products become ``FULLY_CONNECTED`` (``keepNumDims`` for [..., K]
inputs); products of two runtime tensors (attention) become ``BATCH_MATMUL``.
"""

from __future__ import annotations

from edgelite.converter.lower import activation_code
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


@register("MatMul")
class MatMul(OpConverter):
    def check(self, node):
        a, b = node.inputs
        if a.shape is not None and (len(a.shape) < 2 or b.shape is None or len(b.shape) < 2):
            return "MatMul with a 1-D operand"
        return None

    def lower(self, node, out):
        from edgelite.schema.fb.BatchMatMulOptions import BatchMatMulOptionsT

        a, b = node.inputs
        if b.is_constant:
            b = out.const(b.data, b.name)
        out.emit("BATCH_MATMUL", [a, b], node.outputs, BatchMatMulOptionsT())


@register("Gemm")
class Gemm(OpConverter):
    def check(self, node):
        return (
            "Gemm with a runtime B, transA=1 or a bias that is not per-output"
            " (only constant-weight Gemm becomes FULLY_CONNECTED)"
        )

    def lower(self, node, out):  # pragma: no cover - check() rejects every Gemm left here
        raise NotImplementedError
