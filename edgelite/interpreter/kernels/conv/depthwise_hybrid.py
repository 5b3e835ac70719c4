"""Hybrid DEPTHWISE_CONV_2D: float32 input and output, int8 constant filter
(per-tensor or per-channel scales on dim 3), float32 bias.

LiteRT (``depthwise_conv.cc`` ``EvalHybridPerChannel``) always quantizes each batch
of the input *asymmetrically* (``hybrid_common``), then for output channel
``oc = ic * depth_multiplier + m``::

    acc = sum_{i, j} w[0, i, j, oc] * (q[b, y*sh + i*dh - pt, x*sw + j*dw - pl, ic] - zp[b])
    out = (float32(acc) * w_scale[oc]) * s[b] + bias[oc]   # oc < OC - OC % 4
    out = (float32(acc) * s[b]) * w_scale[oc] + bias[oc]   # the last OC % 4 channels

(taps outside the input are skipped), all in float32 in the order shown (the
optimized kernel's vector loop over groups of 4 channels, then its scalar tail), then
the fused float activation. ``eval_jit`` computes the same in one Numba loop (the
input quantized by ``hybrid_common.quantize_rows_jit``), the same float32 operations
in the same order.

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> any(type(k).__name__ == "DepthwiseConv2DHybrid" for k in kernels_for("DEPTHWISE_CONV_2D"))
    True
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import dynamic_range as hc
from edgelite.interpreter.kernels.base import HYBRID, Kernel, OpContext, register
from edgelite.interpreter.compute.conv_geometry import Window2D, activation_range
from edgelite.interpreter.kernels.common import conv_window
from edgelite.interpreter.kernels.matmul.fully_connected_hybrid import hybrid_scales_and_bias, is_hybrid
from edgelite.interpreter.compute.jit import njit, prange


@dataclass(frozen=True)
class DepthwiseHybridParams:
    win: Window2D  # kernel, strides, dilations, padding, input and output size
    mult: int
    w: np.ndarray  # (KH, KW, OC) int32
    w_scale: np.ndarray  # (OC,) float32
    bias: np.ndarray | None
    lo: float
    hi: float
    num_threads: int = 1


@register("DEPTHWISE_CONV_2D", priority=HYBRID)
class DepthwiseConv2DHybrid(Kernel):
    """float32 activations, int8 filter (dynamic-range quantized model), float32 bias."""

    def accepts(self, ctx: OpContext) -> bool:
        b = ctx.optional_input(2)
        return is_hybrid(ctx) and (b is None or np.dtype(b.dtype) == hc.F32)

    def prepare(self, ctx: OpContext) -> DepthwiseHybridParams:
        x, w = ctx.input(0), ctx.input(1)
        if x.shape is None or len(x.shape) != 4 or w.shape is None or len(w.shape) != 4 or w.shape[0] != 1:
            raise ctx.fail("input and filter must be 4-D (NHWC, 1HWO)")
        b, h, wd, c = x.shape
        _, kh, kw, oc = w.shape
        if oc % c != 0:
            raise ctx.fail(f"filter has {oc} channels, not a multiple of the {c} input channels")
        win, act = conv_window(ctx, h, wd, kh, kw)
        sh, sw, dh, dw = win.sh, win.sw, win.dh, win.dw
        ctx.set_output_shape(0, (b, win.out_h, win.out_w, oc))
        lo, hi = activation_range(act, ctx.op_name, strict=False)
        scales, _, bias = hybrid_scales_and_bias(ctx, w, oc, "filter")
        return DepthwiseHybridParams(
            win=win, mult=oc // c,
            w=np.asarray(w.data, np.int8).reshape(kh, kw, oc).astype(np.int32), w_scale=scales, bias=bias,
            lo=float(lo), hi=float(hi), num_threads=ctx.num_threads,
        )

    def eval(self, p: DepthwiseHybridParams, inputs, outputs) -> None:
        x = inputs[0]
        centred, s, _ = hc.quantize_batches(x, True)
        if p.mult > 1:
            centred = np.repeat(centred, p.mult, axis=3)
        pat = hc.patches(centred, *p.win.im2col_args)
        acc = np.einsum("bhwtc,tc->bhwc", pat.astype(np.int64), p.w.reshape(p.win.kh * p.win.kw, -1))
        acc = hc.int_gemm_wrap32(acc).astype(np.float32)
        # Two float32 products, not folded into one scale first (LiteRT's CONV_2D folds
        # them): channels in whole groups of 4 (its vector loop) take (acc * w_scale) * s,
        # the last oc % 4 channels (its scalar loop) take (acc * s) * w_scale.
        s4 = s.astype(np.float32)[:, None, None, None]
        vec = (acc.shape[3] // 4) * 4
        res = np.empty(acc.shape, np.float32)
        res[..., :vec] = (acc[..., :vec] * p.w_scale[:vec]).astype(np.float32) * s4
        res[..., vec:] = (acc[..., vec:] * s4).astype(np.float32) * p.w_scale[vec:]
        outputs[0][...] = hc.float_epilogue(res, p.bias, p.lo, p.hi)

    def eval_jit(self, p: DepthwiseHybridParams, inputs, outputs) -> None:
        """``eval`` as one Numba loop over output rows (same integers, same float order)."""
        x = inputs[0]
        b = x.shape[0]
        q, s, zp = hc.quantize_rows_jit(x.reshape(b, -1), True)
        oc = p.w.shape[2]
        bias = p.bias if p.bias is not None else np.zeros(oc, np.float32)
        _depthwise_hybrid(q.reshape(x.shape), zp, p.w, p.win.sh, p.win.sw, p.win.dh, p.win.dw, p.win.pad_h, p.win.pad_w, p.mult,
                          p.w_scale, s, bias, np.float32(p.lo), np.float32(p.hi), (oc // 4) * 4, outputs[0])


@njit(parallel=True)
def _depthwise_hybrid(q, zp, w, sh, sw, dh, dw, pt, pl, mult, w_scale, s, bias, lo, hi, vec, out):
    """The module docstring's formula for int8 ``q`` (NHWC), zero points ``zp[b]``, the
    int32 filter ``w (KH, KW, OC)``, float32 scales and bias, into float32 ``out``::

        acc = sum_{taps inside} w[i, j, oc] * (q[b, iy, ix, oc // mult] - zp[b])
        r = (f32(acc) * w_scale[oc]) * s[b]  if oc < vec  else  (f32(acc) * s[b]) * w_scale[oc]
        out = clamp(r + bias[oc], lo, hi)

    ``acc`` is int32 and wraps as LiteRT's int32 accumulator does (sums modulo 2**32
    do not depend on the order); 32-bit lanes vectorize twice as wide as int64 ones.
    """
    bsz, h, wd, _ = q.shape
    kh, kw, oc_n = w.shape
    _, oh, ow, _ = out.shape
    for by in prange(bsz * oh):
        b = by // oh
        y = by % oh
        z = np.int32(zp[b])
        sb = s[b]
        acc = np.empty(oc_n, np.int32)
        for xo in range(ow):
            acc[:] = 0
            for i in range(kh):
                iy = y * sh + i * dh - pt
                if iy < 0 or iy >= h:
                    continue
                for j in range(kw):
                    ix = xo * sw + j * dw - pl
                    if ix < 0 or ix >= wd:
                        continue
                    src = q[b, iy, ix]
                    wij = w[i, j]
                    if mult == 1:
                        for oc in range(oc_n):
                            acc[oc] += wij[oc] * (np.int32(src[oc]) - z)
                    else:
                        for oc in range(oc_n):
                            acc[oc] += wij[oc] * (np.int32(src[oc // mult]) - z)
            dst = out[b, y, xo]
            for oc in range(vec):
                r = (np.float32(acc[oc]) * w_scale[oc]) * sb + bias[oc]
                r = lo if r < lo else r
                r = hi if r > hi else r
                dst[oc] = r
            for oc in range(vec, oc_n):
                r = (np.float32(acc[oc]) * sb) * w_scale[oc] + bias[oc]
                r = lo if r < lo else r
                r = hi if r > hi else r
                dst[oc] = r
