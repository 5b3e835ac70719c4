"""RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR on int8, uint8 and int16 images.

LiteRT resizes the stored integers and never looks at the quantization (input and
output are meant to share it; a differing output quantization is not rescaled).
What ai-edge-litert 2.3 (built-in kernels) computes, per type:

* **bilinear, int8 and int16** (``reference_ops::ResizeBilinearInteger``): Q10 fixed
  point. Per axis ``s = round(1024 * in / out)`` (``(1024 (in-1) + (out-1)/2) /
  (out-1)`` with ``align_corners``, integer division); the source position is
  ``v = o s`` or, with ``half_pixel_centers``, ``o s + s/2 - 512``; ``lo = max(v / 1024,
  0)``, ``hi = min((v + 1023) / 1024, in - 1)`` (divisions truncate toward zero), weights
  ``w_hi = v - 1024 lo`` and ``w_lo = 1024 - w_hi``. The four products sum in 64 bits
  to ``acc`` (Q20), and the output is ``acc / 2**20`` rounded half away from zero.
* **bilinear, uint8** (``optimized_ops::ResizeBilinear`` ->
  ``ResizeBilinearGenericSmallChannel``): float32, as the float kernel's index and
  fraction tables, weights ``(1-dy)(1-dx), (1-dy)dx, dy(1-dx), dy dx``, then
  ``trunc(((x00 w0 + x01 w1) + x10 w2) + x11 w3 + 0.5)`` (no fused multiply-add). The
  8x half-pixel special case (``ResizeBilinear888Uint8``) computes the same values
  exactly in 8.8 fixed point, so it needs no path of its own.
* **nearest, int8 and int16**: the float kernel's index tables (``reference_ops``).
* **nearest, uint8** without ``align_corners``/``half_pixel_centers``
  (``optimized_ops::ResizeNearestNeighbor``): Q16 indices ``min((o * ((in << 16) / out
  + 1)) >> 16, in - 1)``, which differ from the float formula for some sizes
  (e.g. 2 -> 82); with either option it is the reference formula.

All of this was checked against the wheel (see ``tests/interpreter/kernels/resize/
test_resize_quant.py``). Only 4-D NHWC inputs; the size input may be computed at run
time (the output is then dynamic).

Example:
    >>> from edgelite.interpreter.kernels.resize.resize_quant import q10_tables
    >>> lo, hi, w_hi = q10_tables(2, 4, align_corners=False, half_pixel_centers=False)
    >>> (lo.tolist(), hi.tolist(), w_hi.tolist())
    ([0, 0, 1, 1], [0, 1, 1, 1], [0, 512, 0, 512])
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.kernels.base import INT8, Kernel, OpContext, register
from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.kernels.resize.resize_float import bilinear_tables, nearest_indices, resize_modes

_INT_TYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))
F32 = np.float32
MODE_Q10, MODE_FLOAT_U8, MODE_NEAREST = 0, 1, 2


def _trunc_div(a: np.ndarray, b: int) -> np.ndarray:
    """C integer division (rounds toward zero) of an int64 array by a positive int."""
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


def q10_tables(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool):
    """``(lo, hi, w_hi)`` per output index along one axis, Q10 (int8/int16 bilinear).

    ``lo`` is also kept below ``in_size`` (LiteRT would read past the row there, which
    only an output over 2048 times larger than an aligned input can reach).
    """
    if align_corners and out_size > 1:
        s = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    else:
        s = ((1 << 10) * in_size + out_size // 2) // out_size
    o = np.arange(out_size, dtype=np.int64)
    v = o * s + s // 2 - (1 << 9) if half_pixel_centers else o * s
    lo = np.minimum(np.maximum(_trunc_div(v, 1 << 10), 0), in_size - 1)
    hi = np.minimum(_trunc_div(v + (1 << 10) - 1, 1 << 10), in_size - 1)
    return lo, hi, v - (lo << 10)


def q16_nearest(in_size: int, out_size: int) -> np.ndarray:
    """uint8 nearest-neighbour indices of ``optimized_ops`` (no align, no half pixel)."""
    scale = (in_size << 16) // out_size + 1
    return np.minimum((np.arange(out_size, dtype=np.int64) * scale) >> 16, in_size - 1)


@dataclass(frozen=True)
class ResizeQuantParams:
    mode: int
    align_corners: bool
    half_pixel_centers: bool
    # Per-axis tables for a constant size (None when the output is dynamic):
    # Q10 mode: lo, hi, w_hi (int64); float mode: lo, hi, frac (float32); nearest: idx.
    y_tables: tuple | None
    x_tables: tuple | None


def _axis_tables(mode: int, in_size: int, out_size: int, align: bool, half: bool, uint8: bool) -> tuple:
    if mode == MODE_Q10:
        return q10_tables(in_size, out_size, align, half)
    if mode == MODE_FLOAT_U8:
        return bilinear_tables(in_size, out_size, align, half)
    if uint8 and not align and not half:
        return (q16_nearest(in_size, out_size),)
    return (nearest_indices(in_size, out_size, align, half),)


# ----------------------------------------------------------------------- JIT kernels


@njit
def _bilinear_q10_kernel(x, y0, y1, wy, x0, x1, wx, out):
    """ResizeBilinearInteger (TFLite reference_ops), Q10 weights, Q20 accumulator:
    out = round_half_away(sum(x[yi, xj] * wyi * wxj) / 2**20)."""
    nb, oh, ow, ch = out.shape
    for b in range(nb):
        for oy in range(oh):
            ya = y0[oy]
            yb = y1[oy]
            wyb = wy[oy]
            wya = 1024 - wyb
            for ox in range(ow):
                xa = x0[ox]
                xb = x1[ox]
                wxb = wx[ox]
                wxa = 1024 - wxb
                for c in range(ch):
                    acc = (np.int64(x[b, ya, xa, c]) * wya * wxa + np.int64(x[b, yb, xa, c]) * wyb * wxa
                           + np.int64(x[b, ya, xb, c]) * wya * wxb + np.int64(x[b, yb, xb, c]) * wyb * wxb)
                    if acc > 0:
                        out[b, oy, ox, c] = (acc + (1 << 19)) // (1 << 20)
                    else:
                        out[b, oy, ox, c] = -((-(acc - (1 << 19))) // (1 << 20))


@njit
def _bilinear_u8_float_kernel(x, y0, y1, fy, x0, x1, fx, out):
    """ResizeBilinearGenericSmallChannel<uint8> (TFLite optimized_ops), float32:
    out = trunc(((x00 w0 + x01 w1) + x10 w2) + x11 w3 + 0.5), cast to uint8."""
    nb, oh, ow, ch = out.shape
    one = np.float32(1.0)
    half = np.float32(0.5)
    for b in range(nb):
        for oy in range(oh):
            ya = y0[oy]
            yb = y1[oy]
            dy = fy[oy]
            for ox in range(ow):
                xa = x0[ox]
                xb = x1[ox]
                dx = fx[ox]
                w0 = (one - dy) * (one - dx)
                w1 = (one - dy) * dx
                w2 = dy * (one - dx)
                w3 = dy * dx
                for c in range(ch):
                    acc = np.float32(x[b, ya, xa, c]) * w0
                    acc = acc + np.float32(x[b, ya, xb, c]) * w1
                    acc = acc + np.float32(x[b, yb, xa, c]) * w2
                    acc = acc + np.float32(x[b, yb, xb, c]) * w3
                    out[b, oy, ox, c] = np.int64(acc + half) & 0xFF


@njit
def _nearest_kernel(x, yi, xi, out):
    """out[b, oy, ox, :] = x[b, yi[oy], xi[ox], :]."""
    nb, oh, ow, ch = out.shape
    for b in range(nb):
        for oy in range(oh):
            ya = yi[oy]
            for ox in range(ow):
                xa = xi[ox]
                for c in range(ch):
                    out[b, oy, ox, c] = x[b, ya, xa, c]


# -------------------------------------------------------------------------- kernel


@register("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", priority=INT8)
class ResizeQuantized(Kernel):
    """RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR on int8, uint8 and int16 NHWC images."""

    def accepts(self, ctx: OpContext) -> bool:
        if len(ctx.inputs) < 2 or not ctx.outputs or ctx.inputs[0] is None:
            return False
        dt = np.dtype(ctx.inputs[0].dtype)
        return dt in _INT_TYPES and np.dtype(ctx.outputs[0].dtype) == dt

    def prepare(self, ctx: OpContext) -> ResizeQuantParams:
        x, size = ctx.input(0), ctx.input(1)
        align, half = resize_modes(ctx)
        uint8 = np.dtype(x.dtype) == np.uint8
        if ctx.op_name == "RESIZE_NEAREST_NEIGHBOR":
            mode = MODE_NEAREST
        else:
            mode = MODE_FLOAT_U8 if uint8 else MODE_Q10
        if size.data is None:
            ctx.set_output_dynamic(0)
            return ResizeQuantParams(mode, align, half, None, None)
        oh, ow = (int(v) for v in np.asarray(size.data).reshape(2))
        if oh <= 0 or ow <= 0:
            raise ctx.fail(f"output size {oh}x{ow} must be positive")
        ctx.set_output_shape(0, (x.shape[0], oh, ow, x.shape[3]))
        return ResizeQuantParams(mode, align, half, _axis_tables(mode, x.shape[1], oh, align, half, uint8),
                                 _axis_tables(mode, x.shape[2], ow, align, half, uint8))

    def _resolve(self, p: ResizeQuantParams, inputs, outputs):
        """Tables and output array; builds both when the size is only known now."""
        if p.y_tables is not None:
            return p.y_tables, p.x_tables, outputs[0], None
        x = inputs[0]
        oh, ow = (int(v) for v in np.asarray(inputs[1]).reshape(2))
        uint8 = x.dtype == np.uint8
        out = np.empty((x.shape[0], oh, ow, x.shape[3]), x.dtype)
        yt = _axis_tables(p.mode, x.shape[1], oh, p.align_corners, p.half_pixel_centers, uint8)
        xt = _axis_tables(p.mode, x.shape[2], ow, p.align_corners, p.half_pixel_centers, uint8)
        return yt, xt, out, {0: out}

    def eval(self, p: ResizeQuantParams, inputs, outputs):
        yt, xt, out, ret = self._resolve(p, inputs, outputs)
        x = inputs[0]
        if p.mode == MODE_NEAREST:
            out[...] = x[:, yt[0]][:, :, xt[0]]
            return ret
        (y0, y1, wy), (x0, x1, wx) = yt, xt
        top, bot = x[:, y0], x[:, y1]
        corners = (top[:, :, x0], top[:, :, x1], bot[:, :, x0], bot[:, :, x1])  # 00, 01, 10, 11
        if p.mode == MODE_Q10:
            wy1 = wy[None, :, None, None]
            wx1 = wx[None, None, :, None]
            wy0, wx0 = 1024 - wy1, 1024 - wx1
            acc = (corners[0].astype(np.int64) * wy0 * wx0 + corners[2].astype(np.int64) * wy1 * wx0
                   + corners[1].astype(np.int64) * wy0 * wx1 + corners[3].astype(np.int64) * wy1 * wx1)
            rounded = _trunc_div(acc + np.where(acc > 0, 1 << 19, -(1 << 19)), 1 << 20)
            out[...] = rounded.astype(out.dtype)  # LiteRT's static_cast; always in range
            return ret
        dy = wy[None, :, None, None]
        dx = wx[None, None, :, None]
        one = F32(1.0)
        weights = ((one - dy) * (one - dx), (one - dy) * dx, dy * (one - dx), dy * dx)
        acc = corners[0].astype(F32) * weights[0]
        for k in (1, 2, 3):
            acc = acc + corners[k].astype(F32) * weights[k]
        out[...] = (np.trunc(acc + F32(0.5)).astype(np.int64) & 0xFF).astype(np.uint8)
        return ret

    def eval_jit(self, p: ResizeQuantParams, inputs, outputs):
        yt, xt, out, ret = self._resolve(p, inputs, outputs)
        x = inputs[0]
        if p.mode == MODE_NEAREST:
            _nearest_kernel(x, yt[0], xt[0], out)
        elif p.mode == MODE_Q10:
            _bilinear_q10_kernel(x, yt[0], yt[1], yt[2], xt[0], xt[1], xt[2], out)
        else:
            _bilinear_u8_float_kernel(x, yt[0], yt[1], yt[2], xt[0], xt[1], xt[2], out)
        return ret
