"""Resize / Upsample whose sampling depends on run-time values: ``scales`` fed at run
time, ``sizes`` fed at run time with ``keep_aspect_ratio_policy`` not ``stretch``,
or a run-time ``roi`` for ``tf_crop_and_resize``.

The static shapes fix each axis' input length ``I`` and output length ``O``, but
ONNX maps output index ``y`` to an input coordinate ``x`` with the *given* scale
(``x = (y + 0.5) / s - 0.5`` for ``half_pixel``, ...), which is not ``O / I`` in
general. So the coordinates are computed in the model, per resized axis, from the
run-time scalar ``s`` (and roi start/end):

* ``nearest``: ``idx = clamp(FLOOR(x) + round-up?(x - FLOOR(x)), 0, I - 1)`` and a
  ``GATHER`` (any dtype);
* ``linear`` / ``cubic``: a dense weight matrix ``W[o, j] = K(x_o - j)`` over virtual
  input positions ``j`` (``-e .. I + e``), with ``K`` the triangle or cubic
  (``cubic_coeff_a``) kernel, stretched by ``s`` when ``antialias`` and ``s < 1``;
  rows renormalised for ``antialias`` / ``exclude_outside`` (outside positions
  zeroed first), then folded onto the clamped edge positions by a constant
  ``[J, I]`` matrix (ONNX pads with edge values) and applied by ``BATCH_MATMUL``;
* ``tf_crop_and_resize``: rows whose ``x`` is outside ``[0, I - 1]`` take
  ``extrapolation_value`` (``SELECT_V2``).

These are the formulas of ONNX's reference Resize, written densely; float32
arithmetic replaces its float64 (nearest indices can differ only where ``x`` lies
within float32 rounding of a rounding boundary).

Example:
    >>> from edgelite.converter.ops.resize_runtime import fold_matrix
    >>> fold_matrix(2, 1).tolist()     # virtual positions -1, 0, 1, 2 onto 0, 1
    [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
"""

from __future__ import annotations

import math

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.layout_rules import OnnxLayoutData
from edgelite.converter.ops.registry import OpConverter, register
from edgelite.converter.ops.resize_ext import ResizeGather, _attrs, _input


def fold_matrix(i_size: int, ext: int) -> np.ndarray:
    """``[I + 2 ext, I]``: virtual position ``j`` (from ``-ext``) onto ``clip(j, 0, I - 1)``."""
    j = np.clip(np.arange(-ext, i_size + ext), 0, i_size - 1)
    return (j[:, None] == np.arange(i_size)[None, :]).astype(np.float32)


def _sources(node):
    """(roi, scales, sizes) inputs of a Resize / Upsample node (None when absent or empty)."""
    if node.op_type == "Upsample" or len(node.inputs) == 2:
        return None, _input(node, 1), None
    return _input(node, 1), _input(node, 2), _input(node, 3)


class _Axis:
    """One resized axis: its index, lengths and run-time scalars (``(1,)`` float32 values)."""

    def __init__(self, axis, i_size, o_size, scale, s_low, roi):
        self.axis, self.i, self.o, self.scale, self.s_low, self.roi = axis, i_size, o_size, scale, s_low, roi


@register("Resize", "Upsample", after=ResizeGather)
class ResizeRuntime(OnnxLayoutData, OpConverter):
    """Run-time sampling coordinates, where neither ``resize.Resize`` nor the static
    ``resize_ext.ResizeGather`` applies (scales fed at run time, run-time roi)."""

    def check(self, node):
        x = node.inputs[0]
        attrs = _attrs(node, 19 if node.op_type == "Resize" else 9)
        if attrs["mode"] != "nearest" and np.dtype(x.dtype) != np.float32:
            return f"{attrs['mode']} resize of {np.dtype(x.dtype).name} data with run-time scales"
        _, scales, sizes = _sources(node)
        if scales is None and sizes is None and node.op_type == "Upsample" and "scales" not in node.attrs:
            return "Upsample without scales"
        return None

    def lower(self, node, out):
        opset = out.graph.opset if out.graph is not None else 19
        attrs = _attrs(node, opset)
        e = Emitter(out, node.name)
        x, y = node.inputs[0], node.outputs[0]
        cur = x
        axes_list = self._axes(e, node, attrs)
        for n, ax in enumerate(axes_list):
            last = n == len(axes_list) - 1
            cur = self._resize_axis(e, cur, ax, attrs, y if last else None)
        if not axes_list:
            e.reshape(cur, y.shape, y=y)

    # -- per-axis scalars ---------------------------------------------------------------

    def _axes(self, e, node, attrs) -> list[_Axis]:
        x, y = node.inputs[0], node.outputs[0]
        r = len(x.shape)
        axes = [int(a) % r for a in node.attrs.get("axes", range(r))]
        roi_v, scales_v, sizes_v = _sources(node)
        ins = [int(x.shape[a]) for a in axes]
        outs = [int(y.shape[a]) for a in axes]
        scales: list = []
        lows: list[float] = []
        if sizes_v is not None:
            policy = node.attrs.get("keep_aspect_ratio_policy", "stretch")
            if policy == "stretch":
                scales = [e.const(np.array([o / i], np.float32), tag="scale") for i, o in zip(ins, outs)]
                lows = [o / i for i, o in zip(ins, outs)]
            else:
                red = "REDUCE_MIN" if policy == "not_larger" else "REDUCE_MAX"
                if sizes_v.is_constant:
                    ratio = np.asarray(sizes_v.data, np.float64).ravel() / np.asarray(ins, np.float64)
                    s = e.const(np.array([ratio.min() if red == "REDUCE_MIN" else ratio.max()], np.float32), tag="scale")
                else:
                    f = e.div(e.cast(sizes_v, np.float32), e.const(np.asarray(ins, np.float32), tag="in_sizes"))
                    s = e.reduce(red, f, [0], keep=True)
                scales = [s] * len(axes)
                lows = [max(o - 0.5, 0.25) / i for i, o in zip(ins, outs)]
        else:
            if scales_v is None:
                vals = np.asarray(node.attrs["scales"], np.float32)
                scales = [e.const(np.array([vals[a]], np.float32), tag="scale") for a in axes]
            elif scales_v.is_constant:
                vals = np.asarray(scales_v.data, np.float32).ravel()
                scales = [e.const(vals[k : k + 1], tag="scale") for k in range(len(axes))]
            else:
                sv = e.cast(scales_v, np.float32)
                scales = [e.slice(sv, [k], [1]) for k in range(len(axes))]
            lows = [max(o, 0.25) / i for i, o in zip(ins, outs)]
        rois: list = [None] * len(axes)
        if attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize":
            if roi_v.is_constant:
                rv = np.asarray(roi_v.data, np.float32).ravel()
                rois = [(e.const(rv[k : k + 1], tag="roi"), e.const(rv[k + len(axes) : k + len(axes) + 1], tag="roi"))
                        for k in range(len(axes))]
            else:
                rv = e.cast(roi_v, np.float32)
                rois = [(e.slice(rv, [k], [1]), e.slice(rv, [k + len(axes)], [1])) for k in range(len(axes))]
        return [_Axis(a, i, o, s, lo, roi) for a, i, o, s, lo, roi in zip(axes, ins, outs, scales, lows, rois)]

    # -- coordinates --------------------------------------------------------------------

    def _coords(self, e, ax: _Axis, mode: str):
        """``(x, extrapolated)``: (O,) float32 source coordinates, and a bool mask or None."""
        I, O, s = ax.i, ax.o, ax.scale
        f32 = np.float32
        yv = np.arange(O, dtype=np.float32)
        half = lambda: e.sub(e.div(e.const(yv + 0.5, tag="y_half"), s), e.scalar(0.5, f32))  # noqa: E731
        if mode == "asymmetric":
            return e.div(e.const(yv, tag="y"), s), None
        if mode == "half_pixel":
            return half(), None
        if mode == "pytorch_half_pixel":
            if O > 1:
                return half(), None
            one = e.binary("EQUAL", e.mul(s, e.scalar(I, f32)), e.scalar(1.0, f32))
            return e.select(one, e.const(np.full(1, -0.5, f32), tag="mhalf"), half()), None
        if mode == "half_pixel_symmetric":
            adj = e.div(e.scalar(O, f32), e.mul(s, e.scalar(I, f32)))
            offset = e.mul(e.scalar(I / 2, f32), e.sub(e.scalar(1.0, f32), adj))
            return e.add(offset, half()), None
        if mode == "align_corners":
            if O == 1:
                return e.const(np.zeros(1, f32), tag="x0"), None
            den = e.sub(e.mul(s, e.scalar(I, f32)), e.scalar(1.0, f32))
            return e.div(e.const(yv * np.float32(I - 1), tag="y_scaled"), den), None
        if mode == "tf_crop_and_resize":
            start, end = ax.roi
            base = e.mul(start, e.scalar(I - 1, f32))
            span = e.mul(e.sub(end, start), e.scalar(I - 1, f32))
            if O > 1:
                den = e.sub(e.mul(s, e.scalar(I, f32)), e.scalar(1.0, f32))
                x = e.add(e.div(e.mul(e.const(yv, tag="y"), span), den), base)
            else:
                one = e.binary("EQUAL", e.mul(s, e.scalar(I, f32)), e.scalar(1.0, f32))
                mid = e.add(e.div(span, e.scalar(2.0, f32)), base)
                x = e.select(one, mid, base)
            lo = e.binary("LESS", x, e.scalar(0.0, f32))
            hi = e.binary("GREATER", x, e.scalar(I - 1, f32))
            return x, e.binary("LOGICAL_OR", lo, hi)
        raise ValueError(f"coordinate_transformation_mode={mode!r}")

    # -- one axis -----------------------------------------------------------------------

    def _resize_axis(self, e, cur, ax: _Axis, attrs: dict, into):
        mode = attrs["mode"]
        x, extrap = self._coords(e, ax, attrs.get("coordinate_transformation_mode", "half_pixel"))
        a, I, O = ax.axis, ax.i, ax.o
        out_shape = tuple(cur.shape[:a]) + (O,) + tuple(cur.shape[a + 1 :])
        value = float(attrs.get("extrapolation_value", 0.0))
        if mode == "nearest":
            res = self._nearest(e, cur, x, ax, attrs.get("nearest_mode", "round_prefer_floor"))
            if extrap is not None:
                mask = e.reshape(extrap, [O if d == a else 1 for d in range(len(out_shape))])
                res = e.select(mask, e.const(np.asarray(value, cur.dtype), tag="extrapolation"), res)
            return e.reshape(res, out_shape, y=into) if into is not None else res
        m = self._weights(e, x, ax, attrs)  # (O, I)
        pre = int(np.prod(cur.shape[:a], dtype=np.int64))
        post = int(np.prod(cur.shape[a + 1 :], dtype=np.int64))
        y3 = e.matmul(e.reshape(m, (1, O, I)), e.reshape(cur, (pre, I, post)))
        if extrap is not None:
            y3 = e.select(e.reshape(extrap, (1, O, 1)), e.const(np.asarray(value, np.float32), tag="extrapolation"), y3)
        return e.reshape(y3, out_shape, y=into) if into is not None else e.reshape(y3, out_shape)

    def _nearest(self, e, cur, x, ax: _Axis, rounding: str):
        f32 = np.float32
        fl = e.unary("FLOOR", x)
        frac = e.sub(x, fl)
        cmp = {"round_prefer_floor": ("GREATER", 0.5), "round_prefer_ceil": ("GREATER_EQUAL", 0.5),
               "ceil": ("GREATER", 0.0)}.get(rounding)
        idx = fl
        if cmp is not None:
            idx = e.add(fl, e.cast(e.binary(cmp[0], frac, e.scalar(cmp[1], f32)), f32))
        i32 = e.cast(idx, np.int32)
        i32 = e.binary("MINIMUM", e.binary("MAXIMUM", i32, e.scalar(0, np.int32)), e.scalar(ax.i - 1, np.int32))
        return e.gather(cur, i32, ax.axis)

    def _weights(self, e, x, ax: _Axis, attrs: dict):
        """``(O, I)`` interpolation weights from the (O,) coordinates."""
        f32 = np.float32
        cubic = attrs["mode"] == "cubic"
        antialias = bool(int(attrs.get("antialias", 0)))
        exclude = bool(int(attrs.get("exclude_outside", 0)))
        radius = 2.0 if cubic else 1.0
        low = min(1.0, ax.s_low) if antialias else 1.0
        ext = int(math.ceil(radius / low + 0.5 / max(ax.s_low, 1e-6))) + 2
        js = np.arange(-ext, ax.i + ext, dtype=np.float32)
        t = e.sub(e.reshape(x, (ax.o, 1)), e.const(js.reshape(1, -1), tag="positions"))  # x - j
        if antialias:
            t = e.mul(t, e.binary("MINIMUM", ax.scale, e.scalar(1.0, f32)))
        d = e.unary("ABS", t)
        if cubic:
            A = float(attrs.get("cubic_coeff_a", -0.75))
            d2 = e.mul(d, d)
            d3 = e.mul(d2, d)
            near = e.add(e.sub(e.mul(d3, e.scalar(A + 2, f32)), e.mul(d2, e.scalar(A + 3, f32))), e.scalar(1.0, f32))
            far = e.add(
                e.sub(e.mul(d3, e.scalar(A, f32)), e.mul(d2, e.scalar(5 * A, f32))),
                e.sub(e.mul(d, e.scalar(8 * A, f32)), e.scalar(4 * A, f32)),
            )
            zero = e.scalar(0.0, f32)
            k = e.select(e.binary("LESS_EQUAL", d, e.scalar(1.0, f32)), near,
                         e.select(e.binary("LESS", d, e.scalar(2.0, f32)), far, zero))
        else:
            k = e.binary("MAXIMUM", e.sub(e.scalar(1.0, f32), d), e.scalar(0.0, f32))
        if exclude:
            inside = ((js >= 0) & (js <= ax.i - 1)).astype(np.float32).reshape(1, -1)
            k = e.mul(k, e.const(inside, tag="inside"))
        if exclude or antialias:
            total = e.reduce("SUM", k, [1], keep=True)
            total = e.select(e.binary("EQUAL", total, e.scalar(0.0, f32)), e.scalar(1.0, f32), total)
            k = e.div(k, total)
        return e.matmul(k, e.const(fold_matrix(ax.i, ext), tag="fold"))
