"""Float32 RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR.

Both take an NHWC input and a constant or computed int32 ``size = [new_h, new_w]``.
Per axis (TFLite ``reference_ops``; all arithmetic in float32, as there):

* ``scale = (in - 1) / (out - 1)`` when ``align_corners`` and ``out > 1``, else
  ``in / out``;
* bilinear: ``v = (o + 0.5) * scale - 0.5`` with ``half_pixel_centers``, else
  ``o * scale``; ``lo = max(floor(v), 0)``, ``hi = min(ceil(v), in - 1)``, weight
  ``f = v - lo`` (negative near the edge with half-pixel centers, as in TFLite);
  the output follows LiteRT's optimized float kernel bit for bit: the four corner
  weights ``(1-fy)*(1-fx)``, ``(1-fy)*fx``, ``fy*(1-fx)``, ``fy*fx`` are formed
  first, then ``out = 0`` and ``out += corner * weight`` for corners (y0,x0),
  (y0,x1), (y1,x0), (y1,x1) in that order (so a -0.0 result becomes +0.0). An exact
  2x upsample without align_corners/half_pixel_centers takes LiteRT's special case
  instead: with ``a = x[y0,x0]``, ``b = x[y0,x1]``, ``c = x[y1,x0]``,
  ``d = x[y1,x1]`` (``y0 = oy // 2``, ``y1 = min(y0 + 1, in - 1)``, likewise x) the
  four outputs of a 2x2 block are ``a``, ``(a + b) * 0.5``, ``l = (a + c) * 0.5`` and
  ``(l + (b + d) * 0.5) * 0.5``;
* nearest: ``i = min(round(v) if align_corners else floor(v), in - 1)`` with
  ``v = (o + 0.5 if half_pixel_centers else o) * scale``, rounding half away from
  zero, then ``max(i, 0)`` with ``half_pixel_centers``.

``prepare`` turns these into per-axis index and weight tables (when ``size`` is
constant; otherwise the output is dynamic and ``eval`` builds them), so ``eval`` is a
gather and ``eval_jit`` a Numba loop over output rows, channels innermost.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.resize.resize_float import nearest_indices, bilinear_tables
    >>> nearest_indices(2, 4, align_corners=False, half_pixel_centers=False).tolist()
    [0, 0, 1, 1]
    >>> lo, hi, f = bilinear_tables(2, 4, align_corners=False, half_pixel_centers=False)
    >>> (lo.tolist(), hi.tolist(), f.tolist())
    ([0, 0, 1, 1], [0, 1, 1, 1], [0.0, 0.5, 0.0, 0.5])
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.conv.conv_float import is_float32
from edgelite.interpreter.compute.jit import njit, prange, serial_build

F32 = np.float32


def _scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    if align_corners and out_size > 1:
        return F32(in_size - 1) / F32(out_size - 1)
    return F32(in_size) / F32(out_size)


def bilinear_tables(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool):
    """``(lower, upper, frac)`` per output index along one axis (float32 arithmetic)."""
    scale = _scale(in_size, out_size, align_corners)
    o = np.arange(out_size, dtype=F32)
    v = (o + F32(0.5)) * scale - F32(0.5) if half_pixel_centers else o * scale
    lower = np.maximum(np.floor(v).astype(np.int64), 0)
    upper = np.minimum(np.ceil(v).astype(np.int64), in_size - 1)
    frac = (v - lower.astype(F32)).astype(F32)
    return lower, upper, frac


def nearest_indices(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    """Source index per output index along one axis (TFLite ``GetNearestNeighbor``)."""
    scale = _scale(in_size, out_size, align_corners)
    v = (np.arange(out_size, dtype=F32) + F32(0.5 if half_pixel_centers else 0.0)) * scale
    # v >= 0 here, so floor(v + 0.5) is rounding half away from zero (TfLiteRound).
    idx = np.floor(v + F32(0.5)) if align_corners else np.floor(v)
    idx = np.minimum(idx.astype(np.int64), in_size - 1)
    if half_pixel_centers:
        idx = np.maximum(idx, 0)
    return idx


@dataclass(frozen=True)
class ResizeParams:
    bilinear: bool
    align_corners: bool
    half_pixel_centers: bool
    # Per-axis tables for a constant size (None when the output is dynamic).
    y0: np.ndarray | None
    y1: np.ndarray | None
    fy: np.ndarray | None
    x0: np.ndarray | None
    x1: np.ndarray | None
    fx: np.ndarray | None
    parallel: bool


def _tables(p: ResizeParams, in_h: int, in_w: int, out_h: int, out_w: int):
    if p.bilinear:
        y0, y1, fy = bilinear_tables(in_h, out_h, p.align_corners, p.half_pixel_centers)
        x0, x1, fx = bilinear_tables(in_w, out_w, p.align_corners, p.half_pixel_centers)
    else:
        y0 = y1 = nearest_indices(in_h, out_h, p.align_corners, p.half_pixel_centers)
        x0 = x1 = nearest_indices(in_w, out_w, p.align_corners, p.half_pixel_centers)
        fy, fx = np.zeros(out_h, F32), np.zeros(out_w, F32)
    return y0, y1, fy, x0, x1, fx


def _bilinear_rows(x, y0, y1, fy, x0, x1, fx, out):
    """LiteRT's generic float bilinear (see the module docstring), in float32:
    w00 = (1-dy)*(1-dx), w01 = (1-dy)*dx, w10 = dy*(1-dx), w11 = dy*dx;
    out = ((0 + x[y0,x0]*w00) + x[y0,x1]*w01) + x[y1,x0]*w10) + x[y1,x1]*w11."""
    nb = x.shape[0]
    ch = x.shape[3]
    oh = out.shape[1]
    ow = out.shape[2]
    one = np.float32(1.0)  # typed constants keep every step in float32
    zero = np.float32(0.0)
    for r in prange(nb * oh):
        b = r // oh
        oy = r - b * oh
        ya = y0[oy]
        yb = y1[oy]
        dy = fy[oy]
        ry = one - dy
        for ox in range(ow):
            xa = x0[ox]
            xb = x1[ox]
            dx = fx[ox]
            rx = one - dx
            w00 = ry * rx
            w01 = ry * dx
            w10 = dy * rx
            w11 = dy * dx
            for c in range(ch):
                acc = zero + x[b, ya, xa, c] * w00
                acc = acc + x[b, ya, xb, c] * w01
                acc = acc + x[b, yb, xa, c] * w10
                out[b, oy, ox, c] = acc + x[b, yb, xb, c] * w11


def _upsample2x_rows(x, out):
    """LiteRT's exact-2x special case (no align_corners, no half_pixel_centers):
    a, (a+b)*0.5 / l = (a+c)*0.5, (l + (b+d)*0.5)*0.5 for each 2x2 output block."""
    nb = x.shape[0]
    h = x.shape[1]
    w = x.shape[2]
    ch = x.shape[3]
    half = np.float32(0.5)
    for r in prange(nb * h):
        b = r // h
        ya = r - b * h
        yb = min(ya + 1, h - 1)
        for xa in range(w):
            xb = min(xa + 1, w - 1)
            for c in range(ch):
                a = x[b, ya, xa, c]
                p = x[b, ya, xb, c]
                q = x[b, yb, xa, c]
                d = x[b, yb, xb, c]
                left = (a + q) * half
                out[b, 2 * ya, 2 * xa, c] = a
                out[b, 2 * ya, 2 * xa + 1, c] = (a + p) * half
                out[b, 2 * ya + 1, 2 * xa, c] = left
                out[b, 2 * ya + 1, 2 * xa + 1, c] = (left + (p + d) * half) * half


def _nearest_rows(x, yi, xi, out):
    """out[b, oy, ox, :] = x[b, yi[oy], xi[ox], :]."""
    nb = x.shape[0]
    ch = x.shape[3]
    oh = out.shape[1]
    ow = out.shape[2]
    for r in prange(nb * oh):
        b = r // oh
        oy = r - b * oh
        ya = yi[oy]
        for ox in range(ow):
            xa = xi[ox]
            for c in range(ch):
                out[b, oy, ox, c] = x[b, ya, xa, c]


_bilinear = njit(_bilinear_rows, parallel=True)
_upsample2x = njit(_upsample2x_rows, parallel=True)
_nearest = njit(_nearest_rows, parallel=True)


def resize_modes(ctx: OpContext) -> tuple[bool, bool]:
    """``(align_corners, half_pixel_centers)`` of a RESIZE_* operator, its 4-D NHWC input
    and 2-value size checked (float and quantized kernels alike)."""
    x, size, o = ctx.input(0), ctx.input(1), ctx.options
    align = bool(getattr(o, "alignCorners", False)) if o is not None else False
    half = bool(getattr(o, "halfPixelCenters", False)) if o is not None else False
    if align and half:
        raise ctx.fail("align_corners and half_pixel_centers cannot both be true")
    if x.shape is None or len(x.shape) != 4:
        raise ctx.fail(f"input {x.shape} must be 4-D NHWC")
    if size.shape is None or size.size != 2:
        raise ctx.fail(f"size must hold 2 values [new_height, new_width], got shape {size.shape}")
    return align, half


@register("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
class ResizeFloat(Kernel):
    """RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR on float32 images."""

    def accepts(self, ctx: OpContext) -> bool:
        return is_float32(ctx, 0)

    def prepare(self, ctx: OpContext) -> ResizeParams:
        x, size = ctx.input(0), ctx.input(1)
        align, half = resize_modes(ctx)
        p = ResizeParams(ctx.op_name == "RESIZE_BILINEAR", align, half, None, None, None, None, None, None,
                         ctx.num_threads > 1)
        if size.data is None:
            ctx.set_output_dynamic(0)
            return p
        oh, ow = (int(v) for v in np.asarray(size.data).reshape(2))
        if oh <= 0 or ow <= 0:
            raise ctx.fail(f"output size {oh}x{ow} must be positive")
        ctx.set_output_shape(0, (x.shape[0], oh, ow, x.shape[3]))
        y0, y1, fy, x0, x1, fx = _tables(p, x.shape[1], x.shape[2], oh, ow)
        return ResizeParams(p.bilinear, align, half, y0, y1, fy, x0, x1, fx, p.parallel)

    def _resolve(self, p: ResizeParams, inputs, outputs):
        """Tables and output array; builds both when the size is only known now."""
        if p.y0 is not None:
            return (p.y0, p.y1, p.fy, p.x0, p.x1, p.fx), outputs[0], None
        x = inputs[0]
        oh, ow = (int(v) for v in np.asarray(inputs[1]).reshape(2))
        out = np.empty((x.shape[0], oh, ow, x.shape[3]), np.float32)
        return _tables(p, x.shape[1], x.shape[2], oh, ow), out, {0: out}

    def eval(self, p: ResizeParams, inputs, outputs):
        (y0, y1, fy, x0, x1, fx), out, ret = self._resolve(p, inputs, outputs)
        x = inputs[0]
        if not p.bilinear:
            out[...] = x[:, y0][:, :, x0]
            return ret
        if _is_upsample2x(p, x.shape, out.shape):
            xb = np.minimum(np.arange(x.shape[2]) + 1, x.shape[2] - 1)
            yb = np.minimum(np.arange(x.shape[1]) + 1, x.shape[1] - 1)
            a, c = x, x[:, yb]
            b, d = a[:, :, xb], c[:, :, xb]
            half = F32(0.5)
            left = (a + c) * half
            out[:, 0::2, 0::2] = a
            out[:, 0::2, 1::2] = (a + b) * half
            out[:, 1::2, 0::2] = left
            out[:, 1::2, 1::2] = (left + (b + d) * half) * half
            return ret
        one = F32(1)
        dy = fy[None, :, None, None]
        dx = fx[None, None, :, None]
        ry, rx = one - dy, one - dx
        top, bot = x[:, y0], x[:, y1]
        acc = F32(0) + top[:, :, x0] * (ry * rx)
        acc += top[:, :, x1] * (ry * dx)
        acc += bot[:, :, x0] * (dy * rx)
        acc += bot[:, :, x1] * (dy * dx)
        out[...] = acc
        return ret

    def eval_jit(self, p: ResizeParams, inputs, outputs):
        (y0, y1, fy, x0, x1, fx), out, ret = self._resolve(p, inputs, outputs)
        if p.bilinear and _is_upsample2x(p, inputs[0].shape, out.shape):
            fn = _upsample2x if p.parallel else serial_build(_upsample2x)
            fn(inputs[0], out)
        elif p.bilinear:
            fn = _bilinear if p.parallel else serial_build(_bilinear)
            fn(inputs[0], y0, y1, fy, x0, x1, fx, out)
        else:
            fn = _nearest if p.parallel else serial_build(_nearest)
            fn(inputs[0], y0, x0, out)
        return ret


def _is_upsample2x(p: ResizeParams, in_shape, out_shape) -> bool:
    """LiteRT's special case: exactly twice the size, plain (corner-anchored) sampling."""
    return (not p.align_corners and not p.half_pixel_centers
            and out_shape[1] == 2 * in_shape[1] and out_shape[2] == 2 * in_shape[2])
