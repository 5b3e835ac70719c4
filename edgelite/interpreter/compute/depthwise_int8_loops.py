"""The int8 DEPTHWISE_CONV_2D kernels for 3x3 and 5x5 filters with depth multiplier 1.

:mod:`depthwise_conv_quant` prepares the operator and holds the reference and the
general JIT kernel; when the filter is 3x3 or 5x5, the depth multiplier 1, every
multiplier below 1 and every weight in [-127, 127], :func:`plan_fast` builds what
these kernels need and :func:`run_fast` runs them. Same arithmetic, bit for bit:

* the input is copied once into a scratch padded with its zero point, so no tap needs
  a bounds test, and ``sum w * (x - zp) = sum w * x - zp * sum w`` for every output
  (padded taps included): the zero point folds into the bias;
* for stride 2 the scratch holds the even and the odd padded columns as two planes,
  so the taps of neighbouring outputs are contiguous, as they are for stride 1;
* each output row is walked in chunks of ``m`` pixels (``m * C`` values, weights and
  per-channel tables tiled to that length): one long loop sums the products in int16
  pairs (``|w| <= 127``, ``|x| <= 128``: a pair stays below 2**15) into int32 (its whole
  32-value blocks by :mod:`depthwise_vec`'s explicit vectors), a
  second one requantizes in the one-shift form of ``int_gemm.fast_requant_tables``
  (gemmlowp's ties-away form on LiteRT's last ``C % 8`` channels adds a sign
  correction), its whole 16-element blocks by :mod:`requant_vec`'s explicit vectors. Long
  loops vectorize fully; per-pixel loops over 32 channels did not.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute import fixedpoint as fp
    >>> w = np.ones((3, 3, 8), np.int64)
    >>> t = plan_fast(w, np.zeros(8, np.int64), np.full(8, 1 << 30, np.int32), np.full(8, -3, np.int32),
    ...               fp.ROUND_DOUBLE_UP, 8, 0, 8, 1, 1, 10, False, 8, 1)
    >>> (t.k, t.m, t.taps)
    (3, 64, (0, 8, 16))
"""

from __future__ import annotations

import math

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import bound
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute import pool
from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.compute.pool import fetch_add
from edgelite.interpreter.compute.depthwise_vec import dw_run3, dw_run5
from edgelite.interpreter.compute.requant_vec import requant_run, requant_run_neg


# One-thread cost estimate of the kernels (about 4 GMAC/s with the requantization),
# for the pool's decision to split a layer.
DEPTHWISE_NS_PER_MAC = 0.25


@dataclass(frozen=True)
class FastTables:
    """Tables and scratch of the kernels (``T = m * C``)."""

    k: int  # filter size (3 or 5)
    m: int  # output pixels per chunk
    px: int  # values per output pixel in a scratch row (C, or sw * C without planes)
    taps: tuple[int, ...]  # offsets of the k column taps in a scratch row
    planes: bool  # stride 2: even / odd padded columns stored as two planes
    wt: np.ndarray  # (k*k, T) int16 weights, tiled
    bias: np.ndarray  # (T,) int32: bias - in_zp * sum(w), wrapped to int32
    q: np.ndarray  # (T,) int32 multipliers
    add: np.ndarray  # (T,) int64 rounding constants of the one-shift form
    neg: np.ndarray  # (T,) int64 sign correction (gemmlowp's ties-away channels), or 0
    total: np.ndarray  # (T,) int64 total right shift
    has_neg: bool
    acc: np.ndarray  # (slots, T) int32 scratch, one row per thread taking part (pool slot)


def applies(kh: int, kw: int, mult: int, shift, mode: int, w_centered: np.ndarray) -> bool:
    """Whether the fast kernels take an int8 depthwise convolution."""
    return (kh == kw and kh in (3, 5) and mult == 1 and int(np.max(shift, initial=0)) <= 0
            and mode in (fp.ROUND_DOUBLE_UP, fp.ROUND_SINGLE) and int(np.abs(w_centered).max(initial=0)) <= 127)


def scratch_width(in_w: int, out_w: int, k: int, sw: int, dw: int, pad_left: int) -> int:
    """Columns of the padded scratch (even when it is split into two planes)."""
    wp = max(pad_left + in_w, (out_w - 1) * sw + (k - 1) * dw + 1)
    return wp + wp % 2 if (sw == 2 and dw == 1) else wp


def plan_fast(w_centered, bias, q, shift, mode: int, vec_ch: int, in_zp: int, c: int, sw: int, dw: int,
              wp: int, planes: bool, rows: int, threads: int) -> FastTables:
    """The tiled tables (see the module docstring).

    Args:
        w_centered: ``(k, k, C)`` int weights (zero point removed).
        bias: ``(C,)`` int64 bias.
        q, shift: per-channel multipliers (every shift <= 0).
        mode: ``fixedpoint.ROUND_DOUBLE_UP`` or ``ROUND_SINGLE``.
        vec_ch: channels from ``vec_ch`` on round with gemmlowp's form (LiteRT x86).
        in_zp: input zero point.
        c, sw, dw: channels, horizontal stride and dilation.
        wp: scratch columns (:func:`scratch_width`); ``planes``: stride-2 planes.
        rows, threads: output rows (``B * OH``) and threads, to size the scratch.
    """
    k = int(w_centered.shape[0])
    if planes:  # padded column 2x + j: plane j % 2, column x + j // 2
        px, taps = c, tuple((j % 2) * (wp // 2) * c + (j // 2) * c for j in range(k))
    else:
        px, taps = sw * c, tuple(j * dw * c for j in range(k))
    if px == c:
        g = 64 // math.gcd(c, 64)  # whole vectors per chunk, about 512 values
        m = g * max(1, 512 // (c * g))
    else:
        m = 1
    w = np.asarray(w_centered).reshape(k * k, c)
    # one-shift requantization per channel: v = (x*q + add - (neg if x*q + 2**30 < 0)) >> total
    r = -np.asarray(shift, np.int64)
    half = (np.int64(1) << r) >> 1
    if mode == fp.ROUND_SINGLE:
        add, neg = np.int64(1) << (30 + r), np.zeros(c, np.int64)
    else:
        add = (np.int64(1) << 30) + (half << 31)
        neg = np.where((np.arange(c) >= vec_ch) & (r > 0), np.int64(1) << 31, np.int64(0))
    bias32 = ((np.asarray(bias, np.int64) - in_zp * w.astype(np.int64).sum(axis=0) + (1 << 31)) % (1 << 32)
              - (1 << 31)).astype(np.int32)

    def tile(a, dtype):
        return np.ascontiguousarray(np.tile(np.asarray(a).astype(dtype), m))

    blocks = max(1, min(rows, max(1, threads)))  # a scratch row per thread (``pool`` slots)
    return FastTables(
        k=k, m=m, px=px, taps=taps, planes=planes, wt=np.ascontiguousarray(np.tile(w.astype(np.int16), (1, m))),
        bias=tile(bias32, np.int32), q=tile(q, np.int32), add=tile(add, np.int64), neg=tile(neg, np.int64),
        total=tile(31 + r, np.int64), has_neg=bool(neg.any()), acc=np.zeros((blocks, m * c), np.int32),
    )


def run_fast(f: FastTables, padded: np.ndarray, x: np.ndarray, pad_top: int, pad_left: int, sh: int, dh: int,
             oh: int, ow: int, out_zp: int, lo: int, hi: int, out: np.ndarray, threads: int = 1) -> None:
    """Copy ``x`` into the scratch (if any) and run the kernel into ``out`` (NHWC), its
    row blocks shared with the thread pool (:mod:`~edgelite.interpreter.compute.pool`)
    when ``threads > 1`` and the layer is large enough."""
    bound.run(run_fast_calls(f, padded, x, pad_top, pad_left, sh, dh, oh, ow, out_zp, lo, hi, out, threads))


def run_fast_calls(f: FastTables, padded: np.ndarray, x: np.ndarray, pad_top: int, pad_left: int, sh: int, dh: int,
                   oh: int, ow: int, out_zp: int, lo: int, hi: int, out: np.ndarray, threads: int = 1,
                   prepared: bool = False) -> list:
    """:func:`run_fast`'s work as prepared calls ``[(fn, args), ...]`` (``compute.bound``),
    the pool's chunk count worked out once (``prepared``: for a call plan, see
    ``pool.chunks_for``)."""
    calls = []
    if f.planes:
        calls.append((_copy_to_planes, (x, padded, pad_top, pad_left)))
        x = padded
    elif padded.size:
        calls.append((np.copyto, (padded[:, pad_top : pad_top + x.shape[1], pad_left : pad_left + x.shape[2], :], x,
                                  "unsafe")))  # as padded[...] = x
        x = padded
    xs = x.reshape(x.shape[0], x.shape[1], -1)
    o3 = out.reshape(out.shape[0], oh, -1)
    rows = o3.shape[0] * oh
    threads = min(threads, f.acc.shape[0])  # one scratch row per participant
    n_chunks = pool.chunks_for(o3.size * f.k * f.k * DEPTHWISE_NS_PER_MAC, rows, threads, prepared)
    args = (f.wt, f.bias, f.q, f.add, f.neg, f.total, f.has_neg, sh, dh, oh, ow, f.m, f.px)
    tail = (np.int64(out_zp), np.int64(lo), np.int64(hi), f.acc, o3, np.int64(n_chunks))
    kernel = _dw3x3_int8 if f.k == 3 else _dw5x5_int8
    calls.append(bound.pooled(kernel, (xs, *args, *f.taps, *tail), n_chunks, threads))
    return calls


# --------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------


@njit
def _copy_to_planes(x, planes, pt, pl):
    """``planes[b, pt + y, k % 2, k // 2] = x[b, y, k - pl]``: the input placed in the
    zero-point-padded scratch with the even and odd padded columns in two planes."""
    bsz, h, w, c = x.shape
    for b in range(bsz):
        for y in range(h):
            for xi in range(w):
                k = pl + xi
                src = x[b, y, xi]
                dst = planes[b, pt + y, k % 2, k // 2]
                for cc in range(c):
                    dst[cc] = src[cc]


@njit
def _dw3x3_int8(xs, wt, bias, q, add, neg, total, has_neg, sh, dh, oh, ow, m, px, t0, t1, t2, out_zp, lo, hi,
                acc, out, n_chunks, ctr):
    """3x3::

        acc = sum_{i, j < 3} w[i, j, c] * xs[b, y*sh + i*dh, col(x, j), c] + bias'[c]
        out = clamp(((int32(acc) * q[c] + add[c] - (neg[c] if int32(acc) * q[c] + 2**30 < 0))
                     >> total[c]) + out_zp, lo, hi)

    ``xs``: the zero-point-padded scratch, ``(B, HP, row)``; the taps of output pixel
    ``x`` in a row are at ``x * px + t0 / t1 / t2``. ``bias' = bias - zp * sum(w)``
    wrapped to int32: the int32 sum wraps as LiteRT's C kernel does. The tables (``T``
    long) are tiled over a chunk of ``m`` pixels (``px == C`` when ``m > 1``). Row
    blocks are chunks claimed from ``ctr`` by the caller and the pool's helpers
    (:mod:`~edgelite.interpreter.compute.pool`), each participant with its own row of
    ``acc`` (its slot); unsigned indices spare
    Numba's negative-index fix-ups, so the loads stay contiguous. (The requantization
    loop is written out in both kernels: as a called function it ran 10% slower.)
    """
    bsz = xs.shape[0]
    c = out.shape[2] // ow
    rows = bsz * oh
    per = (rows + n_chunks - 1) // n_chunks
    slot = -1
    taps = np.empty(3, np.int64)
    taps[0], taps[1], taps[2] = t0, t1, t2
    while True:
        blk = fetch_add(ctr, 0, 1)
        if blk >= n_chunks:
            break
        if slot < 0:
            slot = fetch_add(ctr, 2, 1)
        a = acc[slot]
        for by in range(blk * per, min(rows, (blk + 1) * per)):
                b = by // oh
                y = by % oh
                x0 = xs[b, y * sh]
                x1 = xs[b, y * sh + dh]
                x2 = xs[b, y * sh + 2 * dh]
                orow = out[b, y]
                xo = 0
                while xo < ow:
                    n = min(m, ow - xo) * c
                    base = xo * px
                    done = dw_run3(xs, b, y * sh, dh, base, taps, wt, bias, a, np.int64(n))
                    for t in range(done, n):
                        u = np.uint64(t)
                        i0 = np.uint64(base + t0 + t)
                        i1 = np.uint64(base + t1 + t)
                        i2 = np.uint64(base + t2 + t)
                        p0 = np.int16(wt[0, u] * x0[i0] + wt[1, u] * x0[i1])
                        p1 = np.int16(wt[2, u] * x0[i2] + wt[3, u] * x1[i0])
                        p2 = np.int16(wt[4, u] * x1[i1] + wt[5, u] * x1[i2])
                        p3 = np.int16(wt[6, u] * x2[i0] + wt[7, u] * x2[i1])
                        p4 = np.int16(wt[8, u] * x2[i2])
                        a[u] = np.int32(np.int32(p0) + np.int32(p1) + np.int32(p2) + np.int32(p3) + np.int32(p4) + bias[u])
                    ob = xo * c
                    if has_neg:
                        done = requant_run_neg(a, np.int64(n), q, add, neg, total, out_zp, lo, hi, orow, np.int64(ob))
                        for t in range(done, n):
                            u = np.uint64(t)
                            pq = np.int64(a[u]) * np.int64(q[u])
                            v = ((pq + add[u] - (((pq + 1073741824) >> 63) & neg[u])) >> total[u]) + out_zp
                            v = max(v, lo)
                            orow[np.uint64(ob + t)] = min(v, hi)
                    else:
                        done = requant_run(a, np.int64(n), q, add, total, out_zp, lo, hi, orow, np.int64(ob))
                        for t in range(done, n):
                            u = np.uint64(t)
                            v = ((np.int64(a[u]) * np.int64(q[u]) + add[u]) >> total[u]) + out_zp
                            v = max(v, lo)
                            orow[np.uint64(ob + t)] = min(v, hi)
                    xo += m
        fetch_add(ctr, 1, 1)


@njit
def _row5(wt, r, xr, i0, i1, i2, i3, i4, u):
    """The five taps of filter row ``r``: int16 pairs, summed in int32."""
    p0 = np.int16(wt[5 * r, u] * xr[i0] + wt[5 * r + 1, u] * xr[i1])
    p1 = np.int16(wt[5 * r + 2, u] * xr[i2] + wt[5 * r + 3, u] * xr[i3])
    return np.int32(p0) + np.int32(p1) + np.int32(np.int16(wt[5 * r + 4, u] * xr[i4]))


@njit
def _dw5x5_int8(xs, wt, bias, q, add, neg, total, has_neg, sh, dh, oh, ow, m, px, t0, t1, t2, t3, t4, out_zp,
                lo, hi, acc, out, n_chunks, ctr):
    """5x5, as :func:`_dw3x3_int8` with five column taps ``t0..t4`` per filter row."""
    bsz = xs.shape[0]
    c = out.shape[2] // ow
    rows = bsz * oh
    per = (rows + n_chunks - 1) // n_chunks
    slot = -1
    taps = np.empty(5, np.int64)
    taps[0], taps[1], taps[2], taps[3], taps[4] = t0, t1, t2, t3, t4
    while True:
        blk = fetch_add(ctr, 0, 1)
        if blk >= n_chunks:
            break
        if slot < 0:
            slot = fetch_add(ctr, 2, 1)
        a = acc[slot]
        for by in range(blk * per, min(rows, (blk + 1) * per)):
                b = by // oh
                y = by % oh
                r0 = y * sh
                x0 = xs[b, r0]
                x1 = xs[b, r0 + dh]
                x2 = xs[b, r0 + 2 * dh]
                x3 = xs[b, r0 + 3 * dh]
                x4 = xs[b, r0 + 4 * dh]
                orow = out[b, y]
                xo = 0
                while xo < ow:
                    n = min(m, ow - xo) * c
                    base = xo * px
                    done = dw_run5(xs, b, r0, dh, base, taps, wt, bias, a, np.int64(n))
                    for t in range(done, n):
                        u = np.uint64(t)
                        i0 = np.uint64(base + t0 + t)
                        i1 = np.uint64(base + t1 + t)
                        i2 = np.uint64(base + t2 + t)
                        i3 = np.uint64(base + t3 + t)
                        i4 = np.uint64(base + t4 + t)
                        s = (_row5(wt, 0, x0, i0, i1, i2, i3, i4, u) + _row5(wt, 1, x1, i0, i1, i2, i3, i4, u)
                             + _row5(wt, 2, x2, i0, i1, i2, i3, i4, u) + _row5(wt, 3, x3, i0, i1, i2, i3, i4, u)
                             + _row5(wt, 4, x4, i0, i1, i2, i3, i4, u))
                        a[u] = np.int32(s + bias[u])
                    ob = xo * c
                    if has_neg:
                        done = requant_run_neg(a, np.int64(n), q, add, neg, total, out_zp, lo, hi, orow, np.int64(ob))
                        for t in range(done, n):
                            u = np.uint64(t)
                            pq = np.int64(a[u]) * np.int64(q[u])
                            v = ((pq + add[u] - (((pq + 1073741824) >> 63) & neg[u])) >> total[u]) + out_zp
                            v = max(v, lo)
                            orow[np.uint64(ob + t)] = min(v, hi)
                    else:
                        done = requant_run(a, np.int64(n), q, add, total, out_zp, lo, hi, orow, np.int64(ob))
                        for t in range(done, n):
                            u = np.uint64(t)
                            v = ((np.int64(a[u]) * np.int64(q[u]) + add[u]) >> total[u]) + out_zp
                            v = max(v, lo)
                            orow[np.uint64(ob + t)] = min(v, hi)
                    xo += m
        fetch_add(ctr, 1, 1)
