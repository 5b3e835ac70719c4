"""Unary elementwise ops and activations (Relu, Sigmoid, Clip, HardSwish, Gelu, ...).

``HardSigmoid`` has no TFLite builtin: it becomes ``MUL``, ``ADD``, ``RELU_0_TO_1``
(``clip(alpha * x + beta, 0, 1)``). ``Clip`` with other bounds becomes ``MINIMUM`` /
``MAXIMUM`` with constants.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.layout_rules import Elementwise
from edgelite.converter.ops.registry import OpConverter, register

_UNARY = {
    "Relu": "RELU",
    "Sigmoid": "LOGISTIC",
    "Tanh": "TANH",
    "Exp": "EXP",
    "Log": "LOG",
    "Sqrt": "SQRT",
    "Abs": "ABS",
    "Neg": "NEG",
    "Floor": "FLOOR",
    "Ceil": "CEIL",
    "Sin": "SIN",
    "Cos": "COS",
    "Not": "LOGICAL_NOT",
    "Sign": "SIGN",
    "Round": "ROUND",
    "HardSwish": "HARD_SWISH",
}


@register(*_UNARY)
class Unary(Elementwise, OpConverter):
    def lower(self, node, out):
        out.emit(_UNARY[node.op_type], node.inputs[:1], node.outputs)


@register("Reciprocal")
class Reciprocal(Elementwise, OpConverter):
    def lower(self, node, out):
        from edgelite.schema.fb.DivOptions import DivOptionsT

        x = node.inputs[0]
        out.emit("DIV", [out.const(np.ones((), x.dtype), node.name + "_one"), x], node.outputs, DivOptionsT())


@register("LeakyRelu")
class LeakyRelu(Elementwise, OpConverter):
    def lower(self, node, out):
        from edgelite.schema.fb.LeakyReluOptions import LeakyReluOptionsT

        o = LeakyReluOptionsT()
        o.alpha = float(node.attrs.get("alpha", 0.01))
        out.emit("LEAKY_RELU", node.inputs[:1], node.outputs, o)


@register("Gelu")
class Gelu(Elementwise, OpConverter):
    def lower(self, node, out):
        from edgelite.schema.fb.GeluOptions import GeluOptionsT

        o = GeluOptionsT()
        o.approximate = node.attrs.get("approximate", "none") == "tanh"
        out.emit("GELU", node.inputs[:1], node.outputs, o)


@register("HardSigmoid")
class HardSigmoid(Elementwise, OpConverter):
    def lower(self, node, out):
        from edgelite.schema.fb.AddOptions import AddOptionsT
        from edgelite.schema.fb.MulOptions import MulOptionsT

        x, y = node.inputs[0], node.outputs[0]
        alpha, beta = float(node.attrs.get("alpha", 0.2)), float(node.attrs.get("beta", 0.5))
        t1 = out.tmp(node.name + "_scaled", x.shape, x.dtype)
        t2 = out.tmp(node.name + "_shifted", x.shape, x.dtype)
        out.emit("MUL", [x, out.const(np.array(alpha, x.dtype), node.name + "_alpha")], [t1], MulOptionsT())
        out.emit("ADD", [t1, out.const(np.array(beta, x.dtype), node.name + "_beta")], [t2], AddOptionsT())
        out.emit("RELU_0_TO_1", [t2], [y])


@register("Clip")
class Clip(Elementwise, OpConverter):
    def check(self, node):
        from edgelite.converter.ops import dtype_rules

        return dtype_rules.reason("MAXIMUM", node.inputs[:1], node.outputs[0])

    def lower(self, node, out):
        from edgelite.converter.ops import dtype_rules

        x, y = node.inputs[0], node.outputs[0]
        lo, hi = node.ann.clip_min, node.ann.clip_max
        if len(node.inputs) > 1:  # bounds computed at run time: MAXIMUM then MINIMUM (np.clip order)
            lo_v, hi_v = node.input(1), node.input(2)
        else:
            named = {(0.0, 6.0): "RELU6", (0.0, None): "RELU", (-1.0, 1.0): "RELU_N1_TO_1", (0.0, 1.0): "RELU_0_TO_1"}
            key = (None if lo is None else float(lo), None if hi is None else float(hi))
            if key in named and x.dtype == np.float32:
                out.emit(named[key], [x], [y])
                return
            lo_v = None if lo is None else out.const(np.array(lo, x.dtype), node.name + "_min")
            hi_v = None if hi is None else out.const(np.array(hi, x.dtype), node.name + "_max")
        if lo_v is None and hi_v is None:
            from edgelite.converter.ops.conv import reshape

            reshape(out, x, y)
            return
        cur = x
        if lo_v is not None:
            nxt = y if hi_v is None else out.tmp(node.name + "_lo", x.shape, x.dtype)
            dtype_rules.emit(out, "MAXIMUM", [cur, lo_v], nxt, name=node.name + "_max")
            cur = nxt
        if hi_v is not None:
            dtype_rules.emit(out, "MINIMUM", [cur, hi_v], y, name=node.name + "_min")
