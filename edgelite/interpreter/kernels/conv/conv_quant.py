"""Quantized CONV_2D: int8 (per-tensor or per-channel weights), uint8 (TF1-era
asymmetric weights) and 16x8 (int16 activations, int8 weights, int64 or int32 bias).

Arithmetic (TFLite quantization spec, ``reference_integer_ops/conv.h``)::

    acc[b, y, x, n] = sum_{i, j, c} (w[n, i, j, c] - w_zp) * (in[b, y*sh + i*dh - pt,
                                      x*sw + j*dw - pl, c] - in_zp)   (0 outside)
                      + bias[n]
    out = clamp(MultiplyByQuantizedMultiplier(acc, q[n], shift[n]) + out_zp, act range)

with ``q, shift`` from ``in_scale * w_scale[n] / out_scale`` (double precision). The
int8 and uint8 kernels follow LiteRT's GEMM-backed rounding, which differs between its
x86 and ARM builds (``platform_rounding.gemm_mode``);
the 16x8 kernel uses the int64-accumulator multiplier of ``common.h``.

The reference ``eval`` (int8) multiplies raw int8 patches exactly on float BLAS and
requantizes in four int64 numpy passes (``int8_numpy``: the fast path of the first
invoke and of machines without Numba); uint8, 16x8 and layers whose bounds that path
cannot prove build centred int64 patches and multiply exactly in float64.
``eval_jit`` builds them with a Numba im2col into float32 and uses a float32 BLAS GEMM
(exact, see ``int_gemm``), folding ``-in_zp * sum(w)`` into the bias, then a parallel
Numba requantization.

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> [type(k).__name__ for k in kernels_for("CONV_2D") if "Quant" in type(k).__name__][:1]
    ['Conv2DQuant']
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import int8_numpy, int_gemm, patches, platform_rounding, simd_gemm
from edgelite.interpreter.compute.conv_geometry import Window2D
from edgelite.interpreter.kernels.base import INT16, INT8, UINT8, OpContext, register
from edgelite.interpreter.kernels.common import QuantizedWeightsKernel, RequantParams, conv2d_window, int32_bias_16x8, quant_operands, require_constant_weights
from edgelite.interpreter.compute import bound


@dataclass(frozen=True)
class ConvQuantParams(RequantParams):
    """Everything ``eval`` needs; computed once in ``prepare``."""

    batch: int
    win: Window2D  # kernel, strides, dilations, padding, input and output size
    in_c: int
    out_c: int
    w_zp: int
    w_centered: np.ndarray  # (N, K) w - w_zp, K ordered (kh, kw, c): int16, or the int8 weights themselves
    bias: np.ndarray | None  # (N,) int64
    # JIT path
    w_gemm_t: np.ndarray  # (K, N) float32 (or float64 for 16x8): raw or centered weights
    bias_jit: np.ndarray  # (N,) int64: bias with the zero-point correction folded in
    jit_sub: int  # value subtracted from the input in the im2col (uint8: in_zp)
    jit_pad: int  # value written for padding cells
    chunk: int
    is_pointwise: bool
    num_threads: int
    cols_buf: np.ndarray  # (M, K) GEMM input scratch, reused by every eval_jit call
    acc_buf: np.ndarray  # (M, N) GEMM output scratch (used when one chunk covers K)
    rq_tables: tuple | None  # int_gemm.fast_requant_tables (one-shift requantization) or None
    # VNNI path (int8 with the one-shift requantization, on AVX-512 VNNI): else None
    vnni_w: simd_gemm.PackedWeights | None  # pack_weights(w, vnni_tile[1]) on first use (.array())
    vnni_tile: tuple[int, int]
    vnni_bias: np.ndarray | None  # (N,) int64: bias - (128 + in_zp) * sum(w)
    vnni_cols: np.ndarray | None  # (M, K rounded up to 4) int8 im2col scratch; None: read the input
    # fast numpy reference path (int8 with a one-shift requantization): else None
    ref_plan: int8_numpy.RequantPlan | None = None


def conv_quant_prepare(ctx: OpContext, depth_weights: np.ndarray | None = None) -> ConvQuantParams:
    """Shared prepare of the quantized CONV_2D kernels."""
    w = ctx.input(1)
    bias_t = ctx.optional_input(2)
    out = ctx.outputs[0]
    win, act, b, c, n = conv2d_window(ctx, "quantized")
    require_constant_weights(ctx, w)
    kh, kw, sh, sw = win.kh, win.kw, win.sh, win.sw

    qo = quant_operands(ctx, n, act)
    wide, legacy, in_zp, w_zp, bias = qo.wide, qo.legacy, qo.in_zp, qo.w_zp, qo.bias
    wdata = np.asarray(w.data).reshape(n, kh * kw * c)
    if wdata.dtype == np.int8 and w_zp == 0:
        w_centered = wdata  # int8 weights as they are: no copy of the whole filter
    else:
        wdata = wdata.astype(np.int64)
        w_centered = (wdata - w_zp).astype(np.int16)  # |w - w_zp| <= 255; 4x smaller than int64
    # x86 and ARM LiteRT differ here, and ARM's one-column products differ from its others
    mode = platform_rounding.gemm_mode(cols=b * win.out_h * win.out_w, rows=n, depth=kh * kw * c,
                                       int8=np.dtype(ctx.input(0).dtype) == np.int8)
    if wide:
        # int64 bias: the 16x8 accumulator form; an int32 one: LiteRT's GEMM path with
        # int32 accumulators
        bias_int32, _ = int32_bias_16x8(ctx, bias_t)
        if not bias_int32:
            mode = int_gemm.MODE_WIDE

    pointwise = kh == 1 and kw == 1 and sh == 1 and sw == 1 and win.pad_h == 0 and win.pad_w == 0
    m_rows = b * win.out_h * win.out_w
    k_depth = kh * kw * c
    rq_tables = int_gemm.fast_requant_tables(qo.multiplier, qo.shift, mode)
    vnni_w = vnni_bias = vnni_cols = None
    vnni_tile = (0, 0)
    w_sum = None if legacy else wdata.sum(axis=1, dtype=np.int64)
    if not legacy and not wide and rq_tables is not None and simd_gemm.usable(k_depth):
        vnni_tile = simd_gemm.choose_tile(m_rows, n)
        # packed when the JIT kernel first runs: a fresh process's first invoke (the
        # reference kernels) never reads them
        vnni_w = simd_gemm.PackedWeights(wdata.astype(np.int8, copy=False), vnni_tile[1])
        vnni_bias = (np.zeros(n, np.int64) if bias is None else bias) + simd_gemm.bias_correction(None, in_zp, sums=w_sum)
        if not (pointwise and k_depth % 4 == 0):
            vnni_cols = np.empty((m_rows, -(-k_depth // 4) * 4), np.int8)

    if legacy:
        # uint8: centre both operands in the im2col; |x - zp|, |w - zp| <= 255.
        w_gemm_t = np.ascontiguousarray(w_centered.T.astype(np.float32))
        bias_jit = np.zeros(n, np.int64) if bias is None else bias.copy()
        jit_sub, jit_pad = in_zp, 0
        chunk = int_gemm.chunk_for(255, 255)
    elif wide:
        w_gemm_t = np.ascontiguousarray(w_centered.T.astype(np.float64))
        bias_jit = np.zeros(n, np.int64) if bias is None else bias.copy()
        bias_jit = bias_jit - in_zp * w_sum
        jit_sub, jit_pad = 0, in_zp
        chunk = 1 << 30
    else:
        # int8: raw values; sum(w * (x - zp)) = sum(w * x) - zp * sum(w); padding holds zp.
        # (The VNNI path keeps no float copy of the weights.)
        w_gemm_t = np.ascontiguousarray(wdata.T.astype(np.float32)) if vnni_w is None else np.empty((0, n), np.float32)
        bias_jit = (np.zeros(n, np.int64) if bias is None else bias) - in_zp * w_sum
        jit_sub, jit_pad = 0, in_zp
        chunk = int_gemm.chunk_for(128, 128)
    ref_plan = None
    if not legacy and not wide:
        # the reference GEMM sums raw int8 values: the zero-point term is in bias_jit
        w_max = (np.maximum(wdata.max(axis=1).astype(np.int64), -wdata.min(axis=1).astype(np.int64)) if k_depth
                 else np.zeros(n, np.int64))
        b_abs = np.zeros(n, np.int64) if bias is None else np.abs(bias)
        ref_plan = int8_numpy.plan_requant(bias_jit, qo.multiplier, qo.shift, mode, qo.out_zp, qo.act_min, qo.act_max,
                                           acc_bound=k_depth * w_max * 128, sum_bound=k_depth * w_max * 255 + b_abs)
    return ConvQuantParams(
        win=win,
        batch=b, in_c=c, out_c=n,
        in_zp=in_zp, w_zp=w_zp, out_zp=qo.out_zp, act_min=qo.act_min, act_max=qo.act_max, multiplier=qo.multiplier,
        shift=qo.shift, mode=mode, out_dtype=np.dtype(out.dtype),
        w_centered=w_centered, bias=bias, bias_jit=bias_jit,
        w_gemm_t=w_gemm_t,
        jit_sub=jit_sub, jit_pad=jit_pad, chunk=chunk, is_pointwise=pointwise, num_threads=ctx.num_threads,
        cols_buf=np.empty((m_rows if vnni_w is None else 0, k_depth), w_gemm_t.dtype),
        acc_buf=np.empty((m_rows, n) if k_depth <= chunk and vnni_w is None else (0, 0), w_gemm_t.dtype),
        rq_tables=rq_tables, vnni_w=vnni_w, vnni_tile=vnni_tile, vnni_bias=vnni_bias, vnni_cols=vnni_cols,
        ref_plan=ref_plan,
    )


def patches_reference(x: np.ndarray, p: ConvQuantParams) -> np.ndarray:
    """``(B*OH*OW, KH*KW*C)`` int64 patches of ``x - in_zp`` (zeros in the padding)."""
    pat = np.stack(p.win.tap_views(x.astype(np.int64) - p.in_zp), axis=3)  # (B, OH, OW, KH*KW, C)
    return pat.reshape(p.batch * p.win.out_h * p.win.out_w, p.win.kh * p.win.kw * p.in_c)


class _ConvQuantBase(QuantizedWeightsKernel):
    # without the VNNI GEMM the integer product runs on float BLAS, outside any Numba region
    blas_parallel = True

    def prepare(self, ctx: OpContext) -> ConvQuantParams:
        return conv_quant_prepare(ctx)

    def eval(self, params: ConvQuantParams, inputs, outputs) -> None:
        p = params
        if p.ref_plan is not None:
            # raw int8 patches (in_zp in the padding) on float BLAS, one-shift requantization
            cols = int8_numpy.im2col(inputs[0], p.win, p.in_zp)
            w_t = p.w_gemm_t if p.w_gemm_t.shape[0] else p.w_centered.T  # w_zp == 0: raw weights
            acc = int8_numpy.exact_gemm(cols, w_t, 128, 128)
            int8_numpy.requantize_into(acc, p.ref_plan, outputs[0])
            return
        pat = patches_reference(inputs[0], p)
        acc = int_gemm.exact_matmul(pat, p.w_centered.T, 1 << 16, 1 << 8)
        res = int_gemm.requantize_reference(
            acc, p.bias, p.multiplier, p.shift, p.mode if p.mode != int_gemm.MODE_WIDE else 0, p.out_zp,
            p.act_min, p.act_max, p.out_dtype, wide=p.mode == int_gemm.MODE_WIDE,
        )
        outputs[0][...] = res.reshape(outputs[0].shape)

    def eval_jit(self, params: ConvQuantParams, inputs, outputs) -> None:
        p = params
        x = inputs[0]
        m = p.batch * p.win.out_h * p.win.out_w
        k = p.win.kh * p.win.kw * p.in_c
        calls = self.bind(p, inputs, outputs)  # the SIMD-GEMM path, as the interpreter's plan runs it
        if calls is not None:
            bound.run(calls)
            return
        if p.vnni_w is not None:
            a = p.vnni_cols
            if a is None:
                a = x.reshape(m, k)
            else:
                patches.im2col_into(x, *p.win.im2col_args, p.in_zp, a, threads=p.num_threads)
            simd_gemm.gemm_requant(a, p.vnni_w.array(), k, p.vnni_tile, p.vnni_bias, p.multiplier, p.rq_tables,
                                   p.out_zp, p.act_min, p.act_max, outputs[0].reshape(m, p.out_c), p.num_threads)
            return
        cols = p.cols_buf
        if p.is_pointwise and p.jit_sub == 0:
            np.copyto(cols, x.reshape(m, k))  # int8 -> float, no allocation
        else:
            patches.im2col_into(x, *p.win.im2col_args, p.jit_pad, cols, sub=p.jit_sub)
        if k <= p.chunk:
            acc = np.matmul(cols, p.w_gemm_t, out=p.acc_buf)
        else:
            acc = int_gemm.matmul_f32_chunked(cols, p.w_gemm_t, p.chunk)
        out2d = outputs[0].reshape(m, p.out_c)
        if p.rq_tables is not None:
            int_gemm.requantize_rows_fast(acc, p.bias_jit, p.multiplier, p.rq_tables, p.out_zp, p.act_min, p.act_max, out2d)
        else:
            int_gemm.requantize_rows_jit(acc, p.bias_jit, p.multiplier, p.shift, p.mode, p.out_zp,
                                         p.act_min, p.act_max, out2d)

    def bind(self, params: ConvQuantParams, inputs, outputs):
        """``eval_jit``'s SIMD-GEMM path as prepared calls (``compute.bound``); None for the others."""
        p = params
        if p.vnni_w is None or not bound.contiguous(inputs[0], outputs[0]):
            return None
        x = inputs[0]
        m = p.batch * p.win.out_h * p.win.out_w
        k = p.win.kh * p.win.kw * p.in_c
        calls = []
        a = p.vnni_cols
        if a is None:
            a = x.reshape(m, k)
        else:
            calls.append(patches.im2col_call(x, *p.win.im2col_args, p.in_zp, a, threads=p.num_threads, prepared=True))
        calls.append(simd_gemm.gemm_requant_call(a, p.vnni_w.array(), k, p.vnni_tile, p.vnni_bias, p.multiplier, p.rq_tables,
                                                 p.out_zp, p.act_min, p.act_max, outputs[0].reshape(m, p.out_c),
                                                 p.num_threads))
        return calls


@register("CONV_2D", priority=INT8)
class Conv2DQuant(_ConvQuantBase):
    """int8 activations, int8 weights (per-tensor or per-channel on dim 0), int32 bias."""


@register("CONV_2D", priority=UINT8)
class Conv2DQuantUInt8(_ConvQuantBase):
    """uint8 activations and uint8 asymmetric weights (per-tensor), int32 bias."""


@register("CONV_2D", priority=INT16)
class Conv2DQuant16x8(_ConvQuantBase):
    """int16 activations (zero point 0), int8 weights, int64 (or int32) bias."""
