"""The fast numpy path of the int8 conv-like reference kernels (no Numba).

A fresh process runs its first invoke on the numpy reference kernels while Numba loads
in the background, and a machine without Numba runs them on every invoke, so they must
be quick as well as exact. This module holds what CONV_2D, DEPTHWISE_CONV_2D and
FULLY_CONNECTED (int8 activations, symmetric int8 weights) share on that path:

* **Exact sums in float BLAS.** int8 products are at most ``2**14`` in magnitude, so a
  float32 GEMM over up to 1024 terms of raw (uncentred) int8 values never rounds
  (``int_gemm.F32_EXACT``); longer reductions add such chunks as int32. The
  input zero point is folded into the bias: ``sum w (x - zp) = sum w x - zp sum w``.
  Depthwise taps (``(x - zp) * w``, at most ``255 * 128``) are summed in float32 too.
* **A one-shift requantization** (:class:`RequantPlan`): LiteRT's x86 form
  (``ROUND_DOUBLE_UP``, multipliers below 1) and its ARM form (``ROUND_SINGLE``) are
  one 64-bit ``(x * q + add) >> total`` (``int_gemm.fast_requant_tables``, the same
  identity the Numba kernels use). When the int32 sum ``acc + bias`` provably cannot
  wrap, the bias, the rounding term and the output zero point fold into one
  per-channel constant: ``out = clamp((acc * q + c) >> total, lo, hi)`` with
  ``c = bias * q + add + out_zp * 2**total`` -- four numpy passes over int64, where the
  general ``fixedpoint.multiply_by_quantized_multiplier`` takes about fifteen.
  Every bound is checked in ``prepare`` (:func:`plan_requant`); a layer that fails one
  keeps the general reference path, so the results are the same bits either way
  (tests: ``tests/interpreter/kernels/test_int8_numpy_path.py``).
* **The same shift in float64** where it is exact: with ``qf = q * 2**-total`` and
  ``cf = c * 2**-total`` (powers of two: exact), ``floor(acc * qf + cf)`` is
  ``(acc * q + c) >> total`` whenever ``|acc * q| + |c| < 2**53`` for every channel (the
  product and the sum are then integers times ``2**-total`` that float64 holds
  exactly). Three float passes and a clamp into the output replace five int64 passes
  (numpy has no vector int64 multiply or per-element shift on x86); 41 of MobileNetV2's
  53 layers qualify, its large early ones all (the bound is ``K * max |w| * 128``;
  ``sum |w|`` would admit 5 more small late layers but costs a pass over their weights
  at allocation, more than it saves).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute import fixedpoint as fp, int8_numpy
    >>> q, s = fp.quantize_multiplier_array([0.01, 0.02])
    >>> plan = int8_numpy.plan_requant(np.array([5, -5]), q, s, fp.ROUND_DOUBLE_UP, 3, -128, 127, 10_000, 10_000)
    >>> out = np.empty((1, 2), np.int8)
    >>> int8_numpy.requantize_into(np.array([[1000.0, -1000.0]], np.float32), plan, out)
    >>> out.tolist()
    [[13, -17]]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import int_gemm

INT32_MAX = (1 << 31) - 1
F64_EXACT = 1 << 53
# |acc * q| + |c| must stay below 2**63; checked in float64 with a wide margin.
_INT64_SAFE = float(1 << 62)


@dataclass(frozen=True)
class RequantPlan:
    """``out[..., n] = clamp((acc[..., n] * q[n] + c[n]) >> total[n], lo, hi)`` (see the module doc)."""

    q: np.ndarray  # (N,) int64
    c: np.ndarray  # (N,) int64: bias * q + rounding term + out_zp << total
    total: np.ndarray  # (N,) int64 right shift
    lo: int
    hi: int
    # the float64 form, where it is exact (see the module doc): else None
    qf: np.ndarray | None = None  # (N,) float64: q * 2**-total
    cf: np.ndarray | None = None  # (N,) float64: c * 2**-total


def plan_requant(bias, q, shift, mode: int, out_zp: int, lo: int, hi: int, acc_bound, sum_bound) -> RequantPlan | None:
    """The one-shift plan of ``clamp(MBQM(int32(acc + bias), q, shift) + out_zp, lo, hi)``,
    or None where it does not apply (then the caller keeps the general path).

    Args:
        bias: ``(N,)`` integers added to the accumulator (None: zeros).
        q, shift: per-channel multipliers from ``fixedpoint.quantize_multiplier_array``.
        mode: the ``fixedpoint.ROUND_*`` form the kernel follows.
        out_zp, lo, hi: output zero point and clamp range.
        acc_bound: a bound on ``|acc|`` (the sum the GEMM gives, scalar or ``(N,)``).
        sum_bound: a bound on ``|acc + bias|`` (scalar or ``(N,)``): where it stays in
            int32, the C kernels' int32 addition cannot wrap.
    """
    n = np.asarray(q).size
    tables = int_gemm.fast_requant_tables(q, shift, mode)
    if tables is None or np.max(sum_bound, initial=0) > INT32_MAX:
        return None
    add, total = (np.broadcast_to(np.asarray(t, np.int64), (n,)) for t in tables)
    q64 = np.asarray(q, np.int64).reshape(n)
    b64 = np.zeros(n, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(n)
    # float64 estimates of every magnitude, to keep the int64 arithmetic below 2**62
    zp_term = abs(float(out_zp)) * np.exp2(total.astype(np.float64))
    c_mag = np.abs(b64.astype(np.float64)) * q64 + add.astype(np.float64) + zp_term
    acc_mag = np.asarray(acc_bound, np.float64) * q64
    if np.max(c_mag + acc_mag, initial=0.0) >= _INT64_SAFE or np.max(np.abs(b64), initial=0) > INT32_MAX:
        return None
    c = b64 * q64 + add + (np.int64(out_zp) << total)
    qf = cf = None
    if _float64_exact(acc_bound, q64, c):
        scale = np.ldexp(1.0, (-total).astype(np.int32))  # 2**-total, exact
        qf, cf = q64 * scale, c * scale
    return RequantPlan(q=q64, c=c, total=np.ascontiguousarray(total), lo=int(lo), hi=int(hi), qf=qf, cf=cf)


def _float64_exact(acc_bound, q64: np.ndarray, c: np.ndarray) -> bool:
    """Whether ``|acc| * q + |c| < 2**53`` on every channel: computed in int64, which
    the checks before (``< 2**62``) keep from wrapping."""
    bound = np.broadcast_to(np.asarray(acc_bound, np.int64), q64.shape)
    return bool(np.all(bound * q64 + np.abs(c) < F64_EXACT))


def requantize_into(acc: np.ndarray, plan: RequantPlan, out: np.ndarray) -> None:
    """Write the requantized ``acc`` (``(..., N)``, float holding exact integers, or an
    integer array) into ``out`` (int8, any shape of the same size, any strides)."""
    if plan.qf is not None:
        y = np.multiply(acc, plan.qf)  # float64, exact: acc * q * 2**-total (see the module doc)
        y += plan.cf
        np.floor(y, out=y)
        np.clip(y.reshape(out.shape), plan.lo, plan.hi, out=out, casting="unsafe")
        return
    v = np.multiply(acc, plan.q, dtype=np.int64, casting="unsafe")  # float -> int64 exactly: integers
    v += plan.c
    v >>= plan.total
    np.clip(v, plan.lo, plan.hi, out=v)
    np.copyto(out, v.reshape(out.shape), casting="unsafe")


def exact_gemm(a: np.ndarray, w_t: np.ndarray, max_abs_a: int, max_abs_w: int) -> np.ndarray:
    """``a @ w_t`` of integer-valued matrices on float32 BLAS, exactly: one GEMM where
    every partial sum stays below ``2**24``, else chunks of K added as int32
    (``int_gemm.matmul_f32_chunked``). ``a``: ``(M, K)``; ``w_t``: ``(K, N)``."""
    chunk = int_gemm.chunk_for(max_abs_a, max_abs_w)
    return int_gemm.matmul_f32_chunked(a.astype(np.float32, copy=False), w_t.astype(np.float32, copy=False), chunk)


def padded_input(x: np.ndarray, win, fill, dtype, sub: int = 0) -> np.ndarray:
    """``x - sub`` as ``dtype`` inside a border of ``fill`` wide enough for every tap of
    ``win`` (a ``conv_geometry.Window2D``); only the border cells are written twice."""
    b, h, w, c = x.shape
    eff_h = (win.kh - 1) * win.dh + 1
    eff_w = (win.kw - 1) * win.dw + 1
    hp = max(win.pad_h + h, (win.out_h - 1) * win.sh + eff_h)
    wp = max(win.pad_w + w, (win.out_w - 1) * win.sw + eff_w)
    if hp == h and wp == w and win.pad_h == 0 and win.pad_w == 0:
        xp = x.astype(dtype)
        if sub:
            xp -= sub
        return xp
    xp = np.empty((b, hp, wp, c), dtype)
    inner = xp[:, win.pad_h : win.pad_h + h, win.pad_w : win.pad_w + w]
    np.copyto(inner, x, casting="unsafe")
    if sub:
        inner -= sub
    xp[:, : win.pad_h] = fill
    xp[:, win.pad_h + h :] = fill
    xp[:, win.pad_h : win.pad_h + h, : win.pad_w] = fill
    xp[:, win.pad_h : win.pad_h + h, win.pad_w + w :] = fill
    return xp


def taps(xp: np.ndarray, win):
    """For each tap ``(i, j)`` in row-major order, the ``(B, OH, OW, C)`` strided view of
    the padded input ``xp`` (from :func:`padded_input`) that tap reads."""
    for i in range(win.kh):
        for j in range(win.kw):
            y0, x0 = i * win.dh, j * win.dw
            yield xp[:, y0 : y0 + (win.out_h - 1) * win.sh + 1 : win.sh, x0 : x0 + (win.out_w - 1) * win.sw + 1 : win.sw, :]


def tap_sums(xp: np.ndarray, w: np.ndarray, win) -> np.ndarray:
    """``sum_{i,j} taps(xp, win)[i, j] * w[i, j]`` as a new float32 ``(B, OH, OW, C)``
    array, for float32 ``xp`` (from :func:`padded_input`) and ``w`` ``(KH, KW, C)``
    holding integers whose products, summed in any grouping, stay below ``2**24`` (the
    caller checks it): every partial sum is then exact, so one ``einsum`` over a
    sliding-window view gives the bits of adding the taps one by one, 1.4-2.6x faster
    on MobileNetV2's depthwise layers (measured: one pass instead of two per tap)."""
    eff_h = (win.kh - 1) * win.dh + 1
    eff_w = (win.kw - 1) * win.dw + 1
    view = np.lib.stride_tricks.sliding_window_view(xp, (eff_h, eff_w), axis=(1, 2))
    view = view[:, : (win.out_h - 1) * win.sh + 1 : win.sh, : (win.out_w - 1) * win.sw + 1 : win.sw, :,
                :: win.dh, :: win.dw]
    return np.einsum("bhwcij,ijc->bhwc", view, w)


def im2col(x: np.ndarray, win, fill: int) -> np.ndarray:
    """``(B*OH*OW, KH*KW*C)`` float32 patches of raw ``x`` (``fill`` in the padding), K
    ordered ``(kh, kw, c)`` like the weights; a reshape of ``x`` for a 1x1, stride-1,
    unpadded window."""
    b, c = x.shape[0], x.shape[3]
    m = b * win.out_h * win.out_w
    if win.kh == win.kw == 1 and win.sh == win.sw == 1 and win.pad_h == win.pad_w == 0:
        return x.reshape(m, c).astype(np.float32)
    xp = padded_input(x, win, fill, np.float32)
    cols = np.empty((b, win.out_h, win.out_w, win.kh * win.kw, c), np.float32)
    for t, view in enumerate(taps(xp, win)):
        cols[:, :, :, t] = view
    return cols.reshape(m, win.kh * win.kw * c)


__all__ = ["RequantPlan", "plan_requant", "requantize_into", "exact_gemm", "padded_input", "taps", "tap_sums", "im2col"]
