"""Activations TFLite has no builtin for, as short chains of builtins (ONNX formulas).

* ``PRelu``: ``PRELU`` for float32 up to 4-D, else ``x < 0 ? x * slope : x`` with
  ``SELECT_V2``; before opset 7 a 1-D slope of length C is per channel (axis 1).
* ``Elu`` (``ELU`` when alpha is 1), ``Selu``, ``Celu``, ``ThresholdedRelu``,
  ``Shrink``, ``Softplus = log(exp(x) + 1)``, ``Softsign = x / (1 + |x|)``,
  ``Swish = x * sigmoid(alpha x)``, ``Mish = x * tanh(softplus(x))``.
* ``Hardmax``: ``ONE_HOT(ARG_MAX(x))`` (ties: the first index, as ONNX); before opset 13
  the input is seen as 2-D ``[prod(shape[:axis]), prod(shape[axis:])]``.

float16 inputs are computed in float32 and cast back; float64 is refused.

Example:
    >>> from edgelite.converter.ops.registry import CONVERTERS
    >>> "::Selu" in CONVERTERS and "::Hardmax" in CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops import dtype_rules
from edgelite.converter.ops.layout_rules import AxisOp, Elementwise
from edgelite.converter.ops.math_ext import Builder, float_compute
from edgelite.converter.ops.registry import LayoutPlan, OpConverter, register

_F32 = np.dtype(np.float32)
_BOOL = np.dtype(np.bool_)


def _float_check(node):
    if float_compute(node.inputs[0].dtype) is None:
        return f"{node.op_type} on {node.inputs[0].dtype} (float32/float16 only)"
    return None


@register("PRelu")
class PRelu(Elementwise, OpConverter):
    def check(self, node):
        return dtype_rules.reason("MUL", node.inputs[:2], node.outputs[0])

    def layout(self, node, perms, lp):
        x, slope = node.inputs[0], node.inputs[1]
        opset = lp.graph.opset if getattr(lp, "graph", None) is not None else 99
        rank = len(lp.logical_shape(x))
        if opset < 7 and slope.is_constant and slope.data.ndim == 1 and rank > 2 and slope.data.size > 1:
            # PRelu-6 applied a length-C slope per channel (no numpy broadcasting yet).
            data = np.asarray(slope.data).reshape((-1,) + (1,) * (rank - 2))
            node.inputs[1] = lp.graph.const(data, slope.name + "_per_channel")
        return super().layout(node, perms, lp)

    def lower(self, node, out):
        x, slope, y = node.inputs[0], node.inputs[1], node.outputs[0]
        if y.dtype == _F32 and len(y.shape) <= 4 and tuple(np.broadcast_shapes(x.shape, slope.shape)) == tuple(y.shape):
            out.emit("PRELU", [x, dtype_rules.to_dtype(out, slope, _F32, node.name + "_slope")], [y])
            return
        cd = dtype_rules.compute_dtype("MUL", y.dtype)
        b = Builder(out, node.name, y.shape, cd)
        xc, sc = b.cast(x, cd), b.cast(slope, cd)
        neg = b.op("LESS", xc, b.c(0), dtype=_BOOL, shape=xc.shape)
        b.finish(b.op("SELECT_V2", neg, b.op("MUL", xc, sc), xc), y)


def _elu_part(b, x, alpha):
    """alpha * (exp(x) - 1)."""
    return b.op("MUL", b.op("SUB", b.op("EXP", x), b.c(1.0)), b.c(alpha))


def _softplus(b, x):
    return b.op("LOG", b.op("ADD", b.op("EXP", x), b.c(1.0)))


def _selu(b, x, n):
    alpha = float(n.attrs.get("alpha", 1.67326319217681884765625))
    gamma = float(n.attrs.get("gamma", 1.05070102214813232421875))
    pos = b.op("GREATER", x, b.c(0.0), dtype=_BOOL)
    return b.op("MUL", b.op("SELECT_V2", pos, x, _elu_part(b, x, alpha)), b.c(gamma))


def _elu(b, x, n):
    alpha = float(n.attrs.get("alpha", 1.0))
    if alpha == 1.0:
        return b.op("ELU", x)
    return b.op("SELECT_V2", b.op("LESS", x, b.c(0.0), dtype=_BOOL), _elu_part(b, x, alpha), x)


def _celu(b, x, n):
    alpha = float(n.attrs.get("alpha", 1.0))
    e = b.op("MUL", b.op("SUB", b.op("EXP", b.op("DIV", x, b.c(alpha))), b.c(1.0)), b.c(alpha))
    return b.op("ADD", b.op("MAXIMUM", x, b.c(0.0)), b.op("MINIMUM", e, b.c(0.0)))


def _thresholded_relu(b, x, n):
    alpha = float(n.attrs.get("alpha", 1.0))
    return b.op("SELECT_V2", b.op("GREATER", x, b.c(alpha), dtype=_BOOL), x, b.c(np.zeros(x.shape)))


def _shrink(b, x, n):
    bias, lambd = float(n.attrs.get("bias", 0.0)), float(n.attrs.get("lambd", 0.5))
    low = b.op("LESS", x, b.c(-lambd), dtype=_BOOL)
    high = b.op("GREATER", x, b.c(lambd), dtype=_BOOL)
    inner = b.op("SELECT_V2", high, b.op("SUB", x, b.c(bias)), b.c(np.zeros(x.shape)))
    return b.op("SELECT_V2", low, b.op("ADD", x, b.c(bias)), inner)


def _softsign(b, x, n):
    return b.op("DIV", x, b.op("ADD", b.op("ABS", x), b.c(1.0)))


def _swish(b, x, n):
    alpha = float(n.attrs.get("alpha", 1.0))
    arg = x if alpha == 1.0 else b.op("MUL", x, b.c(alpha))
    return b.op("MUL", x, b.op("LOGISTIC", arg))


def _mish(b, x, n):
    return b.op("MUL", x, b.op("TANH", _softplus(b, x)))


_FORMULAS = {
    "Elu": _elu,
    "Selu": _selu,
    "Celu": _celu,
    "ThresholdedRelu": _thresholded_relu,
    "Shrink": _shrink,
    "Softplus": lambda b, x, n: _softplus(b, x),
    "Softsign": _softsign,
    "Swish": _swish,
    "Mish": _mish,
}


@register(*_FORMULAS)
class Formula(Elementwise, OpConverter):
    def check(self, node):
        if node.op_type == "Shrink" and node.inputs[0].dtype.kind in "iu":
            return dtype_rules.reason("SUB", node.inputs[:1], node.outputs[0])
        return _float_check(node)

    def lower(self, node, out):
        y = node.outputs[0]
        cd = _F32 if y.dtype.kind == "f" else dtype_rules.compute_dtype("SUB", y.dtype)
        b = Builder(out, node.name, y.shape, cd)
        x = b.cast(node.inputs[0], cd)
        b.finish(_FORMULAS[node.op_type](b, x, node), y)


@register("Hardmax")
class Hardmax(AxisOp, OpConverter):
    default_axis = -1

    def check(self, node):
        return _float_check(node)

    def layout(self, node, perms, lp):
        opset = lp.graph.opset if getattr(lp, "graph", None) is not None else 99
        if opset < 13:  # flattening semantics: keep the ONNX layout
            node.ann.flatten_from = int(node.attrs.get("axis", 1))
            node.attrs.setdefault("axis", 1)
            ident = lp.identity(node.inputs[0])
            return LayoutPlan([ident], [ident])
        return super().layout(node, perms, lp)

    def lower(self, node, out):
        from edgelite.converter.ops.conv import reshape
        from edgelite.schema.fb.ArgMaxOptions import ArgMaxOptionsT
        from edgelite.schema.fb.OneHotOptions import OneHotOptionsT

        x, y = node.inputs[0], node.outputs[0]
        shape = tuple(x.shape)
        axis = int(node.attrs.get("axis", -1)) % len(shape)
        b = Builder(out, node.name, shape, _F32)
        src = b.cast(x, _F32)
        if node.ann.flatten_from is not None:
            shape = (int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis:], dtype=np.int64)))
            flat = out.tmp(node.name + "_2d", shape, _F32)
            reshape(out, src, flat)
            src, axis = flat, 1
        am = ArgMaxOptionsT()
        am.outputType = 2  # INT32
        idx_shape = shape[:axis] + shape[axis + 1 :]
        idx = out.tmp(node.name + "_argmax", idx_shape, np.int32)
        out.emit("ARG_MAX", [src, out.const(np.array([axis], np.int32), node.name + "_axis")], [idx], am)
        oh = OneHotOptionsT()
        oh.axis = axis
        hot = out.tmp(node.name + "_onehot", shape, _F32)
        args = [idx, out.const(np.array(shape[axis], np.int32), node.name + "_depth")]
        on = out.const(np.array(1.0, np.float32), node.name + "_on")
        args += [on, out.const(np.array(0.0, np.float32), node.name + "_off")]
        out.emit("ONE_HOT", args, [hot], oh)
        if hot.shape != tuple(y.shape):
            flat_back = out.tmp(node.name + "_nd", y.shape, _F32)
            reshape(out, hot, flat_back)
            hot = flat_back
        b.finish(hot, y)
