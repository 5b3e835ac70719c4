"""Exact integer GEMM on float BLAS, and the fused requantization loops.

Quantized kernels need ``sum_k w[n, k] * x[m, k]`` exactly. Float BLAS gives it
exactly when every partial sum is an integer the float type represents: float64 up
to ``2**53``, float32 up to ``2**24``. For int8 operands each product is at most
``2**14`` in magnitude, so a float32 GEMM over at most 1024 terms never rounds, and a
longer reduction is split into such chunks whose results are added as integers. The
order BLAS adds in does not matter: no partial sum is ever inexact.

The requantization loops (``acc + bias -> MultiplyByQuantizedMultiplier -> + zp ->
clamp -> cast``) are Numba kernels, parallel over rows, one loop per rounding form so
each inner loop stays branch-light. Their numpy twin is
:func:`requantize_reference`.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute.int_gemm import exact_matmul
    >>> a = np.full((2, 3000), -128, np.int8); b = np.full((3000, 2), -128, np.int8)
    >>> int(exact_matmul(a, b)[0, 0]) == 3000 * 128 * 128
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute.jit import njit, prange

F32_EXACT = 1 << 24
F64_EXACT = 1 << 53


def chunk_for(max_abs_a: int, max_abs_b: int) -> int:
    """Longest reduction whose float32 partial sums stay exact (at least 1)."""
    return max(1, F32_EXACT // max(1, int(max_abs_a) * int(max_abs_b)))


def _max_abs(dtype) -> int:
    info = np.iinfo(dtype)
    return max(abs(int(info.min)), abs(int(info.max)))


def exact_matmul(a: np.ndarray, b: np.ndarray, max_abs_a: int | None = None, max_abs_b: int | None = None) -> np.ndarray:
    """``a @ b`` of integer matrices, exactly, as int64 (reference path: float64 BLAS).

    Args:
        a: ``(..., M, K)`` integer array.
        b: ``(..., K, N)`` integer array.
        max_abs_a, max_abs_b: bounds on the magnitudes (default: the dtypes' ranges).

    Returns:
        int64 array ``(..., M, N)``.
    """
    ma = _max_abs(a.dtype) if max_abs_a is None else int(max_abs_a)
    mb = _max_abs(b.dtype) if max_abs_b is None else int(max_abs_b)
    k = a.shape[-1]
    if ma * mb * max(k, 1) < F64_EXACT:
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    return np.matmul(a.astype(np.int64), b.astype(np.int64))


def matmul_f32_chunked(a32: np.ndarray, b32: np.ndarray, chunk: int, out_i32: np.ndarray | None = None) -> np.ndarray:
    """``a32 @ b32`` for float32 operands holding integers, exact given ``chunk``.

    Returns float32 when one chunk covers K (the values are exact integers below
    ``2**24``), else an int32 sum of the chunks.
    """
    k = a32.shape[-1]
    if k <= chunk:
        return np.matmul(a32, b32)
    acc = out_i32
    for k0 in range(0, k, chunk):
        part = np.matmul(a32[..., k0 : k0 + chunk], b32[..., k0 : k0 + chunk, :]).astype(np.int32)
        if acc is None:
            acc = part
        else:
            acc += part
    return acc


# --------------------------------------------------------------------------------------
# Requantization
# --------------------------------------------------------------------------------------


def requantize_reference(acc, bias, q, shift, mode: int, out_zp: int, lo: int, hi: int, dtype, wide: bool = False):
    """numpy: ``clamp(MBQM(acc + bias, q, shift) + out_zp, lo, hi)`` cast to ``dtype``.

    ``acc`` is ``(..., N)`` (int64), ``bias``/``q``/``shift`` broadcast along N.
    ``wide=True`` uses the int64-accumulator MBQM of the 16x8 kernels.
    """
    acc = np.asarray(acc, np.int64)
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)
    if wide:
        scaled = fp.multiply_by_quantized_multiplier_int64(acc, q, shift)
    else:
        scaled = fp.multiply_by_quantized_multiplier(acc, q, shift, mode=mode)
    return np.clip(scaled + out_zp, lo, hi).astype(dtype)


@njit
def _srdhm(a, b):
    if a == b and a == -2147483648:
        return np.int64(2147483647)
    ab = a * b
    if ab >= 0:
        return (ab + np.int64(1073741824)) >> 31
    return -((np.int64(1073741823) - ab) >> 31)


@njit
def requant_scalar(x, q, s, mode, out_zp, lo, hi):
    """clamp(MBQM(x, q, s) + out_zp, lo, hi) for one int64 accumulator ``x``.

    ``mode``: fixedpoint.ROUND_DOUBLE / ROUND_SINGLE / ROUND_DOUBLE_UP, or 3 for the
    int64-accumulator form of the 16x8 kernels. The C kernels return int32, so the
    scaled value wraps to int32 before the zero point is added.
    """
    if mode == 1:
        total = 31 - s
        v = (x * q + (np.int64(1) << (total - 1))) >> total
    elif mode == 3:
        qq = np.int64(q)
        red = (qq + 32768) >> 16 if qq < 0x7FFF0000 else np.int64(0x7FFF)
        total = 15 - s
        v = (x * red + (np.int64(1) << (total - 1))) >> total
    else:
        left = s if s > 0 else 0
        right = -s if s < 0 else 0
        xl = ((x << left) + np.int64(2147483648)) & np.int64(0xFFFFFFFF)
        xl -= np.int64(2147483648)
        h = _srdhm(xl, np.int64(q))
        if mode == 2:
            v = (h + ((np.int64(1) << right) >> 1)) >> right
        else:
            mask = (np.int64(1) << right) - 1
            rem = h & mask
            thr = (mask >> 1) + (1 if h < 0 else 0)
            v = (h >> right) + (1 if rem > thr else 0)
    v = ((v + np.int64(2147483648)) & np.int64(0xFFFFFFFF)) - np.int64(2147483648)
    v += out_zp
    if v < lo:
        v = lo
    elif v > hi:
        v = hi
    return v


@njit
def requant_block(acc, bias, q, shift, mode, out_zp, lo, hi, out):
    """Requantize a 2-D block ``out[m, n] = requant(acc[m, n] + bias[n])`` (serial).

    The common forms get their own branch-free loops (the mode test is outside them)
    so LLVM vectorizes them; ``q >= 0`` always (LiteRT multipliers are non-negative),
    so SRDHM's single overflow case (both operands INT32_MIN) cannot occur there.
    """
    m_total, n_total = acc.shape
    no_left = True
    for n in range(n_total):
        if shift[n] > 0:
            no_left = False
    if mode == 2 and no_left:
        # the usual case (every multiplier < 1): 32-bit operands so LLVM uses vpmuldq
        for m in range(m_total):
            for n in range(n_total):
                xl = np.int32(np.int64(acc[m, n]) + bias[n])  # wraps like C's int32
                ab = np.int64(xl) * np.int64(q[n])
                sab = ab + (np.int64(1073741824) if ab >= 0 else np.int64(-1073741823))
                h = np.int32((sab + ((sab >> 63) & np.int64(2147483647))) >> 31)
                right = -shift[n]
                v = ((np.int64(h) + ((np.int64(1) << right) >> 1)) >> right) + out_zp
                v = lo if v < lo else v
                v = hi if v > hi else v
                out[m, n] = v
    elif mode == 2 or mode == 0:
        for m in range(m_total):
            for n in range(n_total):
                x = np.int64(acc[m, n]) + bias[n]
                s = np.int64(shift[n])
                left = s if s > 0 else np.int64(0)
                right = -s if s < 0 else np.int64(0)
                xl = (((x << left) + np.int64(2147483648)) & np.int64(0xFFFFFFFF)) - np.int64(2147483648)
                ab = xl * np.int64(q[n])
                sab = ab + (np.int64(1073741824) if ab >= 0 else np.int64(-1073741823))
                # C division by 2**31 truncates toward zero
                h = (sab + ((sab >> 63) & np.int64(2147483647))) >> 31
                if mode == 2:
                    v = (h + ((np.int64(1) << right) >> 1)) >> right
                else:
                    mask = (np.int64(1) << right) - 1
                    thr = (mask >> 1) + (h >> 63 & 1)
                    v = (h >> right) + ((h & mask) > thr)
                v = ((v + np.int64(2147483648)) & np.int64(0xFFFFFFFF)) - np.int64(2147483648)
                v += out_zp
                v = lo if v < lo else v
                v = hi if v > hi else v
                out[m, n] = v
    else:
        for m in range(m_total):
            for n in range(n_total):
                x = np.int64(acc[m, n]) + bias[n]
                out[m, n] = requant_scalar(x, np.int64(q[n]), np.int64(shift[n]), mode, out_zp, lo, hi)


@njit(parallel=True)
def _requant_rows(acc, bias, q, shift, mode, out_zp, lo, hi, out):
    """out[m, n] = clamp(MBQM(acc[m, n] + bias[n], q[n], shift[n]) + out_zp, lo, hi).

    ``acc``: (M, N) float32/float64 holding exact integers, or an integer array;
    ``bias``: (N,) int64 (the bias with any zero-point correction folded in).
    Blocks of rows run in parallel.
    """
    m_total = acc.shape[0]
    block = 64
    nblocks = (m_total + block - 1) // block
    for bi in prange(nblocks):
        m0 = bi * block
        m1 = min(m_total, m0 + block)
        requant_block(acc[m0:m1], bias, q, shift, mode, out_zp, lo, hi, out[m0:m1])


def requantize_rows_jit(acc2d, bias, q, shift, mode: int, out_zp: int, lo: int, hi: int, out2d) -> None:
    """Numba :func:`requantize_reference` on a 2-D accumulator, written into ``out2d``."""
    _requant_rows(acc2d, bias, q, shift, np.int64(mode), np.int64(out_zp), np.int64(lo), np.int64(hi), out2d)


def fast_requant_tables(q, shift, mode: int):
    """Per-channel ``(add, total_shift)`` int64 tables for :func:`requantize_rows_fast`,
    or ``None`` when the fast form does not apply (a left shift, or a form other than
    ``ROUND_DOUBLE_UP`` and ``ROUND_SINGLE``; the latter is one shift as it stands).

    With ``ROUND_DOUBLE_UP`` and no left shift, ``SRDHM(x, q)`` is
    ``floor((x*q + 2**30) / 2**31)`` for every sign of ``x*q`` (the C division's
    truncation toward zero after the negative nudge ``1 - 2**30`` lands on the same
    integer), and a ties-up right shift of that is ``floor((h + r) / 2**rsh)`` with
    ``r = (1 << rsh) >> 1``. Nested floors of integer divisions merge, so the whole
    multiplier is one 64-bit ``(x*q + add) >> total`` with ``add = 2**30 + (r << 31)``
    and ``total = 31 + rsh`` (no overflow: ``|x*q| < 2**62``, ``r << 31 <= 2**61``).
    """
    shift = np.asarray(shift, np.int64)
    if mode == fp.ROUND_SINGLE and not np.any(shift > 0):
        # already one shift: (x*q + 2**(30 - shift)) >> (31 - shift) (ARM LiteRT's form)
        return np.int64(1) << (30 - shift), 31 - shift
    if mode != fp.ROUND_DOUBLE_UP or np.any(shift > 0):
        return None
    rsh = -shift
    rnd = (np.int64(1) << rsh) >> 1
    return (np.int64(1) << 30) + (rnd << 31), 31 + rsh


@njit(parallel=True)
def _requant_rows_fast(acc, bias, q, add, total, out_zp, lo, hi, out):
    """out[m, n] = clamp(((int32(acc[m, n] + bias[n]) * q[n] + add[n]) >> total[n]) + out_zp, lo, hi)
    (see :func:`fast_requant_tables`); blocks of rows in parallel."""
    m_total, n_total = acc.shape
    block = max(1, 4096 // max(1, n_total))
    nblocks = (m_total + block - 1) // block
    for bi in prange(nblocks):
        m0 = bi * block
        m1 = min(m_total, m0 + block)
        for m in range(m0, m1):
            for n in range(n_total):
                xl = np.int32(np.int64(acc[m, n]) + bias[n])  # wraps like C's int32
                v = ((np.int64(xl) * np.int64(q[n]) + add[n]) >> total[n]) + out_zp
                v = lo if v < lo else v
                v = hi if v > hi else v
                out[m, n] = v


def requantize_rows_fast(acc2d, bias, q, tables, out_zp: int, lo: int, hi: int, out2d) -> None:
    """:func:`requantize_rows_jit` for the ``ROUND_DOUBLE_UP``, no-left-shift case
    (``tables`` from :func:`fast_requant_tables`); bit-identical, about twice as fast."""
    _requant_rows_fast(acc2d, bias, q, tables[0], tables[1], np.int64(out_zp), np.int64(lo), np.int64(hi), out2d)


MODE_WIDE = 3  # the int64-accumulator MultiplyByQuantizedMultiplier (16x8 kernels)


# --------------------------------------------------------------------------------------
# Quantization parameters shared by the conv-like kernels
# --------------------------------------------------------------------------------------


def per_channel_multipliers(input_scale, filter_scales, output_scale, channels: int, legacy: bool = False):
    """Per-output-channel ``(q, shift)`` int32 arrays, computed as LiteRT does.

    ``input_scale * filter_scale / output_scale`` in double precision from the float32
    scales (a per-tensor filter scale is broadcast). ``legacy=True`` reproduces the
    uint8 path (``GetQuantizedConvolutionMultipler``), whose product of the input and
    filter scales is rounded to float32 first.
    """
    fs = np.asarray(filter_scales, np.float32).reshape(-1)
    if fs.size == 1:
        fs = np.repeat(fs, channels)
    xs = np.float32(input_scale)
    os_ = float(np.float32(output_scale))
    # numpy float64 arithmetic is IEEE double, as LiteRT's: the same reals, vectorized
    if legacy:
        reals = (xs * fs).astype(np.float64) / os_
    else:
        reals = np.float64(xs) * fs.astype(np.float64) / os_
    return fp.quantize_multiplier_array(reals)
