"""Binary and ternary elementwise ops: arithmetic, comparisons, logic, Where, Cast.

Broadcasting follows numpy in both ONNX and TFLite; the layout pass has already put
constants in the data's layout, so lowering only matches constant dtypes.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.lower import activation_code
from edgelite.converter.ops import dtype_rules
from edgelite.converter.ops.infinities import may_be_infinite, restore_infinities
from edgelite.converter.ops.layout_rules import Elementwise
from edgelite.converter.ops.registry import OpConverter, register

_BINARY = {
    "Add": "ADD",
    "Sub": "SUB",
    "Mul": "MUL",
    "Div": "DIV",
    "Pow": "POW",
    "Equal": "EQUAL",
    "Greater": "GREATER",
    "Less": "LESS",
    "GreaterOrEqual": "GREATER_EQUAL",
    "LessOrEqual": "LESS_EQUAL",
    "And": "LOGICAL_AND",
    "Or": "LOGICAL_OR",
}
_FUSABLE = {"Add", "Sub", "Mul", "Div"}


def _options(tfl_op: str, act: int):
    from edgelite.schema.fb import AddOptions, DivOptions, MulOptions, SubOptions

    cls = {
        "ADD": AddOptions.AddOptionsT,
        "SUB": SubOptions.SubOptionsT,
        "MUL": MulOptions.MulOptionsT,
        "DIV": DivOptions.DivOptionsT,
    }.get(tfl_op)
    if cls is None:
        return None
    o = cls()
    o.fusedActivationFunction = act
    return o


def match_dtype(out, v, dtype, name):
    """A constant ``v`` re-typed to ``dtype`` (runtime values are returned unchanged)."""
    if v is None or not v.is_constant or v.dtype == dtype:
        return v
    return out.const(np.asarray(v.data).astype(dtype), name)


@register(*_BINARY)
class Binary(Elementwise, OpConverter):
    fusable = True

    def can_fuse(self, node):
        return node.op_type in _FUSABLE

    def check(self, node):
        return dtype_rules.reason(_BINARY[node.op_type], node.inputs[:2], node.outputs[0])

    def lower(self, node, out):
        op = _BINARY[node.op_type]
        y = node.outputs[0]
        act = activation_code(node)
        if op in ("ADD", "SUB") and act == 0 and np.dtype(y.dtype) == np.float32:
            memo = out.__dict__.setdefault("_may_be_infinite", {})
            a, b = node.inputs[:2]
            if may_be_infinite(a, memo) or may_be_infinite(b, memo):
                a, b = (match_dtype(out, v, y.dtype, f"{node.name}_in{i}") for i, v in enumerate((a, b)))
                clamped = out.tmp(f"{node.name}_clamped", y.shape, y.dtype)
                out.emit(op, [a, b], [clamped], _options(op, act))
                restore_infinities(out, node.name, op, a, b, clamped, y)
                return
        # Operands are brought to a dtype LiteRT computes exactly (see ``dtype_rules``).
        dtype_rules.emit(out, op, node.inputs[:2], y, _options(op, act), node.name)


@register("Where")
class Where(Elementwise, OpConverter):
    def lower(self, node, out):
        c, x, y = node.inputs
        dt = node.outputs[0].dtype
        x = match_dtype(out, x, dt, node.name + "_x")
        y = match_dtype(out, y, dt, node.name + "_y")
        out.emit("SELECT_V2", [c, x, y], node.outputs, version=1)


@register("Cast")
class Cast(Elementwise, OpConverter):
    def check(self, node):
        from edgelite.converter.ops.cast_like import unsupported_cast

        return unsupported_cast(node)

    def lower(self, node, out):
        from edgelite.converter.ops.cast_like import emit_cast

        emit_cast(out, node.inputs[0], node.outputs[0])
