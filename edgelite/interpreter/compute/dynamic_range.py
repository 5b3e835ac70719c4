"""Shared pieces of the hybrid (dynamic-range) kernels: float32 activations, int8
constant weights, float32 output.

LiteRT runs such an operator by quantizing its float input *on every call*, one
scale per batch row, multiplying in integers and scaling the int32 accumulators back
to float. Two input quantizers exist (``tensor_utils`` in LiteRT's sources):

* symmetric: ``range = max(|min|, |max|)``, ``scale = range / 127``,
  ``q = clamp(round(x * (127 / range)), -127, 127)`` (all float32, ties away from
  zero); a zero row gives zeros and scale 1;
* asymmetric: the real range ``[min(0, lo), max(0, hi)]`` is mapped onto
  ``[-128, 127]``: the width ``max - min`` is a float32 difference, divided by
  255 in double; the zero point is taken from whichever end has the smaller
  error and rounded, the scale is stored as float32, and
  ``q = clamp(zp + round(x * (1 / scale)), -128, 127)``. A constant-zero
  row gives zeros, scale 1, zero point 0. The integer sums are then corrected by
  ``row_sum(w) * zp``.

Which one an operator uses is part of its semantics (FULLY_CONNECTED and
BATCH_MATMUL: the ``asymmetric_quantize_inputs`` option; CONV_2D: asymmetric when the
filter has several distinct per-channel scales; DEPTHWISE_CONV_2D and TRANSPOSE_CONV:
always asymmetric). The functions here are the numpy forms; every result is exact
(the integer parts are computed exactly, the float parts in LiteRT's float32 order).

Rounding of ``x * inv`` follows the x86 ``ai-edge-litert`` wheel, whose quantizers are
the NEON ones compiled through a NEON-to-SSE translation (measured on fixtures: one
input value landing on an exact float32 tie after ``zp + x * inv`` decided it): the
first ``n & ~7`` values of a row are rounded in the vector loop as
``trunc(p + copysign(0.5, p))`` with a float32 add, the tail with C ``round``; the
asymmetric zero point is added *after* rounding, and its ``1 / scale`` is a double
division stored as float32.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute.dynamic_range import quantize_rows_symmetric
    >>> q, s = quantize_rows_symmetric(np.array([[0.5, -1.0, 0.25]], np.float32))
    >>> q.tolist(), float(s[0]) == np.float32(1.0) / np.float32(127)
    ([[64, -127, 32]], True)
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import int_gemm, simd_gemm
from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.compute.rounding import round_half_away

F32 = np.float32
I8 = np.int8


def _round_vector_lanes(prod: np.ndarray) -> np.ndarray:
    """The vector loop's rounding: ``trunc(p + (p < 0 ? -0.5 : 0.5))`` with a float32 add."""
    half = np.where(prod < 0, F32(-0.5), F32(0.5)).astype(F32)
    return np.trunc((prod + half).astype(F32)).astype(np.float64)


def _round_split(prod: np.ndarray) -> np.ndarray:
    """Round float32 products ``(rows, n)`` as the wheel's quantizers do: the first
    ``n & ~7`` columns in the vector loop, the tail with C ``round``."""
    n = prod.shape[1]
    vec = n & ~7
    out = np.empty(prod.shape, np.float64)
    out[:, :vec] = _round_vector_lanes(prod[:, :vec])
    out[:, vec:] = round_half_away(prod[:, vec:])
    return out


def quantize_rows_symmetric(x2d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 quantization of each row of a float32 ``(rows, n)`` array.

    Returns:
        ``(q, scale)``: int8 ``(rows, n)`` and float32 ``(rows,)``.
    """
    x = np.asarray(x2d, F32)
    rows = x.shape[0]
    if x.shape[1] == 0:
        return np.zeros(x.shape, I8), np.ones(rows, F32)
    rng = np.maximum(np.abs(x.min(axis=1)), np.abs(x.max(axis=1))).astype(F32)
    zero = rng == 0
    safe = np.where(zero, F32(1), rng)
    scale = np.where(zero, F32(1), safe / F32(127)).astype(F32)
    inv = (F32(127) / safe).astype(F32)
    prod = (x * inv[:, None]).astype(F32)
    q = np.clip(_round_split(prod), -127, 127).astype(I8)
    q[zero] = 0
    return q, scale


def asymmetric_params(lo: float, hi: float) -> tuple[np.float32, int]:
    """``(scale, zero_point)`` of LiteRT's asymmetric quantizer for one row's min/max
    (``min(0, lo)`` and ``max(0, hi)`` as Python's: a NaN end gives 0); the steps are
    :func:`_asymmetric_params_jit`'s, run as Python here (the reference path runs
    before Numba is loaded)."""
    rmin = F32(lo) if F32(lo) < F32(0) else F32(0)
    rmax = F32(hi) if F32(hi) > F32(0) else F32(0)
    if rmin == rmax:
        return F32(1), 0
    steps = getattr(_asymmetric_params_jit, "py_func", _asymmetric_params_jit)
    return steps(rmin, rmax)


def quantize_rows_asymmetric(x2d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric int8 quantization of each row of a float32 ``(rows, n)`` array.

    Returns:
        ``(q, scale, zero_point)``: int8 ``(rows, n)``, float32 ``(rows,)``, int32 ``(rows,)``.
    """
    x = np.asarray(x2d, F32)
    rows = x.shape[0]
    scales = np.ones(rows, F32)
    zps = np.zeros(rows, np.int32)
    q = np.zeros(x.shape, I8)
    if x.shape[1] == 0:
        return q, scales, zps
    mins, maxs = x.min(axis=1), x.max(axis=1)
    for r in range(rows):
        s, z = asymmetric_params(mins[r], maxs[r])
        scales[r], zps[r] = s, z
        if min(F32(0), mins[r]) == max(F32(0), maxs[r]):
            continue  # an all-zero row stays zeros
        inv = F32(1.0 / float(s))  # double division, stored as float
        prod = (x[r : r + 1] * inv).astype(F32)
        q[r] = np.clip(_round_split(prod)[0] + z, -128, 127).astype(I8)
    return q, scales, zps


def quantize_rows(x2d: np.ndarray, asymmetric: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Either quantizer; the symmetric one reports zero points of 0."""
    if asymmetric:
        return quantize_rows_asymmetric(x2d)
    q, s = quantize_rows_symmetric(x2d)
    return q, s, np.zeros(q.shape[0], np.int32)


def int_matmul(a_i8: np.ndarray, b_t_f32: np.ndarray, chunk: int) -> np.ndarray:
    """Exact ``a @ b`` for int8 ``a (M, K)`` and a float32 ``b (K, N)`` holding int8 values.

    Returns int64 ``(M, N)``.
    """
    acc = int_gemm.matmul_f32_chunked(a_i8.astype(F32), b_t_f32, chunk)
    return np.asarray(acc).astype(np.int64)


@njit
def _quantize_row_jit(x, inv, zp, qmin, qmax, out):
    """``out[j] = clamp(rnd(float32(x[j] * inv)) + zp, qmin, qmax)`` for float32 ``x`` and
    ``inv``, with ``rnd`` the wheel's rounding (see :func:`_round_split`): the first
    ``n & ~7`` values ``trunc(p +- 0.5)`` with a float32 add, the rest C ``round``."""
    n = x.shape[0]
    vec = n - n % 8
    half = np.float32(0.5)
    xv = x[:vec]
    ov = out[:vec]
    for j in range(vec):  # its own loop (no per-value test of j): it vectorizes
        p = xv[j] * inv  # float32 x float32 -> float32
        r = np.trunc(p - half) if p < 0 else np.trunc(p + half)
        v = np.int64(r) + zp
        v = qmin if v < qmin else v
        v = qmax if v > qmax else v
        ov[j] = v
    for j in range(vec, n):
        p = x[j] * inv
        a = np.floor(abs(np.float64(p)) + 0.5)  # exact in float64
        v = (-np.int64(a) if p < 0 else np.int64(a)) + zp
        v = qmin if v < qmin else v
        v = qmax if v > qmax else v
        out[j] = v


def quantize_rows_jit(x2d: np.ndarray, asymmetric: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`quantize_rows` with the work after numpy's row minima and maxima in one
    compiled call (same results: the scales and zero points come from the same
    float32/double steps as :func:`asymmetric_params`; a hybrid model makes this call
    for every layer, and its Python steps cost EfficientNet-B0 about 2 ms an invoke)."""
    x = np.ascontiguousarray(x2d, F32)
    rows, n = x.shape
    if n == 0:
        return np.zeros(x.shape, I8), np.ones(rows, F32), np.zeros(rows, np.int32)
    q = np.empty(x.shape, I8)
    scales = np.empty(rows, F32)
    zps = np.empty(rows, np.int32)
    _quantize_rows_ranged_jit(x, x.min(axis=1), x.max(axis=1), asymmetric, q, scales, zps)
    return q, scales, zps


@njit
def _quantize_rows_ranged_jit(x, mins, maxs, asymmetric, q, scales, zps):
    """Every row of :func:`quantize_rows_jit` given its minimum and maximum (numpy's,
    NaN when the row has one). ``min(0, v)`` and ``max(0, v)`` are Python's (``v`` only
    when it is below / above 0: a NaN gives 0), as in :func:`asymmetric_params`."""
    zero = np.float32(0.0)
    for r in range(x.shape[0]):
        mn, mx = mins[r], maxs[r]
        if asymmetric:
            lo = mn if mn < zero else zero
            hi = mx if mx > zero else zero
            if lo == hi:  # an all-zero row: zeros, scale 1, zero point 0
                q[r, :] = 0
                scales[r], zps[r] = 1.0, 0
                continue
            s, z = _asymmetric_params_jit(lo, hi)
            scales[r], zps[r] = s, z
            _quantize_row_jit(x[r], np.float32(1.0 / np.float64(s)), z, -128, 127, q[r])
        else:
            a, b = abs(mn), abs(mx)
            rng = b if b > a else a  # Python's max(a, b)
            if rng == 0:
                q[r, :] = 0
                scales[r], zps[r] = 1.0, 0
                continue
            scales[r] = rng / np.float32(127)
            zps[r] = 0
            _quantize_row_jit(x[r], np.float32(127) / rng, 0, -127, 127, q[r])


@njit
def _asymmetric_params_jit(lo, hi):
    """The scale and zero point for float32 ``lo <= 0 <= hi``, ``lo != hi``: the range is
    a float32 difference (both ends are floats in LiteRT; only the division by 255 is in
    double: a double difference moved the scale by an ulp on EfficientNet-B0's 1x1
    convolutions), the zero point comes from the end with the smaller error, rounded half
    away from zero; NaN (an infinite input made the range infinite: LiteRT's cast of it
    to int8 is undefined behaviour in C++) gives zero point 0."""
    rmin, rmax = np.float64(lo), np.float64(hi)
    scale = np.float64(hi - lo) / 255.0
    zp_min = -128.0 - rmin / scale
    zp_max = 127.0 - rmax / scale
    err_min = 128.0 + abs(rmin / scale)
    err_max = 127.0 + abs(rmax / scale)
    zpd = zp_min if err_min < err_max else zp_max
    if zpd <= -128.0:
        zp = -128
    elif zpd >= 127.0:
        zp = 127
    elif zpd != zpd:
        zp = 0
    else:
        a = abs(zpd)
        f = np.floor(a)
        rounded = f + (1.0 if a - f >= 0.5 else 0.0)
        zp = int(-rounded) if zpd < 0 else int(rounded)
    return np.float32(scale), zp


def scale_accumulators(acc: np.ndarray, row_scale: np.ndarray, col_scale: np.ndarray | None) -> np.ndarray:
    """``float32(acc) * scale`` with ``scale = row_scale[m] (* col_scale[n])`` in float32.

    ``acc`` is an int64 ``(M, N)`` array of int32 values (LiteRT keeps them in int32).
    """
    acc32 = int_gemm_wrap32(acc).astype(F32)
    if col_scale is None:
        return (acc32 * row_scale.astype(F32)[:, None]).astype(F32)
    s = (row_scale.astype(F32)[:, None] * col_scale.astype(F32)[None, :]).astype(F32)
    return (acc32 * s).astype(F32)


def scale_int32(acc: np.ndarray, row_scale: np.ndarray, col_scale: np.ndarray | None, out: np.ndarray) -> None:
    """``out = float32(acc) * scale`` for an int32 ``acc``: :func:`scale_accumulators`
    without the int64 round trip, written into the float32 ``out`` (same shape).

    ``row_scale`` is float32 ``(rows,)`` or ``(1,)`` (one scale for every row).
    """
    if col_scale is None:
        s = row_scale.astype(F32)[:, None]
    else:
        s = (row_scale.astype(F32)[:, None] * col_scale.astype(F32)[None, :]).astype(F32)
    # dtype=F32: int32 -> float32 first, then a float32 product (without it numpy
    # would multiply in float64 and round once, which is not LiteRT's arithmetic)
    np.multiply(acc, s, out=out, dtype=F32)


@njit
def _scale_bias_act_jit(acc, scale, bias, has_bias, lo, hi, out):
    """``out[m, n] = clamp(float32(acc[m, n]) * scale[n] (+ bias[n]), lo, hi)``, float32
    steps in that order: :func:`scale_int32` then :func:`float_epilogue` in one pass."""
    rows, n = acc.shape
    for i in range(rows):
        a = acc[i]
        o = out[i]
        if has_bias:
            for j in range(n):
                r = np.float32(a[j]) * scale[j] + bias[j]
                r = lo if r < lo else r
                o[j] = hi if r > hi else r
        else:
            for j in range(n):
                r = np.float32(a[j]) * scale[j]
                r = lo if r < lo else r
                o[j] = hi if r > hi else r


def scale_bias_act(acc: np.ndarray, row_scale: np.ndarray, col_scale: np.ndarray | None, bias: np.ndarray | None,
                   lo: float, hi: float, out: np.ndarray) -> None:
    """:func:`scale_int32` of one row scale (``(1,)`` float32), then :func:`float_epilogue`,
    bit for bit, as one Numba pass (``acc`` int32 ``(M, N)``, ``out`` float32 ``(M, N)``)."""
    n = out.shape[1]
    r = row_scale.astype(F32)[0]
    scale = np.full(n, r, F32) if col_scale is None else (r * col_scale.astype(F32)).astype(F32)
    _scale_bias_act_jit(acc, scale, bias if bias is not None else scale, bias is not None, F32(lo), F32(hi), out)


@dataclass(frozen=True)
class VnniWeights:
    """Constant int8 weights ``(N, K)`` packed for ``simd_gemm.gemm_int32``."""

    packed: np.ndarray  # simd_gemm.pack_weights(w, tile[1])
    tile: tuple[int, int]
    depth: int
    row_sums: np.ndarray  # (N,) int64: sum_k w[n, k]
    corr: np.ndarray  # (N,) int64: -128 * row_sums (what gives the plain product)


def vnni_weights(w2d: np.ndarray, rows: int, use_jit: bool) -> VnniWeights | None:
    """The packed weights when the VNNI product can run (JIT on, CPU with VNNI, ``K``
    in range), else None (the kernels keep their float-BLAS path)."""
    n, k = w2d.shape
    if not use_jit or not simd_gemm.usable(k):
        return None
    tile = simd_gemm.choose_tile(rows, n)
    w8 = np.asarray(w2d, I8)
    return VnniWeights(
        packed=simd_gemm.pack_weights(w8, tile[1]), tile=tile, depth=k,
        row_sums=w8.sum(axis=1, dtype=np.int64), corr=simd_gemm.bias_correction(w8, 0),
    )


def vnni_matmul(a2d: np.ndarray, vw: VnniWeights, zp: int, out2d: np.ndarray, threads: int) -> None:
    """``out2d = sum_k (a[m, k] - zp) * w[n, k]`` as int32, exactly (``a2d`` int8
    ``(M, lda)``, C-contiguous, ``lda`` >= ``K`` rounded up to 4)."""
    corr = vw.corr if zp == 0 else vw.corr - np.int64(zp) * vw.row_sums
    simd_gemm.gemm_int32(a2d, vw.packed, vw.depth, vw.tile, corr, out2d, threads)


def int_gemm_wrap32(v: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to int32 (the C accumulators' width)."""
    return (((np.asarray(v, np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)).astype(np.int64)


def weight_scales(t, channels: int, axis_size: int | None = None) -> tuple[np.ndarray, bool]:
    """Float32 weight scales broadcast to ``channels`` values, and whether they are per channel."""
    s = np.asarray(t.quant.scale, F32).reshape(-1)
    if s.size == 1:
        return np.repeat(s, channels), False
    if s.size != channels:
        raise ValueError(f"{s.size} scales for {channels} channels")
    return s.copy(), True


def patches(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, pad_top: int, pad_left: int,
            out_h: int, out_w: int) -> np.ndarray:
    """``(B, OH, OW, KH*KW, C)`` windows of an NHWC integer array, zeros outside it.

    Callers pass values already centred on their zero point, so the zeros stand for
    the padding LiteRT fills with the zero point.
    """
    b, h, w, c = x.shape
    need_h = (out_h - 1) * sh + (kh - 1) * dh + 1
    need_w = (out_w - 1) * sw + (kw - 1) * dw + 1
    pad_b = max(0, need_h - h - pad_top)
    pad_r = max(0, need_w - w - pad_left)
    xp = np.pad(x, ((0, 0), (pad_top, pad_b), (pad_left, pad_r), (0, 0)))
    taps = []
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            taps.append(xp[:, y0 : y0 + (out_h - 1) * sh + 1 : sh, x0 : x0 + (out_w - 1) * sw + 1 : sw, :])
    return np.stack(taps, axis=3)


def quantize_batches(x: np.ndarray, asymmetric: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantize each batch (leading index) of ``x`` as one row; returns int16 values
    centred on their zero point, the float32 scales and the int32 zero points."""
    n = x.shape[0]
    q, s, zp = quantize_rows(x.reshape(n, -1), asymmetric)
    centred = q.astype(np.int16).reshape(x.shape) - zp.astype(np.int16).reshape((n,) + (1,) * (x.ndim - 1))
    return centred, s, zp


def float_epilogue(res: np.ndarray, bias: np.ndarray | None, lo: float, hi: float) -> np.ndarray:
    """``clamp(res + bias, lo, hi)`` in place on a float32 array (bias on the last axis)."""
    if bias is not None:
        res += bias
    if lo != -np.inf or hi != np.inf:
        np.clip(res, lo, hi, out=res)
    return res
