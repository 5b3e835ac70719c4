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

``eval_jit`` (int8 x int8 and hybrid, on a CPU with AVX-512 VNNI, see ``simd_gemm``)
takes each batch's int32 sums from ``simd_gemm.gemm_int32``: the RHS is read as the
``(N, K)`` weight rows (``R`` transposed unless ``adj_y``), packed once in prepare when
it is constant and on every call otherwise; the zero points expand to
``sum L R - l_zp * colsum(R) - r_zp * rowsum(L) + K * l_zp * r_zp``, the column
terms folded into the kernel's per-channel correction, the row term added while
requantizing. The sums are exact (int32, wrapping as C's), so the outputs are the
reference's bit for bit. The fused requantization of ``gemm_requant`` is not used:
BATCH_MATMUL rounds ties away from zero (gemmlowp), which that one-shift epilogue
cannot express. Elsewhere ``eval_jit`` is ``eval``.

Known divergence: for hybrid operands with two or more batch dimensions larger than
one, LiteRT 2.3 indexes the per-row scales with a stride that ignores the inner batch
dimensions; edgelite uses each row's own scale (the mathematically intended result).

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> [type(k).__name__ for k in kernels_for("BATCH_MATMUL")][:2]
    ['BatchMatMulQuant', 'BatchMatMulHybrid']
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute import dynamic_range as hc
from edgelite.interpreter.compute import int_gemm, simd_gemm
from edgelite.interpreter.kernels.base import HYBRID, INT8, Kernel, OpContext, register
from edgelite.interpreter.kernels.matmul.batch_matmul_float import adjoint, batch_matmul_shape
from edgelite.interpreter.compute.jit import njit, prange

_INT8, _INT16, _INT32, _F32 = np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.float32)


def _options(ctx: OpContext) -> tuple[bool, bool, bool]:
    o = ctx.options
    if o is None:
        return False, False, False
    return bool(o.adjX), bool(o.adjY), bool(getattr(o, "asymmetricQuantizeInputs", False))


# --------------------------------------------------------------------------------------
# The VNNI product (eval_jit)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VnniPlan:
    """How ``eval_jit`` runs every batch's product on ``simd_gemm.gemm_int32``."""

    depth: int  # K
    rows: int  # M
    cols: int  # N
    tile: tuple[int, int]
    lhs_index: np.ndarray  # (B,) int64: the LHS batch of each output batch
    rhs_index: np.ndarray  # (B,) int64: the RHS batch of each output batch
    lhs_batches: int
    rhs_batches: int
    a_buf: np.ndarray | None  # (Bl, M, K rounded up to 4) int8 when adj_x or K % 4 (else L is read in place)
    packed: np.ndarray | None  # (Br, packed size) int8: the constant RHS; None: packed per call
    col_sums: np.ndarray | None  # (Br, N) int64: sum_k R[k, n] of the constant RHS
    acc: np.ndarray  # (B, M, N) int32 scratch ((0, 0, 0) when the output takes the sums)


def _batch_index(batch: tuple[int, ...], out_batch: tuple[int, ...]) -> np.ndarray:
    """For each output batch (row-major), the flat index of the operand batch it reads."""
    padded = (1,) * (len(out_batch) - len(batch)) + tuple(batch)
    ids = np.arange(int(np.prod(batch, dtype=np.int64)), dtype=np.int64).reshape(padded)
    return np.ascontiguousarray(np.broadcast_to(ids, out_batch)).reshape(-1)


def _vnni_plan(ctx: OpContext, out_shape: tuple[int, ...], adj_x: bool, adj_y: bool, lhs_int8: bool,
               scratch: bool) -> VnniPlan | None:
    """The plan when the VNNI kernels can run (JIT on, VNNI CPU, ``K`` in range), else None.

    ``lhs_int8``: the LHS arrives as int8 (else it is quantized per call into a new
    array, which is then padded when ``K % 4``); ``scratch``: keep an int32 buffer
    for the sums (the int32-output form writes them straight into its output).
    """
    a, b = ctx.input(0), ctx.input(1)
    m, n = out_shape[-2], out_shape[-1]
    k = a.shape[-2] if adj_x else a.shape[-1]
    nb = int(np.prod(out_shape[:-2], dtype=np.int64))
    if not ctx.use_jit or not simd_gemm.usable(k) or m * n * nb == 0:
        return None
    tile = simd_gemm.choose_tile(m, n)
    lb, rb = tuple(a.shape[:-2]), tuple(b.shape[:-2])
    n_lhs, n_rhs = int(np.prod(lb, dtype=np.int64)), int(np.prod(rb, dtype=np.int64))
    k_pad = -(-k // 4) * 4
    a_buf = np.zeros((n_lhs, m, k_pad), np.int8) if (adj_x and lhs_int8) or k % 4 else None
    packed = col_sums = None
    if b.is_constant and b.data is not None:
        packed, col_sums = _pack_rhs(np.asarray(b.data, np.int8).reshape(n_rhs, *b.shape[-2:]), adj_y, tile[1])
    return VnniPlan(
        depth=k, rows=m, cols=n, tile=tile, lhs_index=_batch_index(lb, out_shape[:-2]),
        rhs_index=_batch_index(rb, out_shape[:-2]), lhs_batches=n_lhs, rhs_batches=n_rhs, a_buf=a_buf,
        packed=packed, col_sums=col_sums, acc=np.empty((nb, m, n) if scratch else (0, 0, 0), np.int32),
    )


def _pack_rhs(r3: np.ndarray, adj_y: bool, nr: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Br, K, N)`` (``(Br, N, K)`` when ``adj_y``) int8 -> packed weight rows per batch
    ``(Br, size)`` and the column sums ``(Br, N)`` int64."""
    w = r3 if adj_y else np.swapaxes(r3, -1, -2)  # (Br, N, K)
    packed = np.stack([simd_gemm.pack_weights(w[i], nr) for i in range(w.shape[0])])
    return packed, w.sum(axis=-1, dtype=np.int64)


def _lhs_rows(plan: VnniPlan, l3: np.ndarray, adj_x: bool) -> np.ndarray:
    """The int8 LHS ``(Bl, M, K)`` (``(Bl, K, M)`` when ``adj_x``) as ``(Bl, M, lda)``
    rows for the kernel (``lda``: K rounded up to 4)."""
    if plan.a_buf is None:
        return np.ascontiguousarray(l3)
    plan.a_buf[:, :, : plan.depth] = np.swapaxes(l3, -1, -2) if adj_x else l3
    return plan.a_buf


def _rhs_operand(plan: VnniPlan, rhs: np.ndarray, adj_y: bool) -> tuple[np.ndarray, np.ndarray]:
    """The packed RHS batches and their column sums: prepare's for a constant RHS, else
    packed now."""
    if plan.packed is not None:
        return plan.packed, plan.col_sums
    return _pack_rhs(rhs.reshape(plan.rhs_batches, *rhs.shape[-2:]), adj_y, plan.tile[1])


def _correction(col_sums: np.ndarray, l_zp: int) -> np.ndarray:
    """``simd_gemm.bias_correction`` of every RHS batch ``(Br, N)`` from its column sums
    (the correction depends on the weights only through ``sum_k w[n, k]``, so a weight
    row of one value, that sum, gives the same term)."""
    return simd_gemm.bias_correction(col_sums.reshape(-1, 1), l_zp).reshape(col_sums.shape)


def _vnni_products(plan: VnniPlan, a3: np.ndarray, packed: np.ndarray, corr: np.ndarray, out3: np.ndarray,
                   threads: int) -> None:
    """``out3[b] = a3[lhs(b)] . W[rhs(b)]`` plus ``corr[rhs(b)]`` minus the kernel's own
    correction (see ``simd_gemm.gemm_int32``), as int32, for every output batch."""
    for bi in range(out3.shape[0]):
        li, ri = plan.lhs_index[bi], plan.rhs_index[bi]
        simd_gemm.gemm_int32(a3[li], packed[ri], plan.depth, plan.tile, corr[ri], out3[bi], threads)


@njit(parallel=True)
def _requant_rows_offset(acc, row_term, q, shift, mode, out_zp, lo, hi, out):
    """``out[r, n] = clamp(MBQM(int32(acc[r, n] + row_term[r]), q, shift) + out_zp, lo, hi)``

    (MultiplyByQuantizedMultiplier in the ``fixedpoint`` form ``mode``; one multiplier
    for the tensor). Gemmlowp's double rounding (mode 0) has its own loop; as in
    ``int_gemm.requant_block``, ``q >= 0`` rules out SRDHM's overflow case, and the
    SRDHM result fits int32, so no wrap is needed after it.
    """
    rows, cols = acc.shape
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    mask = (np.int64(1) << right) - 1
    qq = np.int64(q)
    for r in prange(rows):
        rt = np.int64(row_term[r])
        if mode == 0:
            for n in range(cols):
                x = np.int64(np.int32(np.int64(acc[r, n]) + rt))  # wraps like C's int32
                xl = np.int64(np.int32(x << left))
                ab = xl * qq
                sab = ab + (np.int64(1073741824) if ab >= 0 else np.int64(-1073741823))
                h = (sab + ((sab >> 63) & np.int64(2147483647))) >> 31  # C division truncates
                thr = (mask >> 1) + ((h >> 63) & 1)
                v = (h >> right) + ((h & mask) > thr) + out_zp
                v = lo if v < lo else v
                v = hi if v > hi else v
                out[r, n] = v
        else:
            for n in range(cols):
                x = np.int64(np.int32(np.int64(acc[r, n]) + rt))
                out[r, n] = int_gemm.requant_scalar(x, qq, np.int64(shift), mode, out_zp, lo, hi)


# --------------------------------------------------------------------------------------
# int8 / int16
# --------------------------------------------------------------------------------------


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
    num_threads: int = 1
    vnni: VnniPlan | None = None  # int8 x int8 on the VNNI kernels (eval_jit)


@register("BATCH_MATMUL", priority=INT8)
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
        out_shape = batch_matmul_shape(ctx, adj_x, adj_y)
        a, b, out = ctx.input(0), ctx.input(1), ctx.outputs[0]
        if b.quant.per_channel:
            raise ctx.fail("per-channel RHS scales are only supported by the hybrid kernel")
        do = np.dtype(out.dtype)
        int8 = np.dtype(a.dtype) == _INT8
        vnni = _vnni_plan(ctx, out_shape, adj_x, adj_y, True, do != _INT32) if int8 else None
        if do == _INT32:
            return BatchMatMulQuantParams(adj_x, adj_y, 0, 0, 0, 0, 0, -1, 0, 0, do, ctx.num_threads, vnni)
        if out.quant is None:
            raise ctx.fail("a quantized output needs scale and zero point")
        real = float(np.float32(a.quant.scalar_scale) * np.float32(b.quant.scalar_scale)) / float(np.float32(out.quant.scalar_scale))
        q, s = fp.quantize_multiplier(real)
        wide = np.dtype(a.dtype) == _INT16
        info = np.iinfo(do)
        return BatchMatMulQuantParams(
            adj_x, adj_y, a.quant.scalar_zero_point, b.quant.scalar_zero_point, out.quant.scalar_zero_point,
            q, s, int_gemm.MODE_WIDE if wide else fp.default_mode(), int(info.min), int(info.max), do,
            ctx.num_threads, vnni,
        )

    def eval(self, p: BatchMatMulQuantParams, inputs, outputs) -> None:
        lhs = adjoint(inputs[0], p.adj_x).astype(np.int64) - p.l_zp
        rhs = adjoint(inputs[1], p.adj_y).astype(np.int64) - p.r_zp
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

    def eval_jit(self, p: BatchMatMulQuantParams, inputs, outputs) -> None:
        """``eval`` with the int32 sums from the VNNI kernels (when prepare planned them)."""
        v = p.vnni
        if v is None:
            self.eval(p, inputs, outputs)
            return
        x = inputs[0]
        a3 = _lhs_rows(v, x.reshape(v.lhs_batches, *x.shape[-2:]), p.adj_x)
        packed, col_sums = _rhs_operand(v, inputs[1], p.adj_y)
        out = outputs[0]
        # sum (L - lz)(R - rz) = sum L R - lz colsum(R) - rz rowsum(L) + K lz rz: the
        # column terms go to the kernel's correction, the row term to the requantization
        corr = _correction(col_sums, p.l_zp) + v.depth * p.l_zp * p.r_zp
        if p.mode == -1:
            _vnni_products(v, a3, packed, corr, out.reshape(-1, v.rows, v.cols), p.num_threads)
            return
        _vnni_products(v, a3, packed, corr, v.acc, p.num_threads)
        if p.r_zp:
            row_sums = a3[..., : v.depth].sum(axis=-1, dtype=np.int64)  # (Bl, M)
            row_term = (row_sums * -p.r_zp)[v.lhs_index].reshape(-1)
        else:
            row_term = np.zeros(v.acc.shape[0] * v.rows, np.int64)
        _requant_rows_offset(v.acc.reshape(-1, v.cols), row_term, np.int64(p.multiplier), np.int64(p.shift),
                             np.int64(p.mode), np.int64(p.out_zp), np.int64(p.lo), np.int64(p.hi),
                             out.reshape(-1, v.cols))


# --------------------------------------------------------------------------------------
# hybrid
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchMatMulHybridParams:
    adj_x: bool
    adj_y: bool
    asymmetric: bool
    rhs_scale: np.ndarray  # (N,) float32
    per_channel: bool
    chunk: int
    num_threads: int = 1
    vnni: VnniPlan | None = None  # the int32 product on the VNNI kernels (eval_jit)


@register("BATCH_MATMUL", priority=HYBRID)
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
        out_shape = batch_matmul_shape(ctx, adj_x, adj_y)
        n = out_shape[-1]
        try:
            scales, per_channel = hc.weight_scales(ctx.input(1), n)
        except ValueError as e:
            raise ctx.fail(f"RHS scales: {e} (per-channel scales must follow the output columns)") from None
        vnni = _vnni_plan(ctx, out_shape, adj_x, adj_y, False, True)
        return BatchMatMulHybridParams(adj_x, adj_y, asym, scales, per_channel, int_gemm.chunk_for(128, 128),
                                       ctx.num_threads, vnni)

    def eval(self, p: BatchMatMulHybridParams, inputs, outputs) -> None:
        lhs = np.ascontiguousarray(adjoint(inputs[0], p.adj_x), np.float32)
        rhs = adjoint(inputs[1], p.adj_y)
        k = lhs.shape[-1]
        q, s, zp = hc.quantize_rows(lhs.reshape(-1, k), p.asymmetric)
        q = q.reshape(lhs.shape)
        acc = int_gemm.exact_matmul(q, rhs.astype(np.int8), 128, 128)  # (..., M, N) int64
        acc = hc.int_gemm_wrap32(acc)
        row_sums = rhs.astype(np.int64).sum(axis=-2, keepdims=True) if p.asymmetric else None  # (..., 1, N)
        _hybrid_epilogue(p, acc, s.reshape(lhs.shape[:-1]), zp.reshape(lhs.shape[:-1]), row_sums, outputs[0])

    def eval_jit(self, p: BatchMatMulHybridParams, inputs, outputs) -> None:
        """``eval`` with the quantizer in Numba and the int32 sums from the VNNI kernels."""
        v = p.vnni
        if v is None:
            self.eval(p, inputs, outputs)
            return
        lhs = np.ascontiguousarray(adjoint(inputs[0], p.adj_x), np.float32)
        q, s, zp = hc.quantize_rows_jit(lhs.reshape(-1, v.depth), p.asymmetric)
        a3 = _lhs_rows(v, q.reshape(v.lhs_batches, v.rows, v.depth), False)
        packed, col_sums = _rhs_operand(v, inputs[1], p.adj_y)
        _vnni_products(v, a3, packed, _correction(col_sums, 0), v.acc, p.num_threads)
        _hybrid_scale_jit(v.acc, s.reshape(v.lhs_batches, v.rows), zp.reshape(v.lhs_batches, v.rows), col_sums,
                          p.rhs_scale, v.lhs_index, v.rhs_index, p.asymmetric, p.per_channel,
                          outputs[0].reshape(v.acc.shape))


def _hybrid_epilogue(p: BatchMatMulHybridParams, acc: np.ndarray, s: np.ndarray, zp: np.ndarray,
                     row_sums: np.ndarray | None, out: np.ndarray) -> None:
    """``out = scale * float32(acc - row_sums * zp)`` in LiteRT's float32 order.

    ``acc``: the int32 sums ``(..., M, N)`` (any integer dtype); ``s``, ``zp``: the row
    scales and zero points ``(..., M)``; ``row_sums``: ``(..., 1, N)`` sums over K of
    the RHS (asymmetric only).
    """
    if p.asymmetric:
        # LiteRT: total -= row_sum * float(zp), in float32, truncated back to int32
        corr = row_sums.astype(np.float32) * zp[..., None].astype(np.float32)
        acc = np.trunc((acc.astype(np.float32) - corr.astype(np.float32)).astype(np.float32)).astype(np.int64)
    if p.per_channel:
        scale = (s[..., None].astype(np.float32) * p.rhs_scale).astype(np.float32)
    else:
        scale = (s * p.rhs_scale[0]).astype(np.float32)[..., None]
    out[...] = (scale * acc.astype(np.float32)).astype(np.float32)


@njit(parallel=True)
def _hybrid_scale_jit(acc, s, zp, col_sums, col_scale, lhs_index, rhs_index, asymmetric, per_channel, out):
    """:func:`_hybrid_epilogue` in one pass, the same float32 operations in the same order:
    ``out[b, m, n] = (s[l, m] * col_scale[n]) * a`` with ``a = float32(acc[b, m, n])``, or
    with ``asymmetric`` ``a = trunc(a - float32(col_sums[r, n]) * float32(zp[l, m]))``
    (``l``, ``r``: the LHS and RHS batches of output batch ``b``; ``col_scale[0]`` for
    every ``n`` unless ``per_channel``)."""
    batches, rows, cols = acc.shape
    for bm in prange(batches * rows):
        b = bm // rows
        m = bm - b * rows
        li = lhs_index[b]
        ri = rhs_index[b]
        sr = s[li, m]
        zf = np.float32(zp[li, m])
        for n in range(cols):
            a = np.float32(acc[b, m, n])
            if asymmetric:
                c = np.float32(col_sums[ri, n]) * zf
                a = np.float32(np.int64(np.trunc(np.float32(a - c))))
            sc = sr * (col_scale[n] if per_channel else col_scale[0])
            out[b, m, n] = np.float32(sc * a)
