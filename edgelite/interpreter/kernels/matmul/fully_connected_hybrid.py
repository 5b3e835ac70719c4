"""Hybrid FULLY_CONNECTED: float32 input and output, int8 constant weights
(per-tensor or per-channel scales on dim 0), float32 bias.

LiteRT's ``EvalHybrid`` semantics: each input row (the input flattened to
``(M, K)``) is quantized on the fly (symmetric by default, asymmetric when the
``asymmetric_quantize_inputs`` option is set, see ``hybrid_common``), then::

    acc[m, n] = sum_k w[n, k] * q[m, k] - row_sum(w)[n] * zp[m]        (int32)
    out[m, n] = bias[n] + float32(acc[m, n]) * (s[m] * w_scale[n])      (float32)

followed by the fused activation on floats. With a per-tensor weight scale ``s[m]``
already holds ``s[m] * w_scale``. The integer part is exact here (float32 BLAS on
integer values in exact chunks), so results equal LiteRT's up to float32 rounding of
the last two operations.

With Numba on a CPU with AVX-512 VNNI, ``eval_jit`` takes the int32 sums from
``simd_gemm.gemm_int32`` instead (exact as well, so bit for bit the same) and prepare
keeps only the packed weights.

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> any(type(k).__name__ == "FullyConnectedHybrid" for k in kernels_for("FULLY_CONNECTED"))
    True
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import dynamic_range as hc
from edgelite.interpreter.compute import int_gemm
from edgelite.interpreter.kernels.base import HYBRID, Kernel, OpContext, register
from edgelite.interpreter.compute.conv_geometry import activation_range
from edgelite.interpreter.kernels.common import fully_connected_rows
from edgelite.schema.op_facts import weight_input

F32, I8 = hc.F32, hc.I8


def is_hybrid(ctx: OpContext, weight_index: int | None = None) -> bool:
    """Float32 input 0 and outputs, int8 quantized constant weights at ``weight_index``
    (default: the operator's weight input, ``schema.op_facts``)."""
    if weight_index is None:
        weight_index = weight_input(ctx.op_name) or 1
    x = ctx.optional_input(0)
    w = ctx.optional_input(weight_index)
    if x is None or w is None:
        return False
    return (
        np.dtype(x.dtype) == F32 and np.dtype(w.dtype) == I8 and w.quant is not None and w.is_constant
        and all(np.dtype(o.dtype) == F32 for o in ctx.outputs)
    )


def hybrid_scales_and_bias(ctx: OpContext, w, n: int, what: str,
                           bias_index: int = 2) -> tuple[np.ndarray, bool, np.ndarray | None]:
    """What every hybrid kernel's prepare reads first: the ``n`` float32 weight scales
    (``what`` names the weight input in errors), whether they are per channel, and the
    constant float32 bias (input ``bias_index``) as ``(n,)``, or None when the op has none."""
    try:
        scales, per_channel = hc.weight_scales(w, n)
    except ValueError as e:
        raise ctx.fail(f"{what}: {e}") from None
    bias_t = ctx.optional_input(bias_index)
    bias = None
    if bias_t is not None:
        if bias_t.data is None or bias_t.size != n:
            raise ctx.fail(f"bias must be a constant of {n} values")
        bias = np.ascontiguousarray(bias_t.data, F32).reshape(n)
    return scales, per_channel, bias


@dataclass(frozen=True)
class FullyConnectedHybridParams:
    rows: int
    depth: int
    units: int
    asymmetric: bool
    w_gemm_t: np.ndarray  # (K, N) float32 holding the int8 weights; (0, N) when vnni is set
    w_int8: np.ndarray  # (N, K) the weights as stored
    row_sums: np.ndarray  # (N,) int64
    w_scale: np.ndarray  # (N,) float32
    per_channel: bool
    bias: np.ndarray | None  # (N,) float32
    lo: float
    hi: float
    chunk: int
    num_threads: int
    vnni: hc.VnniWeights | None = None  # the VNNI product (eval_jit) is used
    vnni_cols: np.ndarray | None = None  # (M, K rounded up to 4) int8 copy when K % 4 != 0
    vnni_acc: np.ndarray | None = None  # (M, N) int32


def hybrid_matmul(x2d: np.ndarray, w_gemm_t: np.ndarray, row_sums: np.ndarray, w_scale: np.ndarray,
                  per_channel: bool, asymmetric: bool, chunk: int) -> np.ndarray:
    """float32 ``(M, N)``: quantize the rows of ``x2d``, multiply, scale (no bias)."""
    q, s, zp = hc.quantize_rows(x2d, asymmetric)
    acc = hc.int_matmul(q, w_gemm_t, chunk)
    if asymmetric:
        acc = acc - row_sums[None, :] * zp.astype(np.int64)[:, None]
    if per_channel:
        return hc.scale_accumulators(acc, s, w_scale)
    return hc.scale_accumulators(acc, (s * w_scale[0]).astype(F32), None)


@register("FULLY_CONNECTED", priority=HYBRID)
class FullyConnectedHybrid(Kernel):
    """float32 activations, int8 weights (dynamic-range quantized model), float32 bias."""

    def accepts(self, ctx: OpContext) -> bool:
        b = ctx.optional_input(2)
        return is_hybrid(ctx) and (b is None or np.dtype(b.dtype) == F32)

    def prepare(self, ctx: OpContext) -> FullyConnectedHybridParams:
        x, w = ctx.input(0), ctx.input(1)
        o = ctx.options
        m, n, k = fully_connected_rows(ctx, x, w)
        act = o.fusedActivationFunction if o is not None else 0
        lo, hi = activation_range(act, ctx.op_name, strict=True)
        scales, per_channel, bias = hybrid_scales_and_bias(ctx, w, n, "weights")
        wdata = np.asarray(w.data, np.int8).reshape(n, k)
        asym = bool(getattr(o, "asymmetricQuantizeInputs", False)) if o is not None else False
        vnni = hc.vnni_weights(wdata, m, ctx.use_jit)
        return FullyConnectedHybridParams(
            rows=m, depth=k, units=n, asymmetric=asym,
            w_gemm_t=np.ascontiguousarray(wdata.T.astype(F32)) if vnni is None else np.empty((0, n), F32),
            w_int8=wdata, row_sums=wdata.astype(np.int64).sum(axis=1),
            w_scale=scales, per_channel=per_channel, bias=bias, lo=float(lo), hi=float(hi),
            chunk=int_gemm.chunk_for(128, 128), num_threads=ctx.num_threads, vnni=vnni,
            vnni_cols=np.zeros((m, -(-k // 4) * 4), I8) if vnni is not None and k % 4 else None,
            vnni_acc=np.empty((m, n), np.int32) if vnni is not None else None,
        )

    def eval(self, p: FullyConnectedHybridParams, inputs, outputs) -> None:
        out = outputs[0].reshape(p.rows, p.units)
        w_t = p.w_gemm_t if p.vnni is None else p.w_int8.T.astype(F32)  # params of eval_jit's prepare
        res = hybrid_matmul(inputs[0].reshape(p.rows, p.depth), w_t, p.row_sums, p.w_scale,
                            p.per_channel, p.asymmetric, p.chunk)
        _epilogue(p, res, out)

    def eval_jit(self, p: FullyConnectedHybridParams, inputs, outputs) -> None:
        """``eval`` with the integer product on the VNNI kernels (when prepare packed them)."""
        if p.vnni is None:
            self.eval(p, inputs, outputs)
            return
        out = outputs[0].reshape(p.rows, p.units)
        q, s, zp = hc.quantize_rows_jit(inputs[0].reshape(p.rows, p.depth), p.asymmetric)
        a = q
        if p.vnni_cols is not None:
            a = p.vnni_cols
            a[:, : p.depth] = q
        acc = p.vnni_acc
        if p.rows == 1:
            hc.vnni_matmul(a, p.vnni, int(zp[0]), acc, p.num_threads)
        else:
            hc.vnni_matmul(a, p.vnni, 0, acc, p.num_threads)
            if p.asymmetric:  # acc -= zp[m] * row_sum[n], int32 like LiteRT's
                acc -= zp[:, None] * p.row_sums.astype(np.int32)[None, :]
        if p.per_channel:
            hc.scale_int32(acc, s, p.w_scale, out)
        else:
            hc.scale_int32(acc, (s * p.w_scale[0]).astype(F32), None, out)
        _epilogue(p, out, out)


def _epilogue(p: FullyConnectedHybridParams, res: np.ndarray, out: np.ndarray) -> None:
    """``out = clamp(bias + res, lo, hi)`` (LiteRT adds the scaled sums to the bias)."""
    if p.bias is not None:
        np.add(p.bias[None, :], res, out=res)
    if p.lo != -np.inf or p.hi != np.inf:
        np.clip(res, p.lo, p.hi, out=res)
    if res is not out:
        out[...] = res
