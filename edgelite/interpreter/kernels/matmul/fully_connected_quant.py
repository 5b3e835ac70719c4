"""Quantized FULLY_CONNECTED: int8 (per-tensor or per-channel weights), uint8
asymmetric (TF1-era) and 16x8 (int16 activations, int8 weights, int64 bias).

Arithmetic (``reference_integer_ops/fully_connected.h``), input flattened to
``(M, K)`` rows, weights ``(N, K)``::

    acc[m, n] = bias[n] + sum_k (w[n, k] - w_zp) * (in[m, k] - in_zp)
    out = clamp(MultiplyByQuantizedMultiplier(acc, q[n], shift[n]) + out_zp, act range)

Rounding forms (measured against LiteRT 2.3, pinned by the tests): int8 and uint8 use
``platform_rounding.gemm_mode`` (x86 and ARM builds differ), 16x8 the single-rounding form on the
int64 accumulator. Known gap: a 16x8 accumulator beyond +-2**31 (an int64 bias that
large) can differ from LiteRT, whose exact handling there was not reproduced.

The output is ``(M, N)``, or the input's leading dimensions followed by N when
``keep_num_dims`` is set. The int8 reference multiplies raw rows exactly on float32 BLAS
and requantizes in four numpy passes (``int8_numpy``); the others multiply centred
values exactly in float64. ``eval_jit``
uses the exact float32 GEMM of ``int_gemm`` with the zero-point correction folded into
the bias, and the parallel Numba requantization.

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> any(type(k).__name__ == "FullyConnectedQuant" for k in kernels_for("FULLY_CONNECTED"))
    True
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute import int8_numpy, int_gemm, platform_rounding, simd_gemm
from edgelite.interpreter.kernels.base import INT16, INT8, UINT8, OpContext, register
from edgelite.interpreter.kernels.common import QuantizedWeightsKernel, RequantParams, fully_connected_rows, quant_operands, require_constant_weights
from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.compute import bound

_INT8 = np.dtype(np.int8)


@dataclass(frozen=True)
class FullyConnectedQuantParams(RequantParams):
    rows: int
    depth: int
    units: int
    w_centered_t: np.ndarray  # (K, N) w - w_zp: int16, or the int8 weights' own transposed view
    bias: np.ndarray | None
    w_gemm_t: np.ndarray  # (K, N) float32 / float64
    bias_jit: np.ndarray
    jit_centre: bool  # subtract in_zp from the input before the GEMM (uint8)
    chunk: int
    num_threads: int
    w_int: np.ndarray  # (N, K) int8 weights for the small-batch integer GEMV ((0, 0) when unused)
    acc_buf: np.ndarray  # (M, N) int32 scratch of the GEMV
    # VNNI path (int8 with the one-shift requantization, on AVX-512 VNNI): else None
    vnni_w: simd_gemm.PackedWeights | None = None  # pack_weights(w, vnni_tile[1]) on first use (.array())
    vnni_tile: tuple[int, int] = (0, 0)
    vnni_bias: np.ndarray | None = None  # (N,) int64: bias - (128 + in_zp) * sum(w)
    vnni_tables: tuple | None = None  # int_gemm.fast_requant_tables
    vnni_cols: np.ndarray | None = None  # (M, K rounded up to 4) int8 copy when K % 4 != 0
    # fast numpy reference path (int8 with a one-shift requantization): else None
    ref_plan: int8_numpy.RequantPlan | None = None


# Below this many rows the whole product is a few matrix-vector products: an int8
# Numba loop reading the 1-byte weights beats converting them to a float GEMM.
GEMV_MAX_ROWS = 4


@njit
def _int8_gemv(x, w, acc):
    """acc[m, n] = sum_k int32(w[n, k]) * int32(x[m, k]) (int8 operands, |K| < 2**17)."""
    rows, depth = x.shape
    units = w.shape[0]
    for m in range(rows):
        xr = x[m]
        for n in range(units):
            wr = w[n]
            total = np.int32(0)
            for k in range(depth):
                total += np.int32(wr[k]) * np.int32(xr[k])
            acc[m, n] = total


def fully_connected_quant_prepare(ctx: OpContext) -> FullyConnectedQuantParams:
    x, w = ctx.input(0), ctx.input(1)
    out = ctx.outputs[0]
    o = ctx.options
    if o is None or getattr(o, "weightsFormat", 0) == 0:  # (shuffled weights: refused below)
        require_constant_weights(ctx, w, "weights")
    m, n, k = fully_connected_rows(ctx, x, w)
    act = o.fusedActivationFunction if o is not None else 0

    in_dtype = np.dtype(x.dtype)
    qo = quant_operands(ctx, n, act, "units")
    legacy, wide, in_zp, bias = qo.legacy, qo.wide, qo.in_zp, qo.bias
    w_raw = np.asarray(w.data).reshape(n, k)
    base_bias = np.zeros(n, np.int64) if bias is None else bias
    raw_int8 = not legacy and not wide and w_raw.dtype == _INT8
    if raw_int8:
        # int8 weights (zero point 0) are used as they are: no int64 or int16 copies of
        # the whole matrix (a 1000x1280 classifier's copies cost tens of ms at allocation)
        wdata = w_raw
        w_centered_t = w_raw.T
        w_gemm_t = None  # made below unless the VNNI GEMM holds the weights
        w_sum = w_raw.sum(axis=1, dtype=np.int64)
        bias_jit, centre, chunk = base_bias - in_zp * w_sum, False, int_gemm.chunk_for(128, 128)
    else:
        wdata = w_raw.astype(np.int64)
        w_centered = wdata - qo.w_zp
        w_centered_t = np.ascontiguousarray(w_centered.T.astype(np.int16))
        w_sum = wdata.sum(axis=1)
        if legacy:
            w_gemm_t = w_centered.T.astype(np.float32)
            bias_jit, centre, chunk = base_bias.copy(), True, int_gemm.chunk_for(255, 255)
        elif wide:
            w_gemm_t = wdata.T.astype(np.float64)
            bias_jit, centre, chunk = base_bias - in_zp * w_sum, False, 1 << 30
        else:
            w_gemm_t = wdata.T.astype(np.float32)
            bias_jit, centre, chunk = base_bias - in_zp * w_sum, False, int_gemm.chunk_for(128, 128)
    if wide:
        # Measured on ai-edge-litert 2.3: its 16x8 FULLY_CONNECTED rounds once
        # ((acc * q + 2**(30 - shift)) >> (31 - shift)), unlike its 16x8 conv kernels.
        mode = fp.ROUND_SINGLE
    else:
        # int8 and uint8 alike (uint8 measured with 1-64 rows); x86 and ARM LiteRT differ,
        # and ARM's int8 batch-1 products (its GEMV) round as x86 does
        mode = platform_rounding.gemm_mode(cols=m, rows=n, depth=k, int8=in_dtype == _INT8)
    vnni = {}
    tables = int_gemm.fast_requant_tables(qo.multiplier, qo.shift, mode)
    if in_dtype == _INT8 and tables is not None and simd_gemm.usable(k):
        tile = simd_gemm.choose_tile(m, n)
        vnni = dict(
            # packed when the JIT kernel first runs (the reference kernels never read them)
            vnni_w=simd_gemm.PackedWeights(wdata.astype(np.int8, copy=False), tile[1]), vnni_tile=tile, vnni_tables=tables,
            vnni_bias=base_bias + simd_gemm.bias_correction(None, in_zp, sums=w_sum),
            vnni_cols=None if k % 4 == 0 else np.empty((m, -(-k // 4) * 4), np.int8),
        )
    # int8 x int8 with few rows: integer GEMV (|sum| < 2**31 for K < 2**17)
    gemv = in_dtype == _INT8 and m <= GEMV_MAX_ROWS and k < (1 << 17) and not vnni
    ref_plan = None
    if in_dtype == _INT8 and not wide:
        # the reference GEMM sums raw int8 values: the zero-point term is in bias_jit
        w_max = (np.maximum(wdata.max(axis=1).astype(np.int64), -wdata.min(axis=1).astype(np.int64)) if k
                 else np.zeros(n, np.int64))
        ref_plan = int8_numpy.plan_requant(bias_jit, qo.multiplier, qo.shift, mode, qo.out_zp, qo.act_min, qo.act_max,
                                           acc_bound=k * w_max * 128, sum_bound=k * w_max * 255 + np.abs(base_bias))
    return FullyConnectedQuantParams(
        rows=m, depth=k, units=n, in_zp=in_zp, out_zp=qo.out_zp, act_min=qo.act_min, act_max=qo.act_max,
        multiplier=qo.multiplier, shift=qo.shift,
        mode=mode, out_dtype=np.dtype(out.dtype), w_centered_t=w_centered_t, bias=bias,
        w_gemm_t=(np.empty((0, n), np.float32 if w_gemm_t is None else w_gemm_t.dtype) if vnni
                  else np.ascontiguousarray(wdata.T.astype(np.float32) if w_gemm_t is None else w_gemm_t)),
        bias_jit=bias_jit, jit_centre=centre, chunk=chunk,
        num_threads=ctx.num_threads,
        w_int=np.ascontiguousarray(wdata.astype(np.int8, copy=False)) if gemv else np.empty((0, 0), np.int8),
        acc_buf=np.empty((m, n), np.int32) if gemv else np.empty((0, 0), np.int32),
        ref_plan=ref_plan, **vnni,
    )


class _FullyConnectedQuantBase(QuantizedWeightsKernel):
    # without the VNNI GEMM the integer product runs on float BLAS, outside any Numba region
    blas_parallel = True

    def prepare(self, ctx: OpContext) -> FullyConnectedQuantParams:
        return fully_connected_quant_prepare(ctx)

    def eval(self, params: FullyConnectedQuantParams, inputs, outputs) -> None:
        p = params
        if p.ref_plan is not None:
            # raw int8 rows on float BLAS, one-shift requantization (int8_numpy)
            w_t = p.w_gemm_t if p.w_gemm_t.shape[0] else p.w_centered_t  # w_zp == 0: raw weights
            acc = int8_numpy.exact_gemm(inputs[0].reshape(p.rows, p.depth), w_t, 128, 128)
            int8_numpy.requantize_into(acc, p.ref_plan, outputs[0])
            return
        xc = inputs[0].reshape(p.rows, p.depth).astype(np.int64) - p.in_zp
        acc = int_gemm.exact_matmul(xc, p.w_centered_t, 1 << 16, 1 << 8)
        wide = p.mode == int_gemm.MODE_WIDE
        res = int_gemm.requantize_reference(
            acc, p.bias, p.multiplier, p.shift, 0 if wide else p.mode, p.out_zp, p.act_min, p.act_max, p.out_dtype, wide=wide
        )
        outputs[0][...] = res.reshape(outputs[0].shape)

    def eval_jit(self, params: FullyConnectedQuantParams, inputs, outputs) -> None:
        p = params
        calls = self.bind(p, inputs, outputs)  # the SIMD-GEMM path, as the interpreter's plan runs it
        if calls is not None:
            bound.run(calls)
            return
        x2 = inputs[0].reshape(p.rows, p.depth)
        if p.vnni_w is not None:
            a = x2
            if p.vnni_cols is not None:
                a = p.vnni_cols
                a[:, : p.depth] = x2
            simd_gemm.gemm_requant(a, p.vnni_w.array(), p.depth, p.vnni_tile, p.vnni_bias, p.multiplier, p.vnni_tables,
                                   p.out_zp, p.act_min, p.act_max, outputs[0].reshape(p.rows, p.units), p.num_threads)
            return
        if p.w_int.size:
            _int8_gemv(x2, p.w_int, p.acc_buf)
            int_gemm.requantize_rows_jit(p.acc_buf, p.bias_jit, p.multiplier, p.shift, p.mode, p.out_zp, p.act_min,
                                         p.act_max, outputs[0].reshape(p.rows, p.units))
            return
        if p.jit_centre:
            cols = x2.astype(np.float32)
            cols -= np.float32(p.in_zp)
        else:
            cols = x2.astype(p.w_gemm_t.dtype)
        acc = int_gemm.matmul_f32_chunked(cols, p.w_gemm_t, p.chunk)
        int_gemm.requantize_rows_jit(acc, p.bias_jit, p.multiplier, p.shift, p.mode, p.out_zp, p.act_min, p.act_max,
                                     outputs[0].reshape(p.rows, p.units))

    def bind(self, params: FullyConnectedQuantParams, inputs, outputs):
        """``eval_jit``'s SIMD-GEMM path as prepared calls (``compute.bound``); None for the others."""
        p = params
        if p.vnni_w is None or not bound.contiguous(inputs[0], outputs[0]):
            return None
        x2 = inputs[0].reshape(p.rows, p.depth)
        calls = []
        a = x2
        if p.vnni_cols is not None:
            a = p.vnni_cols
            calls.append((np.copyto, (a[:, : p.depth], x2, "unsafe")))  # as a[:, :depth] = x2
        calls.append(simd_gemm.gemm_requant_call(a, p.vnni_w.array(), p.depth, p.vnni_tile, p.vnni_bias, p.multiplier,
                                                 p.vnni_tables, p.out_zp, p.act_min, p.act_max,
                                                 outputs[0].reshape(p.rows, p.units), p.num_threads))
        return calls


@register("FULLY_CONNECTED", priority=INT8)
class FullyConnectedQuant(_FullyConnectedQuantBase):
    """int8 activations, int8 weights (per-tensor or per-channel on dim 0), int32 bias."""


@register("FULLY_CONNECTED", priority=UINT8)
class FullyConnectedQuantUInt8(_FullyConnectedQuantBase):
    """uint8 activations and uint8 asymmetric weights, int32 bias (default weights format)."""


@register("FULLY_CONNECTED", priority=INT16)
class FullyConnectedQuant16x8(_FullyConnectedQuantBase):
    """int16 activations (zero point 0), int8 weights, int64 bias."""
