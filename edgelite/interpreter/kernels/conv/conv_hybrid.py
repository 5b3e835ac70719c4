"""Hybrid CONV_2D: float32 input and output, int8 constant filter (per-tensor or
per-channel scales on dim 0), float32 bias.

LiteRT (``conv.cc``) picks one of two forms in prepare:

* the filter's scales are all equal (per-tensor, or per-channel with one value):
  ``EvalHybrid`` quantizes each batch *symmetrically* (one scale per batch) and
  writes ``float32(acc) * (s[b] * w_scale) + bias``;
* the scales differ: ``EvalHybridPerChannel`` quantizes each batch
  *asymmetrically* and writes ``float32(acc) * (w_scale[n] * s[b]) + bias``;

where ``acc = sum w * (q - zp)`` over the window (padding contributes nothing) is an
exact int32 sum, then the fused float activation. See ``hybrid_common`` for the
quantizers.

With Numba on a CPU with AVX-512 VNNI, ``eval_jit`` gathers int8 patches of the
quantized input (padding holds the batch's zero point) and takes the int32 sums from
``simd_gemm.gemm_int32`` (exact, so the result is the same bit for bit); prepare then
keeps only the packed filter. Elsewhere both run the float32-BLAS product below.

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> any(type(k).__name__ == "Conv2DHybrid" for k in kernels_for("CONV_2D"))
    True
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import dynamic_range as hc
from edgelite.interpreter.compute import int_gemm, patches
from edgelite.interpreter.kernels.base import HYBRID, Kernel, OpContext, register
from edgelite.interpreter.compute.conv_geometry import Window2D, activation_range
from edgelite.interpreter.kernels.common import conv2d_window
from edgelite.interpreter.kernels.matmul.fully_connected_hybrid import hybrid_scales_and_bias, is_hybrid


@dataclass(frozen=True)
class Conv2DHybridParams:
    win: Window2D  # kernel, strides, dilations, padding, input and output size
    out_c: int
    asymmetric: bool  # the per-channel (asymmetric input) form
    w_gemm_t: np.ndarray  # (KH*KW*C, N) float32 holding the int8 filter; (0, N) when vnni is set
    w_int8: np.ndarray  # (N, KH*KW*C) the filter as stored
    w_scale: np.ndarray  # (N,) float32
    bias: np.ndarray | None
    lo: float
    hi: float
    chunk: int
    num_threads: int = 1
    vnni: hc.VnniWeights | None = None  # the VNNI product (eval_jit) is used
    vnni_cols: np.ndarray | None = None  # (B*OH*OW, K rounded up to 4) int8 patches; None: read the input
    vnni_acc: np.ndarray | None = None  # (B*OH*OW, N) int32


@register("CONV_2D", priority=HYBRID)
class Conv2DHybrid(Kernel):
    """float32 activations, int8 filter (dynamic-range quantized model), float32 bias."""

    def accepts(self, ctx: OpContext) -> bool:
        b = ctx.optional_input(2)
        return is_hybrid(ctx) and (b is None or np.dtype(b.dtype) == hc.F32)

    def prepare(self, ctx: OpContext) -> Conv2DHybridParams:
        w = ctx.input(1)
        win, act, b, c, n = conv2d_window(ctx, "hybrid")
        kh, kw, sh, sw = win.kh, win.kw, win.sh, win.sw
        lo, hi = activation_range(act, ctx.op_name, strict=False)
        scales, _, bias = hybrid_scales_and_bias(ctx, w, n, "filter")
        distinct = bool(np.any(scales != scales[0]))
        k = kh * kw * c
        wdata = np.asarray(w.data, np.int8).reshape(n, k)
        rows = win.out_h * win.out_w
        vnni = hc.vnni_weights(wdata, rows, ctx.use_jit)
        cols = acc = None
        if vnni is not None:
            direct = kh == 1 and kw == 1 and sh == 1 and sw == 1 and k % 4 == 0
            if not direct:  # 1x1 stride-1 windows never reach the padding: the input is the patch matrix
                cols = np.zeros((b * rows, -(-k // 4) * 4), np.int8)
            acc = np.empty((b * rows, n), np.int32)
        return Conv2DHybridParams(
            win=win, out_c=n, asymmetric=distinct,
            w_gemm_t=np.ascontiguousarray(wdata.T.astype(np.float32)) if vnni is None else np.empty((0, n), np.float32),
            w_int8=wdata, w_scale=scales, bias=bias, lo=float(lo), hi=float(hi), chunk=int_gemm.chunk_for(255, 127),
            num_threads=ctx.num_threads, vnni=vnni, vnni_cols=cols, vnni_acc=acc,
        )

    def eval(self, p: Conv2DHybridParams, inputs, outputs) -> None:
        x = inputs[0]
        b = x.shape[0]
        centred, s, _ = hc.quantize_batches(x, p.asymmetric)
        pat = hc.patches(centred, *p.win.im2col_args)
        rows = p.win.out_h * p.win.out_w
        w_t = p.w_gemm_t if p.vnni is None else p.w_int8.T.astype(np.float32)  # params of eval_jit's prepare
        acc = int_gemm.matmul_f32_chunked(pat.reshape(b * rows, -1).astype(np.float32), w_t, p.chunk)
        acc = np.asarray(acc).astype(np.int64)
        row_scale = np.repeat(s, rows)
        if p.asymmetric:
            res = hc.scale_accumulators(acc, row_scale, p.w_scale)
        else:
            res = hc.scale_accumulators(acc, (row_scale * p.w_scale[0]).astype(np.float32), None)
        outputs[0][...] = hc.float_epilogue(res, p.bias, p.lo, p.hi).reshape(outputs[0].shape)

    def eval_jit(self, p: Conv2DHybridParams, inputs, outputs) -> None:
        """``eval`` with the integer product on the VNNI kernels (when prepare packed them)."""
        if p.vnni is None:
            self.eval(p, inputs, outputs)
            return
        x = inputs[0]
        b = x.shape[0]
        q, s, zp = hc.quantize_rows_jit(x.reshape(b, -1), p.asymmetric)
        q4 = q.reshape(x.shape)
        rows = p.win.out_h * p.win.out_w
        k = p.vnni.depth
        out2d = outputs[0].reshape(b * rows, p.out_c)
        for i in range(b):
            r0, r1 = i * rows, (i + 1) * rows
            z = int(zp[i])
            if p.vnni_cols is None:
                a = q[i].reshape(rows, k)
            else:
                a = p.vnni_cols[r0:r1]
                # padding holds the zero point, so it adds nothing to sum (q - zp) * w
                patches.im2col_into(q4[i : i + 1], *p.win.im2col_args, z, a)
            acc = p.vnni_acc[r0:r1]
            hc.vnni_matmul(a, p.vnni, z, acc, p.num_threads)
            if p.asymmetric:
                hc.scale_bias_act(acc, s[i : i + 1], p.w_scale, p.bias, p.lo, p.hi, out2d[r0:r1])
            else:
                row_scale = (s[i : i + 1] * p.w_scale[0]).astype(np.float32)
                hc.scale_bias_act(acc, row_scale, None, p.bias, p.lo, p.hi, out2d[r0:r1])
