"""Quantized AVERAGE_POOL_2D and MAX_POOL_2D on int8, uint8 and int16 activations.

Input and output share scale and zero point (TFLite quantization spec), so the
kernels work on the stored integers (``reference_integer_ops/pooling.h``):

* average: ``acc`` = sum of the in-bounds window cells, ``count`` = their number;
  ``acc > 0 ? (acc + count/2) / count : (acc - count/2) / count`` with C division
  (rounds half away from zero), then the fused-activation clamp;
* max: the largest in-bounds cell, then the clamp.

Padding cells are never counted. The JIT kernels walk output rows in parallel with
the channels innermost.

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> any(type(k).__name__ == "AveragePool2DQuant" for k in kernels_for("AVERAGE_POOL_2D"))
    True
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.kernels.base import INT8, Kernel, OpContext, register
from edgelite.interpreter.compute.conv_geometry import Window2D
from edgelite.interpreter.compute import bound, float_gemm
from edgelite.interpreter.compute.jit import njit, prange, serial_build

_QUANT_TYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


@dataclass(frozen=True)
class PoolQuantParams:
    batch: int
    win: Window2D  # filter (kh, kw), strides, padding, input and output size
    channels: int
    act_min: int
    act_max: int
    num_threads: int


def pool_quant_prepare(ctx: OpContext) -> PoolQuantParams:
    x, out = ctx.input(0), ctx.outputs[0]
    o = ctx.options
    if x.shape is None or len(x.shape) != 4:
        raise ctx.fail("input must be 4-D (NHWC)")
    if o is None:
        raise ctx.fail("pooling needs Pool2DOptions (filter size and strides)")
    b, h, w, c = x.shape
    win = Window2D.build(h, w, o.filterHeight, o.filterWidth, o.strideH, o.strideW, 1, 1, o.padding)
    if win.out_h <= 0 or win.out_w <= 0:
        raise ctx.fail(f"window {o.filterHeight}x{o.filterWidth} does not fit input {h}x{w}")
    ctx.set_output_shape(0, (b, win.out_h, win.out_w, c))
    q = out.quant if out.quant is not None else x.quant
    lo, hi = fp.quantized_activation_range(o.fusedActivationFunction, q.scalar_scale, q.scalar_zero_point, out.dtype)
    return PoolQuantParams(
        batch=b, win=win, channels=c,
        act_min=lo, act_max=hi, num_threads=ctx.num_threads,
    )


def _kernel(parallel_kernel, p: PoolQuantParams, prepared: bool = False):
    """``parallel_kernel`` where the layer is worth splitting over threads (as float
    pooling decides: Numba's pool costs a fork and a join), else its serial build
    (deferred in a prepared call: building it imports Numba)."""
    ops = 2.0 * p.batch * p.win.out_h * p.win.out_w * p.channels * p.win.kh * p.win.kw
    if float_gemm.worth_splitting(p.num_threads, ops, float_gemm.STENCIL_FLOPS_PER_SECOND):
        return parallel_kernel
    return bound.Deferred(lambda: serial_build(parallel_kernel)) if prepared else serial_build(parallel_kernel)


def _taps(x: np.ndarray, p: PoolQuantParams, fill):
    """Yield ``(window cell values, in-bounds mask)`` for each of the fh*fw taps."""
    pad_b = max(0, (p.win.out_h - 1) * p.win.sh + p.win.kh - p.win.in_h - p.win.pad_h)
    pad_r = max(0, (p.win.out_w - 1) * p.win.sw + p.win.kw - p.win.in_w - p.win.pad_w)
    widths = ((0, 0), (p.win.pad_h, pad_b), (p.win.pad_w, pad_r), (0, 0))
    xp = np.pad(x, widths, constant_values=fill)
    valid = np.pad(np.ones((1, p.win.in_h, p.win.in_w, 1), bool), widths, constant_values=False)
    for i in range(p.win.kh):
        for j in range(p.win.kw):
            sy = slice(i, i + (p.win.out_h - 1) * p.win.sh + 1, p.win.sh)
            sx = slice(j, j + (p.win.out_w - 1) * p.win.sw + 1, p.win.sw)
            yield xp[:, sy, sx, :], valid[:, sy, sx, :]


@njit(parallel=True)
def _avg_pool_kernel(x, fh, fw, sh, sw, pt, pl, oh, ow, lo, hi, out):
    """out = clamp(round_half_away(sum of in-bounds cells / their count), lo, hi)."""
    bsz, h, w, c = x.shape
    for by in prange(bsz * oh):
        b = by // oh
        y = by % oh
        acc = np.empty(c, np.int64)
        for xo in range(ow):
            y0 = y * sh - pt
            x0 = xo * sw - pl
            i0 = max(0, -y0)
            i1 = min(fh, h - y0)
            j0 = max(0, -x0)
            j1 = min(fw, w - x0)
            for cc in range(c):
                acc[cc] = 0
            for i in range(i0, i1):
                for j in range(j0, j1):
                    for cc in range(c):
                        acc[cc] += x[b, y0 + i, x0 + j, cc]
            count = (i1 - i0) * (j1 - j0)
            half = count // 2
            for cc in range(c):
                a = acc[cc]
                if a > 0:
                    v = (a + half) // count
                else:
                    v = -((half - a) // count)
                out[b, y, xo, cc] = min(max(v, lo), hi)


@njit(parallel=True)
def _max_pool_kernel(x, fh, fw, sh, sw, pt, pl, oh, ow, lo, hi, out):
    """out = clamp(max of in-bounds cells, lo, hi)."""
    bsz, h, w, c = x.shape
    for by in prange(bsz * oh):
        b = by // oh
        y = by % oh
        best = np.empty(c, np.int64)
        for xo in range(ow):
            y0 = y * sh - pt
            x0 = xo * sw - pl
            i0 = max(0, -y0)
            i1 = min(fh, h - y0)
            j0 = max(0, -x0)
            j1 = min(fw, w - x0)
            for cc in range(c):
                best[cc] = lo
            for i in range(i0, i1):
                for j in range(j0, j1):
                    for cc in range(c):
                        v = np.int64(x[b, y0 + i, x0 + j, cc])
                        if v > best[cc]:
                            best[cc] = v
            for cc in range(c):
                out[b, y, xo, cc] = min(best[cc], hi)


class _PoolQuantBase(Kernel):
    def accepts(self, ctx: OpContext) -> bool:
        if not ctx.inputs or ctx.inputs[0] is None:
            return False
        x, out = ctx.inputs[0], ctx.outputs[0]
        return np.dtype(x.dtype) in _QUANT_TYPES and np.dtype(out.dtype) == np.dtype(x.dtype) and x.quant is not None

    def prepare(self, ctx: OpContext) -> PoolQuantParams:
        return pool_quant_prepare(ctx)


@register("AVERAGE_POOL_2D", priority=INT8)
class AveragePool2DQuant(_PoolQuantBase):
    """Average pooling on int8/uint8/int16 (shared input/output quantization)."""

    def eval(self, params: PoolQuantParams, inputs, outputs) -> None:
        p = params
        acc = np.zeros((p.batch, p.win.out_h, p.win.out_w, p.channels), np.int64)
        count = np.zeros((1, p.win.out_h, p.win.out_w, 1), np.int64)
        for vals, ok in _taps(inputs[0].astype(np.int64), p, 0):
            acc += vals
            count += ok
        half = count // 2
        # C division truncates toward zero: round half away from zero by hand
        v = np.where(acc > 0, (acc + half) // count, -((half - acc) // count))
        outputs[0][...] = np.clip(v, p.act_min, p.act_max)

    def eval_jit(self, params: PoolQuantParams, inputs, outputs) -> None:
        p, g = params, params.win
        _kernel(_avg_pool_kernel, p)(inputs[0], g.kh, g.kw, g.sh, g.sw, g.pad_h, g.pad_w, g.out_h, g.out_w,
                                     np.int64(p.act_min), np.int64(p.act_max), outputs[0])


@register("MAX_POOL_2D", priority=INT8)
class MaxPool2DQuant(_PoolQuantBase):
    """Max pooling on int8/uint8/int16 (shared input/output quantization)."""

    def eval(self, params: PoolQuantParams, inputs, outputs) -> None:
        p = params
        lowest = np.iinfo(inputs[0].dtype).min
        best = np.full((p.batch, p.win.out_h, p.win.out_w, p.channels), lowest, np.int64)
        for vals, _ok in _taps(inputs[0].astype(np.int64), p, lowest):
            np.maximum(best, vals, out=best)
        outputs[0][...] = np.clip(best, p.act_min, p.act_max)

    def eval_jit(self, params: PoolQuantParams, inputs, outputs) -> None:
        p, g = params, params.win
        _kernel(_max_pool_kernel, p)(inputs[0], g.kh, g.kw, g.sh, g.sw, g.pad_h, g.pad_w, g.out_h, g.out_w,
                                     np.int64(p.act_min), np.int64(p.act_max), outputs[0])

    def bind(self, params: PoolQuantParams, inputs, outputs):
        """``eval_jit`` as one prepared call (``compute.bound``)."""
        p, g = params, params.win
        return [(_kernel(_max_pool_kernel, p, prepared=True),
                 (inputs[0], g.kh, g.kw, g.sh, g.sw, g.pad_h, g.pad_w, g.out_h, g.out_w,
                  np.int64(p.act_min), np.int64(p.act_max), outputs[0]))]
