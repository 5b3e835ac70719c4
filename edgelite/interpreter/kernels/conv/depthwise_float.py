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
tap); ``eval_jit`` is a Numba loop over output rows; with more than one thread, chunks
of output rows are shared with the thread pool (:mod:`~edgelite.interpreter.compute.pool`)
when the layer is big enough. For 3x3 and 5x5 filters with multiplier 1, the pixels
whose window lies inside the image are computed as long flat loops over a row's values
(weights and bias tiled to the run's length in ``prepare``, two output rows per pass for 3x3
at stride 1): with few channels (16, 32) a loop per pixel cost more than its
arithmetic. Every element is summed in the same order (bias, then the taps in
``(ky, kx)`` order, no fused multiply-add), so all paths give the same bits.

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


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import bound, float_gemm
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
    wt: np.ndarray  # (k*k, m*C) weights tiled for the interior runs (tile_weights); (0, 0): none
    bt: np.ndarray  # (m*C,) bias tiled likewise


def tile_weights(w: np.ndarray, bias: np.ndarray, k: int, mult: int, ow: int) -> tuple[np.ndarray, np.ndarray]:
    """The fast rows' tables: ``(wt, bt)`` with ``wt[ky*k + kx, t] = w[ky, kx, t % C]`` and
    ``bt[t] = bias[t % C]`` for ``t < m*C``, ``m`` output pixels per chunk (about 512
    values, so the k*k weight rows stay in L1). Empty (``(0, 0)``, ``(0,)``) when the fast
    rows do not apply: filters other than 3x3 / 5x5, multiplier > 1, weights given at run time.
    """
    if w is None or mult != 1 or w.shape[0] != w.shape[1] or k not in (3, 5):
        return np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
    c = w.shape[2]
    m = max(1, min(ow, 512 // c))
    wt = np.ascontiguousarray(np.tile(w.reshape(k * k, c), (1, m)), np.float32)
    return wt, np.ascontiguousarray(np.tile(bias, m), np.float32)


def _depthwise_rows(x, w, wt, bt, bias, lo, hi, out, sh, sw, dh, dw, pad_h, pad_w, mult, n_chunks, ctr):
    """Depthwise conv, TFLite reference semantics; chunks of output rows claimed from
    ``ctr`` by the caller and the thread pool's helpers (:mod:`~edgelite.interpreter.compute.pool`).

    x [N, H, W, Cin], w [KH, KW, Cout], bias [Cout], out [N, OH, OW, Cout];
    out[b, oy, ox, c*m+j] = clamp(bias + sum x[b, iy, ix, c] * w[ky, kx, c*m+j], lo, hi),
    the sum taken left to right from the bias in (ky, kx) order (LiteRT's order).

    Rows whose k input rows lie inside the image (3x3 and 5x5, multiplier 1, ``wt``
    not empty: :func:`tile_weights`) take :func:`_interior_run` over the pixels whose
    window lies inside the image too; the other pixels and rows take the general
    per-pixel loop, which skips the taps that fall outside the image (a padded tap is
    not an added zero: that would turn -0.0 into +0.0 and inf * 0 into NaN).
    """
    nb, h, wd, cin = x.shape
    kh, kw, cout = w.shape
    oh = out.shape[1]
    ow = out.shape[2]
    fast = wt.shape[1] > 0
    # [ox_lo, ox_hi): the output columns whose kw input columns are all inside the image
    ox_lo = min(ow, (pad_w + sw - 1) // sw)
    ox_hi = max(ox_lo, min(ow, (wd - 1 + pad_w - (kw - 1) * dw) // sw + 1))  # floor division
    xf = x.reshape(nb, h, wd * cin)
    of = out.reshape(nb, oh, ow * cout)
    rows = nb * oh
    per = (rows + n_chunks - 1) // n_chunks
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        r = ch * per
        r_end = min(rows, (ch + 1) * per)
        while r < r_end:
            b = r // oh
            oy = r - b * oh
            iy0 = oy * sh - pad_h
            if fast and iy0 >= 0 and iy0 + (kh - 1) * dh < h:
                # the next row too when it is in this chunk and image and fast as well. Not
                # at strides > 1 with 16 to 23 channels: there the two-row loop over C ran
                # 2-4x slower than two one-row loops (measured; elsewhere it gains 1.2x)
                pair = (r + 1 < r_end and oy + 1 < oh and iy0 + sh + (kh - 1) * dh < h
                        and (sw == 1 or cout < 16 or cout >= 24))
                _interior_run(xf, wt, bt, lo, hi, of, b, oy, iy0, pair, sh, sw, dh, dw, pad_w, kh, cout, ox_lo, ox_hi)
                for q in range(2 if pair else 1):
                    _pixels(x, w, bias, lo, hi, out, b, oy + q, iy0 + q * sh, sw, dh, dw, pad_w, mult, 0, ox_lo)
                    _pixels(x, w, bias, lo, hi, out, b, oy + q, iy0 + q * sh, sw, dh, dw, pad_w, mult, ox_hi, ow)
                r += 2 if pair else 1
            else:
                _pixels(x, w, bias, lo, hi, out, b, oy, iy0, sw, dh, dw, pad_w, mult, 0, ow)
                r += 1
        fetch_add(ctr, 1, 1)


@njit
def _pixels(x, w, bias, lo, hi, out, b, oy, iy0, sw, dh, dw, pad_w, mult, ox0, ox1):
    """Output pixels ``[ox0, ox1)`` of row ``oy``, one at a time, skipping the taps
    outside the image: ``out = bias``, then ``out += x * w`` per tap in (ky, kx) order."""
    h = x.shape[1]
    wd = x.shape[2]
    cin = x.shape[3]
    kh, kw, cout = w.shape
    for ox in range(ox0, ox1):
        ix0 = ox * sw - pad_w
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


@njit
def _interior_run(xf, wt, bt, lo, hi, of, b, oy, iy0, pair, sh, sw, dh, dw, pad_w, k, c, ox_lo, ox_hi):
    """Output pixels ``[ox_lo, ox_hi)`` of row ``oy`` (and of row ``oy + 1`` when
    ``pair``) whose k x k window lies inside the image (multiplier 1), on the flat rows
    ``xf[b, iy] = x[b, iy].ravel()``::

        v = bt[t] + x(0, 0) * wt[0, t] + x(0, 1) * wt[1, t] + ... + x(k-1, k-1) * wt[k*k-1, t]
        out = min(max(v, lo), hi)

    summed left to right: the same roundings as the general loop. Stride 1: the taps
    of neighbouring pixels are neighbours, so a chunk of ``m`` pixels is one long loop
    over ``m*C`` values (``wt``, ``bt`` tiled ``m`` times); other strides: one loop over
    the ``C`` channels per pixel. Two rows at once load each weight once for both.
    """
    oa = of[b, oy]
    t1 = dw * c
    if k == 3:
        x0 = xf[b, iy0]
        x1 = xf[b, iy0 + dh]
        x2 = xf[b, iy0 + 2 * dh]
        if sw == 1:
            step = wt.shape[1] // c
            ob = of[b, oy + 1] if pair else oa
            y0 = xf[b, iy0 + sh] if pair else x0  # row oy + 1's input rows
            y1 = xf[b, iy0 + sh + dh] if pair else x1
            y2 = xf[b, iy0 + sh + 2 * dh] if pair else x2
            xo = ox_lo
            while xo < ox_hi:
                n = min(step, ox_hi - xo) * c  # n pixels as one run of n*C values
                if pair and sh == dh:  # the rows overlap: the same arrays, so shared loads
                    _run3x2(x0, x1, x2, x1, x2, y2, wt, bt, lo, hi, oa, ob, (xo - pad_w) * c, xo * c, n, t1)
                elif pair:
                    _run3x2(x0, x1, x2, y0, y1, y2, wt, bt, lo, hi, oa, ob, (xo - pad_w) * c, xo * c, n, t1)
                else:
                    _run3(x0, x1, x2, wt, bt, lo, hi, oa, (xo - pad_w) * c, xo * c, n, t1)
                xo += step
        # Other strides: one run of the C channels per pixel, written out here. The same
        # loop as _run3x2 / _run3 called with n = C per pixel ran 1.2-4x slower (sixth
        # session, 96x96x16 and 112x112x96 at stride 2: the call per pixel is not inlined).
        elif pair:
            ob = of[b, oy + 1]
            y0 = xf[b, iy0 + sh]
            y1 = xf[b, iy0 + sh + dh]
            y2 = xf[b, iy0 + sh + 2 * dh]
            t2 = 2 * t1
            for xo in range(ox_lo, ox_hi):
                o0 = xo * c
                i0 = (xo * sw - pad_w) * c
                for t in range(c):
                    u = np.uint64(t)
                    j0 = np.uint64(i0 + t)
                    j1 = np.uint64(i0 + t1 + t)
                    j2 = np.uint64(i0 + t2 + t)
                    w0 = wt[0, u]
                    w1 = wt[1, u]
                    w2 = wt[2, u]
                    w3 = wt[3, u]
                    w4 = wt[4, u]
                    w5 = wt[5, u]
                    w6 = wt[6, u]
                    w7 = wt[7, u]
                    w8 = wt[8, u]
                    bb = bt[u]
                    va = (bb + x0[j0] * w0 + x0[j1] * w1 + x0[j2] * w2
                          + x1[j0] * w3 + x1[j1] * w4 + x1[j2] * w5
                          + x2[j0] * w6 + x2[j1] * w7 + x2[j2] * w8)
                    vb = (bb + y0[j0] * w0 + y0[j1] * w1 + y0[j2] * w2
                          + y1[j0] * w3 + y1[j1] * w4 + y1[j2] * w5
                          + y2[j0] * w6 + y2[j1] * w7 + y2[j2] * w8)
                    oa[np.uint64(o0 + t)] = min(max(va, lo), hi)
                    ob[np.uint64(o0 + t)] = min(max(vb, lo), hi)
        else:
            t2 = 2 * t1
            for xo in range(ox_lo, ox_hi):
                o0 = xo * c
                i0 = (xo * sw - pad_w) * c
                for t in range(c):
                    u = np.uint64(t)
                    j0 = np.uint64(i0 + t)
                    j1 = np.uint64(i0 + t1 + t)
                    j2 = np.uint64(i0 + t2 + t)
                    v = (bt[u]
                         + x0[j0] * wt[0, u] + x0[j1] * wt[1, u] + x0[j2] * wt[2, u]
                         + x1[j0] * wt[3, u] + x1[j1] * wt[4, u] + x1[j2] * wt[5, u]
                         + x2[j0] * wt[6, u] + x2[j1] * wt[7, u] + x2[j2] * wt[8, u])
                    oa[np.uint64(o0 + t)] = min(max(v, lo), hi)
    else:
        step = wt.shape[1] // c if sw == 1 else 1
        for q in range(2 if pair else 1):
            iy = iy0 + q * sh
            x0 = xf[b, iy]
            x1 = xf[b, iy + dh]
            x2 = xf[b, iy + 2 * dh]
            x3 = xf[b, iy + 3 * dh]
            x4 = xf[b, iy + 4 * dh]
            orow = of[b, oy + q]
            xo = ox_lo
            while xo < ox_hi:
                n = min(step, ox_hi - xo) * c  # stride 1: n pixels as one run of n*C values
                _run5(x0, x1, x2, x3, x4, wt, bt, lo, hi, orow, (xo * sw - pad_w) * c, xo * c, n, t1)
                xo += step


@njit
def _run3(x0, x1, x2, wt, bt, lo, hi, orow, i0, o0, n, t1):
    """``n`` values of one output row, 3x3 (see :func:`_interior_run`); unsigned indices
    spare Numba's negative-index fix-ups."""
    for t in range(n):
        u = np.uint64(t)
        j0 = np.uint64(i0 + t)
        j1 = np.uint64(i0 + t1 + t)
        j2 = np.uint64(i0 + 2 * t1 + t)
        v = (bt[u]
             + x0[j0] * wt[0, u] + x0[j1] * wt[1, u] + x0[j2] * wt[2, u]
             + x1[j0] * wt[3, u] + x1[j1] * wt[4, u] + x1[j2] * wt[5, u]
             + x2[j0] * wt[6, u] + x2[j1] * wt[7, u] + x2[j2] * wt[8, u])
        orow[np.uint64(o0 + t)] = min(max(v, lo), hi)


@njit
def _run3x2(x0, x1, x2, y0, y1, y2, wt, bt, lo, hi, oa, ob, i0, o0, n, t1):
    """As :func:`_run3` for two output rows (input rows ``x*`` and ``y*``) in one pass,
    both sums computed before either store, so each weight is loaded once."""
    for t in range(n):
        u = np.uint64(t)
        j0 = np.uint64(i0 + t)
        j1 = np.uint64(i0 + t1 + t)
        j2 = np.uint64(i0 + 2 * t1 + t)
        w0 = wt[0, u]
        w1 = wt[1, u]
        w2 = wt[2, u]
        w3 = wt[3, u]
        w4 = wt[4, u]
        w5 = wt[5, u]
        w6 = wt[6, u]
        w7 = wt[7, u]
        w8 = wt[8, u]
        bb = bt[u]
        va = (bb + x0[j0] * w0 + x0[j1] * w1 + x0[j2] * w2
              + x1[j0] * w3 + x1[j1] * w4 + x1[j2] * w5
              + x2[j0] * w6 + x2[j1] * w7 + x2[j2] * w8)
        vb = (bb + y0[j0] * w0 + y0[j1] * w1 + y0[j2] * w2
              + y1[j0] * w3 + y1[j1] * w4 + y1[j2] * w5
              + y2[j0] * w6 + y2[j1] * w7 + y2[j2] * w8)
        oa[np.uint64(o0 + t)] = min(max(va, lo), hi)
        ob[np.uint64(o0 + t)] = min(max(vb, lo), hi)


@njit
def _run5(x0, x1, x2, x3, x4, wt, bt, lo, hi, orow, i0, o0, n, t1):
    """``n`` values of one output row, 5x5 (see :func:`_interior_run`)."""
    for t in range(n):
        u = np.uint64(t)
        j0 = np.uint64(i0 + t)
        j1 = np.uint64(i0 + t1 + t)
        j2 = np.uint64(i0 + 2 * t1 + t)
        j3 = np.uint64(i0 + 3 * t1 + t)
        j4 = np.uint64(i0 + 4 * t1 + t)
        v = _row5(bt[u], wt, 0, x0, j0, j1, j2, j3, j4, u)
        v = _row5(v, wt, 1, x1, j0, j1, j2, j3, j4, u)
        v = _row5(v, wt, 2, x2, j0, j1, j2, j3, j4, u)
        v = _row5(v, wt, 3, x3, j0, j1, j2, j3, j4, u)
        v = _row5(v, wt, 4, x4, j0, j1, j2, j3, j4, u)
        orow[np.uint64(o0 + t)] = min(max(v, lo), hi)


@njit
def _row5(acc, wt, r, xr, i0, i1, i2, i3, i4, u):
    """``acc`` plus the five taps of filter row ``r``, added one by one (left to right)."""
    return (acc + xr[i0] * wt[5 * r, u] + xr[i1] * wt[5 * r + 1, u] + xr[i2] * wt[5 * r + 2, u]
            + xr[i3] * wt[5 * r + 3, u] + xr[i4] * wt[5 * r + 4, u])


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
        bias = bias_vector(ctx, 2, cout)
        wt, bt = tile_weights(wdata, bias, kh, mult, win.out_w)
        return DepthwiseParams(
            win=win, multiplier=mult, w=wdata, wt=wt, bt=bt,
            bias=bias, has_bias=ctx.optional_input(2) is not None,
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

    def bind(self, p: DepthwiseParams, inputs, outputs):
        """``eval_jit`` as one prepared call (``compute.bound``): its row chunks worked out
        once, for the helpers waiting in native code; None when the weights come at run
        time or the input is not contiguous."""
        x, out = inputs[0], outputs[0]
        if p.w is None or not bound.contiguous(x, out):
            return None
        rows = out.shape[0] * out.shape[1]
        n_chunks = pool.chunks_for(1e9 * p.flops / float_gemm.STENCIL_FLOPS_PER_SECOND, rows, p.threads, prepared=True)
        return [bound.pooled(_depthwise, (x, p.w, p.wt, p.bt, p.bias, p.lo, p.hi, out, *p.win.taps[2:], p.multiplier,
                                          np.int64(n_chunks)), n_chunks, p.threads)]

    def eval_jit(self, p: DepthwiseParams, inputs, outputs) -> None:
        out = outputs[0]
        x = inputs[0] if inputs[0].flags.c_contiguous else np.ascontiguousarray(inputs[0])  # the kernel reshapes it
        w = p.w if p.w is not None else np.ascontiguousarray(inputs[1].reshape(p.win.kh, p.win.kw, out.shape[3]))
        rows = out.shape[0] * out.shape[1]
        n_chunks = pool.chunks_for(1e9 * p.flops / float_gemm.STENCIL_FLOPS_PER_SECOND, rows, p.threads)
        pool.run(_depthwise, (x, w, p.wt, p.bt, p.bias, p.lo, p.hi, out, *p.win.taps[2:], p.multiplier,
                              np.int64(n_chunks)), n_chunks, p.threads)
