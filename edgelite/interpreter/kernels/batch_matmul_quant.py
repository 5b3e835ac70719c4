"""Quantized BATCH_MATMUL: int8 x int8 -> int8 (or raw int32), int16 x int16 and
int16 x int8 -> int16, and the hybrid float32 x int8 -> float32 form.

Shapes as the float kernel: ``L`` (the LHS, transposed in its last two axes when
``adj_x``) times ``R`` (the RHS, transposed when ``adj_y``), batch dimensions
broadcast, ranks 2 to 5. Integer arithmetic (``reference_ops::BatchMatMul``)::

    acc[..., m, n] = sum_k (L[..., m, k] - l_zp) * (R[..., k, n] - r_zp)
    out = clamp(MultiplyByQuantizedMultiplier(acc, q, shift) + out_zp, dtype range)

with one multiplier from ``float32(l_scale * r_scale) / out_scale`` (LiteRT's legacy
``GetQuantizedConvolutionMultipler``; there is no fused activation). int8 uses a
32-bit accumulator and gemmlowp's double rounding; int16 an int64 accumulator and the
int64 MultiplyByQuantizedMultiplier. An int32 output gets the raw sums of the stored
values (LiteRT ignores the zero points there).

The hybrid form quantizes every row ``L[..., m, :]`` on the fly (symmetric, or
asymmetric with ``asymmetric_quantize_inputs``) and scales the int32 sums by the
row's scale times the RHS scale (per tensor, or per output column ``n``). LiteRT
computes the zero-point correction ``row_sum * zp`` in float32 and truncates it back
to int32; that is reproduced.

Known divergence: for hybrid operands with two or more batch dimensions larger than
one, LiteRT 2.3 indexes the per-row scales with a stride that ignores the inner batch
dimensions; edgelite uses each row's own scale (the mathematically intended result).

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> [type(k).__name__ for k in kernels_for("BATCH_MATMUL")][:2]
    ['BatchMatMulQuant', 'BatchMatMulHybrid']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgelite.interpreter import fixedpoint as fp
from edgelite.interpreter.kernels import hybrid_common as hc
from edgelite.interpreter.kernels import int_gemm
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.gemm import set_blas_threads

_INT8, _INT16, _INT32, _F32 = np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.float32)


def _shapes(ctx: OpContext, adj_x: bool, adj_y: bool) -> tuple[int, ...]:
    a, b = ctx.input(0), ctx.input(1)
    if a.shape is None or b.shape is None or not (2 <= len(a.shape) <= 5 and 2 <= len(b.shape) <= 5):
        raise ctx.fail(f"inputs {a.shape} and {b.shape} must have rank 2 to 5")
    rows, ka = (a.shape[-1], a.shape[-2]) if adj_x else (a.shape[-2], a.shape[-1])
    kb, cols = (b.shape[-1], b.shape[-2]) if adj_y else (b.shape[-2], b.shape[-1])
    if ka != kb:
        raise ctx.fail(f"contracted dimensions differ: {ka} (lhs {a.shape}, adj_x={adj_x}) vs "
                       f"{kb} (rhs {b.shape}, adj_y={adj_y})")
    try:
        batch = np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    except ValueError:
        raise ctx.fail(f"batch dimensions of {a.shape} and {b.shape} do not broadcast") from None
    out = tuple(batch) + (rows, cols)
    ctx.set_output_shape(0, out)
    return out


def _adjoint(a: np.ndarray, adj: bool) -> np.ndarray:
    return np.swapaxes(a, -1, -2) if adj else a


def _options(ctx: OpContext) -> tuple[bool, bool, bool]:
    o = ctx.options
    if o is None:
        return False, False, False
    return bool(o.adjX), bool(o.adjY), bool(getattr(o, "asymmetricQuantizeInputs", False))


@dataclass(frozen=True)
class BatchMatMulQuantParams:
    adj_x: bool
    adj_y: bool
    l_zp: int
    r_zp: int
    out_zp: int
    multiplier: int
    shift: int
    mode: int  # fixedpoint.ROUND_* / int_gemm.MODE_WIDE; -1: raw int32 output
    lo: int
    hi: int
    out_dtype: np.dtype


@register("BATCH_MATMUL")
class BatchMatMulQuant(Kernel):
    """int8 x int8 -> int8/int32, int16 x int16 -> int16, int16 x int8 -> int16."""

    def accepts(self, ctx: OpContext) -> bool:
        a, b = ctx.optional_input(0), ctx.optional_input(1)
        if a is None or b is None:
            return False
        da, db, do = np.dtype(a.dtype), np.dtype(b.dtype), np.dtype(ctx.outputs[0].dtype)
        pair = (da, db) in ((_INT8, _INT8), (_INT16, _INT16), (_INT16, _INT8))
        out_ok = do == da or (da == _INT8 and do == _INT32)
        return pair and out_ok and a.quant is not None and b.quant is not None

    def prepare(self, ctx: OpContext) -> BatchMatMulQuantParams:
        adj_x, adj_y, _ = _options(ctx)
        _shapes(ctx, adj_x, adj_y)
        a, b, out = ctx.input(0), ctx.input(1), ctx.outputs[0]
        if b.quant.per_channel:
            raise ctx.fail("per-channel RHS scales are only supported by the hybrid kernel")
        do = np.dtype(out.dtype)
        set_blas_threads(ctx.num_threads)
        if do == _INT32:
            return BatchMatMulQuantParams(adj_x, adj_y, 0, 0, 0, 0, 0, -1, 0, 0, do)
        if out.quant is None:
            raise ctx.fail("a quantized output needs scale and zero point")
        real = float(np.float32(a.quant.scalar_scale) * np.float32(b.quant.scalar_scale)) / float(np.float32(out.quant.scalar_scale))
        q, s = fp.quantize_multiplier(real)
        wide = np.dtype(a.dtype) == _INT16
        info = np.iinfo(do)
        return BatchMatMulQuantParams(
            adj_x, adj_y, a.quant.scalar_zero_point, b.quant.scalar_zero_point, out.quant.scalar_zero_point,
            q, s, int_gemm.MODE_WIDE if wide else fp.default_mode(), int(info.min), int(info.max), do,
        )

    def eval(self, p: BatchMatMulQuantParams, inputs, outputs) -> None:
        lhs = _adjoint(inputs[0], p.adj_x).astype(np.int64) - p.l_zp
        rhs = _adjoint(inputs[1], p.adj_y).astype(np.int64) - p.r_zp
        acc = int_gemm.exact_matmul(lhs, rhs, 1 << 16, 1 << 16)
        if p.mode == -1:
            outputs[0][...] = hc.int_gemm_wrap32(acc)
            return
        wide = p.mode == int_gemm.MODE_WIDE
        if not wide:
            acc = hc.int_gemm_wrap32(acc)
        outputs[0][...] = int_gemm.requantize_reference(
            acc, None, p.multiplier, p.shift, 0 if wide else p.mode, p.out_zp, p.lo, p.hi, p.out_dtype, wide=wide
        )


@dataclass(frozen=True)
class BatchMatMulHybridParams:
    adj_x: bool
    adj_y: bool
    asymmetric: bool
    rhs_scale: np.ndarray  # (N,) float32
    per_channel: bool
    chunk: int


@register("BATCH_MATMUL")
class BatchMatMulHybrid(Kernel):
    """float32 LHS, int8 RHS (per-tensor or per-column scales), float32 output."""

    def accepts(self, ctx: OpContext) -> bool:
        a, b = ctx.optional_input(0), ctx.optional_input(1)
        return (
            a is not None and b is not None and np.dtype(a.dtype) == _F32 and np.dtype(b.dtype) == _INT8
            and b.quant is not None and np.dtype(ctx.outputs[0].dtype) == _F32
        )

    def prepare(self, ctx: OpContext) -> BatchMatMulHybridParams:
        adj_x, adj_y, asym = _options(ctx)
        out_shape = _shapes(ctx, adj_x, adj_y)
        n = out_shape[-1]
        try:
            scales, per_channel = hc.weight_scales(ctx.input(1), n)
        except ValueError as e:
            raise ctx.fail(f"RHS scales: {e} (per-channel scales must follow the output columns)") from None
        set_blas_threads(ctx.num_threads)
        return BatchMatMulHybridParams(adj_x, adj_y, asym, scales, per_channel, int_gemm.chunk_for(128, 128))

    def eval(self, p: BatchMatMulHybridParams, inputs, outputs) -> None:
        lhs = np.ascontiguousarray(_adjoint(inputs[0], p.adj_x), np.float32)
        rhs = _adjoint(inputs[1], p.adj_y)
        k = lhs.shape[-1]
        q, s, zp = hc.quantize_rows(lhs.reshape(-1, k), p.asymmetric)
        q = q.reshape(lhs.shape)
        acc = int_gemm.exact_matmul(q, rhs.astype(np.int8), 128, 128)  # (..., M, N) int64
        acc = hc.int_gemm_wrap32(acc)
        s = s.reshape(lhs.shape[:-1])
        if p.asymmetric:
            row_sums = rhs.astype(np.int64).sum(axis=-2, keepdims=True)  # (..., 1, N)
            # LiteRT: total -= row_sum * float(zp), in float32, truncated back to int32
            corr = row_sums.astype(np.float32) * zp.reshape(lhs.shape[:-1])[..., None].astype(np.float32)
            acc = np.trunc((acc.astype(np.float32) - corr.astype(np.float32)).astype(np.float32)).astype(np.int64)
        if p.per_channel:
            scale = (s[..., None].astype(np.float32) * p.rhs_scale).astype(np.float32)
        else:
            scale = (s * p.rhs_scale[0]).astype(np.float32)[..., None]
        outputs[0][...] = (scale * acc.astype(np.float32)).astype(np.float32)
