"""Quantized DEPTHWISE_CONV_2D: int8 (per-channel weights on dim 3), uint8 asymmetric
(TF1-era) and 16x8 (int16 activations, int8 weights, int64 bias).

Arithmetic (``reference_integer_ops/depthwise_conv.h``), output channel
``oc = ic * depth_multiplier + m``::

    acc = bias[oc] + sum_{i, j} (w[0, i, j, oc] - w_zp) * (in[b, y*sh + i*dh - pt,
                                                  x*sw + j*dw - pl, ic] - in_zp)
    out = clamp(MultiplyByQuantizedMultiplier(acc, q[oc], shift[oc]) + out_zp, act range)

The int8/uint8 rounding is the form LiteRT's optimized x86 depthwise kernel was measured
to use (``fixedpoint.gemm_mode``: the second rounding step takes ties toward +inf; a
tie-heavy test pins it); the uint8 kernel matches gemmlowp's form (``default_mode``);
16x8 uses the int64-accumulator form of ``common.h``.
The int8 reference ``eval`` sums the taps of whole shifted views in float32 (exact) and
requantizes with ``int8_numpy``'s one-shift plan; the others sum in int64.
The JIT kernel walks output rows in parallel with the channels innermost (contiguous
in NHWC) and requantizes each pixel as soon as its taps are summed. The common int8
cases (3x3 or 5x5 filter, depth multiplier 1, every multiplier below 1) run the
kernels of :mod:`depthwise_conv_quant_fast` (zero-point-padded scratch, zero point
folded into the bias, long vectorized loops over chunks of pixels).

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> any(type(k).__name__ == "DepthwiseConv2DQuant" for k in kernels_for("DEPTHWISE_CONV_2D"))
    True
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute import depthwise_int8_loops as dwf
from edgelite.interpreter.compute import bound
from edgelite.interpreter.compute import int_gemm
from edgelite.interpreter.compute import int8_numpy
from edgelite.interpreter.compute.lazy import Lazy
from edgelite.interpreter.kernels.base import INT16, INT8, UINT8, OpContext, register
from edgelite.interpreter.kernels.common import QuantizedWeightsKernel, RequantParams, conv_window, quant_operands, require_constant_weights
from edgelite.interpreter.compute.jit import njit, prange, serial_build
from edgelite.interpreter.compute.conv_geometry import Window2D

_INT8 = np.dtype(np.int8)


DEPTHWISE_PARALLEL_MIN_MACS = 2_000_000


@dataclass(frozen=True)
class DepthwiseQuantParams(RequantParams):
    batch: int
    win: Window2D  # kernel, strides, dilations, padding, input and output size
    in_c: int
    mult: int
    out_c: int
    w_centered: np.ndarray  # (KH, KW, OC) int64
    bias: np.ndarray  # (OC,) int64 (zeros when absent)
    num_threads: int
    w_jit: np.ndarray  # (KH, KW, OC) int32 (int64 for 16x8)
    acc_scratch: np.ndarray  # (B*OH, OW, OC) int32 (int64 for 16x8)
    vec_ch: int  # channels [0, vec_ch) round with ``mode``, the rest with ROUND_DOUBLE
    fast_path: bool  # the kernels of depthwise_conv_quant_fast apply
    # the fast kernels' tables and zero-point-padded scratch (empty if unused), made on
    # the first JIT run (``.get()``); None when the fast kernels do not apply
    fast: Lazy[tuple[dwf.FastTables, np.ndarray]] | None = None
    # fast numpy reference path (int8, float32 tap sums, one-shift requantization of
    # channels [0, vec_ch)): else None
    ref_plan: int8_numpy.RequantPlan | None = None


def depthwise_quant_prepare(ctx: OpContext) -> DepthwiseQuantParams:
    x, w = ctx.input(0), ctx.input(1)
    out = ctx.outputs[0]
    if x.shape is None or len(x.shape) != 4 or w.shape is None or len(w.shape) != 4:
        raise ctx.fail("input and filter must be 4-D (NHWC, 1HWO)")
    require_constant_weights(ctx, w)
    b, h, wd, c = x.shape
    _, kh, kw, oc = w.shape
    if oc % c != 0:
        raise ctx.fail(f"filter has {oc} channels, not a multiple of the {c} input channels")
    mult = oc // c
    win, act = conv_window(ctx, h, wd, kh, kw)
    sh, sw, dh, dw = win.sh, win.sw, win.dh, win.dw
    ctx.set_output_shape(0, (b, win.out_h, win.out_w, oc))

    in_dtype = np.dtype(x.dtype)
    qo = quant_operands(ctx, oc, act)
    q, s, in_zp = qo.multiplier, qo.shift, qo.in_zp
    w_centered = np.asarray(w.data).reshape(kh, kw, oc).astype(np.int64) - qo.w_zp
    # int32 sums as LiteRT's int8/uint8 kernels; 16x8 accumulates in int64
    acc_dtype = np.int64 if qo.wide else np.int32
    bias = np.zeros(oc, np.int64) if qo.bias is None else qo.bias
    mode = int_gemm.MODE_WIDE if qo.wide else (fp.default_mode() if qo.legacy else fp.gemm_mode())
    # LiteRT's x86 int8 kernel handles channels in groups of 8 with the ties-up
    # rounding and the last (oc % 8) channels with gemmlowp's (measured, tie-heavy test).
    vec_ch = oc - oc % 8 if (in_dtype == _INT8 and mode == fp.ROUND_DOUBLE_UP) else oc
    fast = in_dtype == _INT8 and dwf.applies(kh, kw, mult, s, mode, w_centered)
    fast_state = None
    if fast:
        hp = max(win.pad_h + h, (win.out_h - 1) * sh + (kh - 1) * dh + 1)
        wp = dwf.scratch_width(wd, win.out_w, kw, sw, dw, win.pad_w)
        planes = sw == 2 and dw == 1
        threads = ctx.num_threads

        def make_fast():
            # made on the first JIT run: the reference kernels (a fresh process's first
            # invoke) read neither the tables nor the scratch
            padded = np.empty((0, 0, 0, 0), np.int8)
            if planes:
                padded = np.full((b, hp, 2, wp // 2, c), in_zp, np.int8)  # borders stay in_zp
            elif win.pad_h or win.pad_w or hp != h or wp != wd:
                padded = np.full((b, hp, wp, c), in_zp, np.int8)
            tables = dwf.plan_fast(w_centered, bias, q, s, mode, vec_ch, in_zp, c, sw, dw, wp, planes,
                                   b * win.out_h, threads)
            return tables, padded

        fast_state = Lazy(make_fast)
    ref_plan = None
    taps_max = kh * kw * (int(np.abs(w_centered).max()) if w_centered.size else 0) * 255
    if in_dtype == _INT8 and not qo.wide and vec_ch > 0 and taps_max < int_gemm.F32_EXACT:
        # float32 sums of (x - in_zp) * w are exact below 2**24
        ref_plan = int8_numpy.plan_requant(bias[:vec_ch], q[:vec_ch], s[:vec_ch], mode, qo.out_zp, qo.act_min,
                                           qo.act_max, acc_bound=taps_max, sum_bound=taps_max + np.abs(bias[:vec_ch]))
    return DepthwiseQuantParams(
        win=win,
        batch=b, in_c=c, mult=mult, out_c=oc, in_zp=in_zp, out_zp=qo.out_zp, act_min=qo.act_min, act_max=qo.act_max,
        multiplier=q, shift=s,
        mode=mode, out_dtype=np.dtype(out.dtype), vec_ch=vec_ch,
        w_centered=np.ascontiguousarray(w_centered), bias=bias, num_threads=ctx.num_threads,
        w_jit=np.ascontiguousarray(w_centered.astype(acc_dtype)),
        acc_scratch=np.zeros((0, 0, 0) if fast else (b * win.out_h, win.out_w, oc), acc_dtype),
        fast_path=fast, fast=fast_state, ref_plan=ref_plan,
    )


def depthwise_acc_reference(x: np.ndarray, p: DepthwiseQuantParams) -> np.ndarray:
    """int64 accumulators ``(B, OH, OW, OC)`` including the bias (numpy)."""
    xc = np.repeat(x.astype(np.int64) - p.in_zp, p.mult, axis=3)  # input channel of each oc
    acc = np.broadcast_to(p.bias, (p.batch, p.win.out_h, p.win.out_w, p.out_c)).copy()
    for t, tap in enumerate(p.win.tap_views(xc)):
        acc += tap * p.w_centered[t // p.win.kw, t % p.win.kw]
    return acc


def _eval_numpy_fast(p: DepthwiseQuantParams, x: np.ndarray, out: np.ndarray) -> None:
    """int8 ``eval`` on whole-array numpy: the taps of ``x - in_zp`` (zeros in the
    padding) summed in float32 (exact: ``|sum| < 2**24``, checked in prepare), then the
    one-shift requantization (``int8_numpy``); channels from ``vec_ch`` on take
    ``ROUND_DOUBLE`` through the general path."""
    xp = int8_numpy.padded_input(x, p.win, 0, np.float32, sub=p.in_zp)
    if p.mult > 1:
        xp = np.repeat(xp, p.mult, axis=3)  # input channel of each output channel
    acc = int8_numpy.tap_sums(xp, p.w_centered.astype(np.float32), p.win)  # exact in any order
    v = p.vec_ch
    if v == p.out_c:
        int8_numpy.requantize_into(acc, p.ref_plan, out)
        return
    int8_numpy.requantize_into(acc[..., :v], p.ref_plan, out[..., :v])
    out[..., v:] = int_gemm.requantize_reference(
        acc[..., v:].astype(np.int64), p.bias[v:], p.multiplier[v:], p.shift[v:], fp.ROUND_DOUBLE,
        p.out_zp, p.act_min, p.act_max, p.out_dtype,
    )


@njit(parallel=True)
def _depthwise_kernel(x, w, bias, mult, sh, sw, dh, dw, pt, pl, oh, ow, in_zp, q, shift, mode, vec_ch, out_zp, lo, hi, acc, out):
    """acc[oc] = sum_{i,j} w[i, j, oc] * (x[b, y*sh + i*dh - pt, x*sw + j*dw - pl, oc // mult] - in_zp)
    (taps outside the input skipped); each output row is then requantized with
    ``bias`` by ``int_gemm.requant_block`` (channels from ``vec_ch`` on with
    ``ROUND_DOUBLE``). Rows in parallel; ``acc`` is a
    ``(B*OH, OW, OC)`` scratch (int32, or int64 for 16x8) so rows never share memory."""
    bsz, h, wdt, c = x.shape
    kh, kw, oc_total = w.shape
    for by in prange(bsz * oh):
        b = by // oh
        y = by % oh
        row = acc[by]
        row[:, :] = 0
        for xo in range(ow):
            a = row[xo]
            for i in range(kh):
                iy = y * sh + i * dh - pt
                if iy < 0 or iy >= h:
                    continue
                for j in range(kw):
                    ix = xo * sw + j * dw - pl
                    if ix < 0 or ix >= wdt:
                        continue
                    xr = x[b, iy, ix]
                    wr = w[i, j]
                    if mult == 1:
                        for cc in range(c):
                            a[cc] += wr[cc] * (xr[cc] - in_zp)
                    else:
                        for cc in range(c):
                            xv = xr[cc] - in_zp
                            for m in range(mult):
                                a[cc * mult + m] += wr[cc * mult + m] * xv
        if vec_ch == oc_total:
            int_gemm.requant_block(row, bias, q, shift, mode, out_zp, lo, hi, out[b, y])
        else:
            orow = out[b, y]
            int_gemm.requant_block(row[:, :vec_ch], bias[:vec_ch], q[:vec_ch], shift[:vec_ch], mode, out_zp, lo, hi, orow[:, :vec_ch])
            int_gemm.requant_block(row[:, vec_ch:], bias[vec_ch:], q[vec_ch:], shift[vec_ch:], 0, out_zp, lo, hi, orow[:, vec_ch:])


class _DepthwiseQuantBase(QuantizedWeightsKernel):
    def prepare(self, ctx: OpContext) -> DepthwiseQuantParams:
        return depthwise_quant_prepare(ctx)

    def eval(self, params: DepthwiseQuantParams, inputs, outputs) -> None:
        p = params
        if p.ref_plan is not None:
            _eval_numpy_fast(p, inputs[0], outputs[0])
            return
        acc = depthwise_acc_reference(inputs[0], p)
        wide = p.mode == int_gemm.MODE_WIDE
        res = int_gemm.requantize_reference(
            acc, None, p.multiplier, p.shift, 0 if wide else p.mode, p.out_zp, p.act_min, p.act_max, p.out_dtype, wide=wide
        )
        if p.vec_ch < p.out_c:
            res[..., p.vec_ch :] = int_gemm.requantize_reference(
                acc[..., p.vec_ch :], None, p.multiplier[p.vec_ch :], p.shift[p.vec_ch :], fp.ROUND_DOUBLE,
                p.out_zp, p.act_min, p.act_max, p.out_dtype,
            )
        outputs[0][...] = res

    def eval_jit(self, params: DepthwiseQuantParams, inputs, outputs) -> None:
        p = params
        calls = self.bind(p, inputs, outputs)  # as the interpreter's plan runs it
        if calls is not None:
            bound.run(calls)
            return
        # Waking OpenMP's sleeping workers costs 40-70 us: split only layers with about
        # 0.25 ms of work or more (~2M multiply-adds on the fast kernels).
        macs = p.batch * p.win.out_h * p.win.out_w * p.out_c * p.win.kh * p.win.kw
        parallel = p.num_threads > 1 and macs >= DEPTHWISE_PARALLEL_MIN_MACS
        if p.fast_path:  # the thread pool decides itself whether the layer is worth splitting
            tables, padded = p.fast.get()
            dwf.run_fast(tables, padded, inputs[0], p.win.pad_h, p.win.pad_w, p.win.sh, p.win.dh, p.win.out_h, p.win.out_w,
                         p.out_zp, p.act_min, p.act_max, outputs[0], p.num_threads)
            return
        zp = p.acc_scratch.dtype.type(p.in_zp)
        kernel = _depthwise_kernel if parallel else serial_build(_depthwise_kernel)
        kernel(
            inputs[0], p.w_jit, p.bias, p.mult, p.win.sh, p.win.sw, p.win.dh, p.win.dw, p.win.pad_h, p.win.pad_w,
            p.win.out_h, p.win.out_w, zp, p.multiplier, p.shift, np.int64(p.mode), p.vec_ch, np.int64(p.out_zp),
            np.int64(p.act_min), np.int64(p.act_max), p.acc_scratch, outputs[0],
        )

    def bind(self, params: DepthwiseQuantParams, inputs, outputs):
        """``eval_jit`` as prepared calls (``compute.bound``)."""
        p = params
        if not bound.contiguous(inputs[0], outputs[0]):
            return None
        if p.fast_path:  # the thread pool's split, worked out once
            tables, padded = p.fast.get()
            return dwf.run_fast_calls(tables, padded, inputs[0], p.win.pad_h, p.win.pad_w, p.win.sh, p.win.dh,
                                      p.win.out_h, p.win.out_w, p.out_zp, p.act_min, p.act_max, outputs[0],
                                      p.num_threads, prepared=True)
        macs = p.batch * p.win.out_h * p.win.out_w * p.out_c * p.win.kh * p.win.kw
        parallel = p.num_threads > 1 and macs >= DEPTHWISE_PARALLEL_MIN_MACS
        zp = p.acc_scratch.dtype.type(p.in_zp)
        kernel = _depthwise_kernel if parallel else bound.Deferred(lambda: serial_build(_depthwise_kernel))
        return [(kernel, (
            inputs[0], p.w_jit, p.bias, p.mult, p.win.sh, p.win.sw, p.win.dh, p.win.dw, p.win.pad_h, p.win.pad_w,
            p.win.out_h, p.win.out_w, zp, p.multiplier, p.shift, np.int64(p.mode), p.vec_ch, np.int64(p.out_zp),
            np.int64(p.act_min), np.int64(p.act_max), p.acc_scratch, outputs[0],
        ))]


@register("DEPTHWISE_CONV_2D", priority=INT8)
class DepthwiseConv2DQuant(_DepthwiseQuantBase):
    """int8 activations, int8 weights (per-tensor or per-channel on dim 3), int32 bias."""


@register("DEPTHWISE_CONV_2D", priority=UINT8)
class DepthwiseConv2DQuantUInt8(_DepthwiseQuantBase):
    """uint8 activations and uint8 asymmetric weights, int32 bias."""


@register("DEPTHWISE_CONV_2D", priority=INT16)
class DepthwiseConv2DQuant16x8(_DepthwiseQuantBase):
    """int16 activations (zero point 0), int8 weights, int64 bias."""
