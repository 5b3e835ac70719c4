"""Stand-alone QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear on float tensors.

These ONNX ops take their scale and zero point as tensors (often run-time inputs),
per tensor, per axis or per block, and round half to even. TFLite's QUANTIZE op
needs constant parameters and rounds half away from zero, so the ops are decomposed
into float builtins that compute the ONNX formulas exactly:

* ``QuantizeLinear``: ``y = CAST(clamp(ROUND(x / scale) + zero_point, qmin, qmax))``
  (TFLite ROUND is half to even, like ``np.rint``);
* ``DequantizeLinear``: ``y = (CAST(x, f32) - CAST(zero_point, f32)) * scale``;
* ``DynamicQuantizeLinear``: uint8 scale/zero point from the tensor's range
  (``REDUCE_MIN``/``REDUCE_MAX``), then as ``QuantizeLinear``.

Per-axis parameters are reshaped to broadcast along ``axis``; blocked parameters
(``block_size``) broadcast over a ``[.., C / B, B, ..]`` view of the data. Only
integer types TFLite holds are accepted (int8, uint8, int16, and int32 to dequantize);
float8 / int4 / int2 / uint16 ... are refused at conversion.

Example:
    >>> from edgelite.converter.ops.quant_ops import QUANT_RANGES
    >>> QUANT_RANGES["uint8"]
    (0, 255)
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register

QUANT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
_DEQUANT_INPUTS = set(QUANT_RANGES) | {"int32"}
_FLOATS = {"float32", "float16"}


def _dtype_name(v) -> str | None:
    return None if v is None or v.dtype is None else np.dtype(v.dtype).name


def _out_qtype(node):
    """The quantized dtype QuantizeLinear produces (zero point's, ``output_dtype``, or uint8)."""
    zp = node.input(2)
    if zp is not None:
        return _dtype_name(zp)
    if "output_dtype" in node.attrs:
        from onnx import helper

        return np.dtype(helper.tensor_dtype_to_np_dtype(int(node.attrs["output_dtype"]))).name
    return "uint8"


def _param_view(e: Emitter, p, x_shape, axis: int, block: int):
    """``p`` (scale or zero point) reshaped to broadcast against the (blocked) data view."""
    r = len(x_shape)
    pshape = tuple(p.shape)
    if len(pshape) == 0 or int(np.prod(pshape)) == 1:
        return e.reshape(p, ()) if len(pshape) else p
    axis = axis % r
    if block:
        view = list(x_shape[:axis]) + [x_shape[axis] // block, 1] + list(x_shape[axis + 1 :])
        return e.reshape(p, view)
    return e.reshape(p, [1] * axis + [pshape[0]] + [1] * (r - axis - 1))


def _data_view(x_shape, axis: int, block: int):
    if not block:
        return tuple(x_shape)
    axis = axis % len(x_shape)
    return tuple(x_shape[:axis]) + (x_shape[axis] // block, block) + tuple(x_shape[axis + 1 :])


def _check_block(node, x):
    block = int(node.attrs.get("block_size", 0) or 0)
    if block and x.shape is not None and x.shape[int(node.attrs.get("axis", 1)) % len(x.shape)] % block:
        return "block_size does not divide the axis"
    return None


class _LinearIO:
    """QuantizeLinear / DequantizeLinear's data (float32, blocks split off the axis) and
    the writing of its result; ``param`` views a scale or zero point against it."""

    def __init__(self, e: Emitter, node):
        self.e, self.x, self.y = e, node.inputs[0], node.outputs[0]
        self.axis, self.block = int(node.attrs.get("axis", 1)), int(node.attrs.get("block_size", 0) or 0)
        self.view = _data_view(self.x.shape, self.axis, self.block)
        self.data = e.reshape(e.cast(self.x, np.float32), self.view)

    def param(self, v):
        return _param_view(self.e, self.e.cast(v, np.float32), self.x.shape, self.axis, self.block)

    def write(self, make) -> None:
        """Write ``make(y)`` (y: the output, or None for a temporary) into the output."""
        e, y = self.e, self.y
        if self.view == tuple(y.shape) and np.dtype(y.dtype) == np.float32:
            make(y)
        elif self.view == tuple(y.shape):
            e.cast(make(None), y.dtype, y=y)
        else:
            e.reshape(e.cast(make(None), y.dtype), y.shape, y=y)


@register("QuantizeLinear")
class QuantizeLinear(OpConverter):
    def check(self, node):
        x = node.inputs[0]
        qt = _out_qtype(node)
        if qt not in QUANT_RANGES:
            return f"quantized type {qt} (TFLite holds int8, uint8 and int16 here)"
        if _dtype_name(x) not in _FLOATS or _dtype_name(node.inputs[1]) not in _FLOATS:
            return f"input type {_dtype_name(x)} / scale type {_dtype_name(node.inputs[1])}"
        if node.attrs.get("precision"):
            return "precision attribute"
        return _check_block(node, x)

    def lower(self, node, out):
        e = Emitter(out, node.name)
        io = _LinearIO(e, node)
        zp = node.input(2)
        # ONNX: x / scale in the input's precision; float16 inputs are promoted like numpy does.
        q = e.unary("ROUND", e.binary("DIV", io.data, io.param(node.inputs[1])))
        if zp is not None:
            q = e.binary("ADD", q, io.param(zp))
        lo, hi = QUANT_RANGES[_out_qtype(node)]
        q = e.clamp(q, float(lo), float(hi))
        io.write(lambda y: q)


@register("DequantizeLinear")
class DequantizeLinear(OpConverter):
    def check(self, node):
        x = node.inputs[0]
        if _dtype_name(x) not in _DEQUANT_INPUTS:
            return f"quantized type {_dtype_name(x)} (TFLite holds int8, uint8, int16 and int32 here)"
        if _dtype_name(node.inputs[1]) not in _FLOATS:
            return f"scale type {_dtype_name(node.inputs[1])}"
        return _check_block(node, x)

    def lower(self, node, out):
        e = Emitter(out, node.name)
        io = _LinearIO(e, node)
        zp = node.input(2)
        d = io.data if zp is None else e.binary("SUB", io.data, io.param(zp))
        s = io.param(node.inputs[1])
        io.write(lambda y: e.binary("MUL", d, s, y=y))


@register("DynamicQuantizeLinear")
class DynamicQuantizeLinear(OpConverter):
    """uint8 with ``scale = (max(x, 0) - min(x, 0)) / 255``, ``zp = clamp(ROUND(-min / scale))``."""

    def check(self, node):
        return None if _dtype_name(node.inputs[0]) == "float32" else f"input type {_dtype_name(node.inputs[0])}"

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x = node.inputs[0]
        y, y_scale, y_zp = node.outputs
        axes = list(range(len(x.shape)))
        zero = e.const(np.float32(0))
        hi = e.binary("MAXIMUM", e.reduce("REDUCE_MAX", x, axes), zero)
        lo = e.binary("MINIMUM", e.reduce("REDUCE_MIN", x, axes), zero)
        span = e.binary("SUB", hi, lo)
        # An all-zero tensor gets scale 1 / 255 (ONNX), not 0.
        span = e.op("SELECT_V2", [e.binary("EQUAL", span, zero), e.const(np.float32(1)), span], (), np.float32)
        e.binary("DIV", span, e.const(np.float32(255)), y=y_scale)
        zp = e.clamp(e.unary("ROUND", e.binary("DIV", e.binary("SUB", zero, lo), y_scale)), 0.0, 255.0)
        e.cast(zp, np.uint8, y=y_zp)
        q = e.binary("ADD", e.unary("ROUND", e.binary("DIV", x, y_scale)), zp)
        e.cast(e.clamp(q, 0.0, 255.0), np.uint8, y=y)
