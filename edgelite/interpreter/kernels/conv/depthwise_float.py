"""Float32 DEPTHWISE_CONV_2D.

Semantics of TFLite's builtin (``reference_ops::DepthwiseConv``): input NHWC
``[N, H, W, Cin]``, filter ``[1, KH, KW, Cout]`` with ``Cout = Cin * m`` (``m`` the depth
multiplier), optional bias ``[Cout]``::

    out[b, oy, ox, c*m + j] = act(bias[c*m + j] + sum_{ky, kx} x[b, oy*sh - ph + ky*dh,
                                                                 ox*sw - pw + kx*dw, c]
                                                            * w[0, ky, kx, c*m + j])

The multiplier is taken from the shapes (``Cout / Cin``), as LiteRT does; the option's
``depth_multiplier`` is only checked for consistency when it is set.

``eval`` is numpy over the filter taps (one strided slice of the padded input per
tap); ``eval_jit`` is a Numba loop over output rows with channels innermost, so the
per-channel multiply-adds vectorize; with more than one thread, chunks of output rows
are shared with the thread pool (:mod:`~edgelite.interpreter.compute.pool`) when the
layer is big enough.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.conv.depthwise_float import DepthwiseConv2DFloat
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.schema.fb.DepthwiseConv2DOptions import DepthwiseConv2DOptionsT
    >>> o = DepthwiseConv2DOptionsT(); o.strideW = o.strideH = 1; o.depthMultiplier = 1
    >>> f32 = np.dtype(np.float32); w = np.ones((1, 3, 3, 2), np.float32)
    >>> ctx = OpContext("DEPTHWISE_CONV_2D", 0, 1, o, None, None,
    ...     [TensorInfo(0, "x", (1, 3, 3, 2), f32, 0), TensorInfo(1, "w", w.shape, f32, 0, data=w), None],
    ...     [TensorInfo(2, "y", None, f32, 0)])
    >>> k = DepthwiseConv2DFloat(); p = k.prepare(ctx); ctx.output_shapes[0]
    (1, 3, 3, 2)
    >>> out = np.empty((1, 3, 3, 2), np.float32)
    >>> k.eval(p, [np.ones((1, 3, 3, 2), np.float32), w, None], [out])
    >>> out[0, :, :, 0].tolist()   # SAME padding: corners see 4 taps, the centre 9
    [[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgelite.interpreter.compute import float_gemm
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.conv.conv_float import bias_vector, float_conv_window, is_float32, strided_options
from edgelite.interpreter.compute.conv_geometry import Window2D
from edgelite.interpreter.compute import pool
from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.compute.pool import fetch_add


@dataclass(frozen=True)
class DepthwiseParams:
    """What ``eval`` needs for one float DEPTHWISE_CONV_2D."""

    win: Window2D  # kernel, strides, dilations, padding, output size
    multiplier: int
    w: np.ndarray | None  # [KH, KW, Cout] contiguous; None: taken from the input in eval
    bias: np.ndarray  # [Cout], zeros when omitted
    has_bias: bool
    lo: np.float32
    hi: np.float32
    threads: int  # num_threads; the pool decides per call whether the layer is worth splitting
    flops: float  # one invoke's multiply-adds x 2, for that decision


def _depthwise_rows(x, w, bias, lo, hi, out, sh, sw, dh, dw, pad_h, pad_w, mult, n_chunks, ctr):
    """Depthwise conv, TFLite reference semantics; chunks of output rows claimed from
    ``ctr`` by the caller and the thread pool's helpers (:mod:`~edgelite.interpreter.compute.pool`).

    x [N, H, W, Cin], w [KH, KW, Cout], bias [Cout], out [N, OH, OW, Cout];
    out[b, oy, ox, c*m+j] = clamp(bias + sum x[b, iy, ix, c] * w[ky, kx, c*m+j], lo, hi).
    Elements are indexed directly (no per-pixel array views: with few channels the
    view bookkeeping cost more than the arithmetic). A 3x3 window lying wholly inside
    the image, multiplier 1, takes a fused nine-term path that vectorizes over c.
    """
    nb, h, wd, cin = x.shape
    kh, kw, cout = w.shape
    oh = out.shape[1]
    ow = out.shape[2]
    fast = kh == 3 and kw == 3 and mult == 1
    rows = nb * oh
    per = (rows + n_chunks - 1) // n_chunks
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        for r in range(ch * per, min(rows, (ch + 1) * per)):
            b = r // oh
            oy = r - b * oh
            iy0 = oy * sh - pad_h
            i1 = iy0 + dh
            i2 = iy0 + 2 * dh
            rows_inside = fast and iy0 >= 0 and i2 < h
            for ox in range(ow):
                ix0 = ox * sw - pad_w
                j1 = ix0 + dw
                j2 = ix0 + 2 * dw
                if rows_inside and ix0 >= 0 and j2 < wd:
                    for c in range(cout):
                        v = (bias[c]
                             + x[b, iy0, ix0, c] * w[0, 0, c] + x[b, iy0, j1, c] * w[0, 1, c] + x[b, iy0, j2, c] * w[0, 2, c]
                             + x[b, i1, ix0, c] * w[1, 0, c] + x[b, i1, j1, c] * w[1, 1, c] + x[b, i1, j2, c] * w[1, 2, c]
                             + x[b, i2, ix0, c] * w[2, 0, c] + x[b, i2, j1, c] * w[2, 1, c] + x[b, i2, j2, c] * w[2, 2, c])
                        out[b, oy, ox, c] = min(max(v, lo), hi)
                    continue
                for c in range(cout):
                    out[b, oy, ox, c] = bias[c]
                for ky in range(kh):
                    iy = iy0 + ky * dh
                    if iy < 0 or iy >= h:
                        continue
                    for kx in range(kw):
                        ix = ix0 + kx * dw
                        if ix < 0 or ix >= wd:
                            continue
                        if mult == 1:
                            for c in range(cout):
                                out[b, oy, ox, c] += x[b, iy, ix, c] * w[ky, kx, c]
                        else:
                            for c in range(cin):
                                v = x[b, iy, ix, c]
                                for j in range(mult):
                                    out[b, oy, ox, c * mult + j] += v * w[ky, kx, c * mult + j]
                for c in range(cout):
                    out[b, oy, ox, c] = min(max(out[b, oy, ox, c], lo), hi)

        fetch_add(ctr, 1, 1)

_depthwise = njit(_depthwise_rows)


@register("DEPTHWISE_CONV_2D")
class DepthwiseConv2DFloat(Kernel):
    """DEPTHWISE_CONV_2D with float32 input, filter, bias and output."""

    def accepts(self, ctx: OpContext) -> bool:
        return is_float32(ctx, 0, 1, 2)

    def prepare(self, ctx: OpContext) -> DepthwiseParams:
        x, f = ctx.input(0), ctx.input(1)
        o = strided_options(ctx, "DepthwiseConv2DOptions")
        if x.shape is None or len(x.shape) != 4 or f.shape is None or len(f.shape) != 4 or f.shape[0] != 1:
            raise ctx.fail(f"input {x.shape} must be NHWC and filter {f.shape} [1, KH, KW, Cout]")
        n, h, w, cin = x.shape
        _, kh, kw, cout = f.shape
        if cin <= 0 or cout % cin != 0:
            raise ctx.fail(f"filter channels {cout} are not a multiple of input channels {cin}")
        mult = cout // cin
        if o.depthMultiplier not in (0, mult):
            raise ctx.fail(f"depth_multiplier {o.depthMultiplier} does not match shapes ({cin} -> {cout} channels)")
        win, lo, hi = float_conv_window(ctx, n, h, w, kh, kw, cout)
        wdata = None if f.data is None else np.ascontiguousarray(f.data.reshape(kh, kw, cout), np.float32)
        return DepthwiseParams(
            win=win, multiplier=mult, w=wdata,
            bias=bias_vector(ctx, 2, cout), has_bias=ctx.optional_input(2) is not None,
            lo=np.float32(lo), hi=np.float32(hi),
            threads=ctx.num_threads, flops=2.0 * n * win.out_h * win.out_w * cout * kh * kw,
        )

    def eval(self, p: DepthwiseParams, inputs, outputs) -> None:
        x, out = inputs[0], outputs[0]
        cout = out.shape[3]
        w = p.w if p.w is not None else inputs[1].reshape(p.win.kh, p.win.kw, cout)
        # Repeat each input channel m times so channel k of the result pairs with w[..., k].
        xm = np.repeat(x, p.multiplier, axis=3) if p.multiplier > 1 else x
        # LiteRT's order (and eval_jit's): the bias is the initial accumulator, then the
        # taps in (ky, kx) order; a padded tap adds an exact zero.
        acc = np.empty(out.shape, np.float32)
        acc[...] = p.bias if p.has_bias else np.float32(0.0)
        for t, tap in enumerate(p.win.tap_views(xm)):
            acc += tap * w[t // p.win.kw, t % p.win.kw]
        out[...] = acc
        float_gemm.bias_act_inplace(out, None, float(p.lo), float(p.hi))

    def eval_jit(self, p: DepthwiseParams, inputs, outputs) -> None:
        out = outputs[0]
        w = p.w if p.w is not None else np.ascontiguousarray(inputs[1].reshape(p.win.kh, p.win.kw, out.shape[3]))
        rows = out.shape[0] * out.shape[1]
        n_chunks = pool.chunks_for(1e9 * p.flops / float_gemm.STENCIL_FLOPS_PER_SECOND, rows, p.threads)
        pool.run(_depthwise, (inputs[0], w, p.bias, p.lo, p.hi, out, *p.win.taps[2:], p.multiplier, np.int64(n_chunks)),
                 n_chunks, p.threads)
