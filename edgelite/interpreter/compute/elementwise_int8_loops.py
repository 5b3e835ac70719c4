"""Numba loops of the quantized binary kernels (ADD, SUB, SQUARED_DIFFERENCE, MUL).

:mod:`elementwise_quant` holds the kernels, their ``prepare`` and the numpy
reference; this module turns the prepared quantization parameters into one fused
per-element formula and runs it over the output without temporaries.

Every rescaling LiteRT performs here (``MultiplyByQuantizedMultiplier`` in its
double- or single-rounding form, and the SIMD loops' variants, see
:data:`elementwise_quant.FORM_SCALAR`) is, for a right shift ``r >= 0`` and a
non-negative multiplier, one 64-bit expression::

    p = x * A + B;   rescale(x) = (p + K - (N if p < 0 else 0)) >> C

* ``SRDHM(x << s, m)`` is ``floor((x*m*2**s + 2**30) / 2**31)`` for both signs of the
  product (gemmlowp's nudge ``1 - 2**30`` before a truncating division lands on the
  same integer), so ``A = m << s``, ``B = 2**30``, ``C = 31``;
* a following floor shift by ``r`` merges into the same floor: ``C = 31 + r``;
* a following ``RoundingDivideByPOT(h, r)`` (ties away from zero) is
  ``floor((h + 2**(r-1) - [h < 0]) / 2**r)``, and ``h < 0`` exactly when ``p < 0``:
  ``K = 2**(r-1) * 2**31``, ``N = 2**31`` (``K = N = 0`` when ``r = 0``);
* the single-rounding form is ``(x*m*2**s + 2**(30+r)) >> (31+r)``: ``B = 2**(30+r)``.

:func:`plan_binary` builds the parameters (two rows: LiteRT's SIMD elements and its
scalar elements), checks that no intermediate can leave int64 or the int32 range the
C code works in, and returns ``None`` when the fused form does not apply (a left
shift, a multiplier of 1 or more, extreme scale ratios): the caller then runs the
numpy reference. The tests compare these loops with the reference on every pair of
8-bit inputs.

Example:
    >>> import numpy as np
    >>> plan = plan_binary(COMB_ADD, None, (4,), [IDENTITY] * 2, [IDENTITY] * 2, [IDENTITY] * 2,
    ...                    (0, 0), 0, -128, 127, None, (128, 128))
    >>> out = np.empty(4, np.int8)
    >>> run_binary(plan, np.array([1, 2, 3, 4], np.int8), np.array([10, 20, 30, 40], np.int8), out)
    >>> out.tolist()
    [11, 22, 33, 44]
"""

from __future__ import annotations

from dataclasses import field

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import bound, pool
from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.compute.pool import fetch_add

# How the two rescaled inputs combine into the value the output rescaling takes.
COMB_ADD, COMB_SUB, COMB_SQDIFF, COMB_MUL = 0, 1, 2, 3

# The SIMD loops narrow the rescaled value to int16 lanes before adding the output
# offset (itself an int16 add that wraps): NARROW_NONE is the scalar loop (int32).
NARROW_NONE, NARROW_WRAP16, NARROW_SAT16 = 0, 1, 2

# (A, B, K, N, C) of the identity rescaling: x * 1 + 0 >> 0.
IDENTITY = (1, 0, 0, 0, 0)

_WIDE = 1 << 40  # "no saturation" bound of the narrowing step
_LIMIT = 1 << 62  # every |x * A + B + K| must stay below this
_CHUNK = 1024  # values per chunk of the tiled five-fold loop

# A row of the parameter table (int64), as the loops read it:
#   0 off_a, 1-5 (A, B, K, N, C) of input a, 6 off_b, 7-11 (A, B, K, N, C) of input b,
#   12 sign_a, 13 sign_b, 14 COMB_*, 15-19 (A, B, K, N, C) of the output,
#   20-21 narrowing bounds, 22 wrap to int16 (0/1), 23 output zero point, 24-25 clamp.


def rescale_row(m: int, shift: int, left: int, form: str, single: bool) -> tuple[int, int, int, int, int] | None:
    """``(A, B, K, N, C)`` of one rescaling of ``x << left`` by ``(m, shift)``.

    ``form``: ``"mbqm"`` (MultiplyByQuantizedMultiplier, double or ``single``
    rounding), ``"preshift"`` (``SRDHM(x << (left + shift), m)``) or ``"floor"``
    (``SRDHM(x << left, m) >> -shift``). ``None`` when the one-shift form does not
    apply (a positive shift, a negative preshift, a negative multiplier).

    Example:
        >>> rescale_row(1 << 30, -1, 0, "mbqm", False)
        (1073741824, 1073741824, 2147483648, 2147483648, 32)
    """
    if m < 0 or shift > 0:
        return None
    r = -shift
    if form == "preshift":
        pre = left + shift
        if pre < 0:
            return None
        return (m << pre, 1 << 30, 0, 0, 31)
    if form == "floor":
        return (m << left, 1 << 30, 0, 0, 31 + r)
    if single:
        return (m << left, 1 << (30 + r), 0, 0, 31 + r)
    half = (1 << r) >> 1
    return (m << left, 1 << 30, half << 31, (1 << 31) if r > 0 else 0, 31 + r)


def _bound(row, xmax: int) -> int | None:
    """Largest ``|rescale(x)|`` for ``|x| <= xmax``, or None when ``x * A`` may overflow."""
    a, b, k, _, c = row
    if xmax * a + b + k >= _LIMIT:
        return None
    return ((xmax * a + b + k) >> c) + 1


@dataclass(frozen=True)
class BinaryPlan:
    """How :func:`run_binary` walks the output, and the formula's parameters.

    ``path``: ``"flat"`` (same shapes, one run), ``"fivefold"`` (LiteRT's five-fold
    broadcast loops, ``y``; ``swap`` when the second input is the one that broadcasts
    fast), ``"generic"`` (any other broadcast, over 6-D views). Elements at a
    position ``i < bulk`` of each run (the output, a ``y4`` run, or a ``y3`` run
    when ``y4 == 1``) take row 0 of ``prm`` (LiteRT's SIMD loop), the others row 1.
    """

    path: str
    shape6: tuple[int, ...]
    y: tuple[int, int, int, int, int]
    swap: bool
    bulk: int
    prm: np.ndarray  # (2, 26) int64
    # five-fold, y4 > 1: the fast input's run repeated into long chunks (empty if unused)
    tile: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    threads: int = 1  # the operator's num_threads (for :func:`binary_calls`' split)


def plan_binary(comb: int, fivefold, out_shape: tuple, rows1, rows2, rows_out, offsets: tuple[int, int],
                out_offset: int, lo: int, hi: int, layout, umax: tuple[int, int], left: int = 0,
                narrow_simd: int = NARROW_NONE, dtype=np.int8) -> BinaryPlan | None:
    """The fused plan, or None when some rescaling needs the general code.

    Args:
        comb: ``COMB_*``.
        fivefold: None for same-shape inputs, ``(y0, y1, y2, y3, y4, fast)`` for
            LiteRT's five-fold broadcast (``fast``: the input that broadcasts fast),
            anything else for a generic broadcast.
        out_shape: the output shape.
        rows1, rows2, rows_out: ``[simd_row, scalar_row]`` of :func:`rescale_row`
            tuples (None where the form does not apply) for each input and the output.
        offsets: the inputs' offsets (``-zero_point``).
        out_offset, lo, hi: output zero point and clamp range.
        layout: ``(run, bulk)`` of LiteRT's SIMD elements, or None (all scalar).
        umax: bounds on ``|x + offset|`` of each input.
        left: the left shift applied to the inputs before their rescaling (the C code
            does it in int32, so it must not overflow).
        narrow_simd: ``NARROW_*`` of the SIMD elements.
        dtype: the inputs' dtype (for the five-fold path's tile scratch).
    """
    umax1, umax2 = umax
    if (umax1 << left) >= (1 << 31) or (umax2 << left) >= (1 << 31):
        return None
    simd_rows = [0, 1] if layout is not None and layout[1] > 0 else [1]
    for rows in (rows1, rows2, rows_out):
        if any(rows[r] is None for r in simd_rows):
            return None
    # magnitude checks: int64 never overflows, the value the output rescaling takes
    # stays an int32 (LiteRT computes it in int32 without wrapping in these ranges)
    for r in simd_rows:
        amax, bmax = _bound(rows1[r], umax1), _bound(rows2[r], umax2)
        if amax is None or bmax is None:
            return None
        if comb == COMB_MUL:
            raw = amax * bmax
        elif comb == COMB_SQDIFF:
            raw = (amax + bmax) ** 2
        else:
            raw = amax + bmax
        if raw >= (1 << 31) or _bound(rows_out[r], raw) is None:
            return None
    sign = (1, -1) if comb in (COMB_SUB, COMB_SQDIFF) else (1, 1)
    nd = len(out_shape)
    shape6 = (1,) * (6 - nd) + tuple(out_shape)
    if layout is None:
        bulk = 0
    else:
        bulk = int(layout[1])
    swap = False
    y = (1, 1, 1, 1, 1)
    if fivefold is None:
        path = "flat"
    elif isinstance(fivefold, tuple):
        path = "fivefold"
        y, swap = tuple(fivefold[:5]), fivefold[5] == 1
    else:
        path = "generic"
        bulk = 0
    prm = np.zeros((2, 26), np.int64)
    for r in (0, 1):
        src = [(offsets[0], rows1[r], sign[0]), (offsets[1], rows2[r], sign[1])]
        if swap:
            src.reverse()
        (oa, ra, sa), (ob, rb, sb) = src
        if r not in simd_rows:
            ra = rb = IDENTITY
        ro = rows_out[r] if r in simd_rows else IDENTITY
        narrow = narrow_simd if r == 0 else NARROW_NONE
        nlo, nhi = (-32768, 32767) if narrow == NARROW_SAT16 else (-_WIDE, _WIDE)
        prm[r] = (oa, *ra, ob, *rb, sa, sb, comb, *ro, nlo, nhi, int(narrow != NARROW_NONE), out_offset, lo, hi)
    tile = np.zeros(0, dtype)
    y3, y4 = y[3], y[4]
    if path == "fivefold" and y4 > 1 and y3 > 1 and y4 < _CHUNK and (bulk == 0 or bulk >= y4):
        # one form over whole runs: the repeated run can be tiled into long chunks
        tile = np.zeros(y4 * max(1, _CHUNK // y4), dtype)
    return BinaryPlan(path, shape6, y, swap, bulk, prm, tile)


def run_binary(plan: BinaryPlan, x1: np.ndarray, x2: np.ndarray, out: np.ndarray) -> None:
    """Run a :class:`BinaryPlan` on the input arrays, writing ``out``."""
    if plan.path == "flat":
        _binary_flat(x1.reshape(-1), x2.reshape(-1), out.reshape(-1), plan.bulk, plan.prm)
    elif plan.path == "fivefold":
        a, b = (x2, x1) if plan.swap else (x1, x2)
        y0, y1, y2, y3, y4 = plan.y
        _binary_fivefold(a.reshape(-1), b.reshape(-1), out.reshape(-1), y0, y1, y2, y3, y4, plan.bulk, plan.prm,
                         plan.tile)
    else:
        s6 = plan.shape6
        _binary_generic(
            np.broadcast_to(x1.reshape((1,) * (6 - x1.ndim) + x1.shape), s6),
            np.broadcast_to(x2.reshape((1,) * (6 - x2.ndim) + x2.shape), s6),
            out.reshape(s6), plan.prm,
        )


# One-thread cost of an element of the fused formula (measured 0.5-0.6 ns, MUL and ADD), for
# the pool's decision to split.
ELEMENT_NS = 0.6


def binary_calls(plan: BinaryPlan, x1: np.ndarray, x2: np.ndarray, out: np.ndarray) -> list | None:
    """:func:`run_binary` as prepared calls ``[(fn, args)]`` (``compute.bound``; C-contiguous
    arrays), or None for the generic path. Same-shape inputs, and the five-fold broadcast of
    one run over all pixels (a squeeze-excitation scale), are cut into chunks that the
    thread pool shares when ``plan.threads > 1`` and the operator is large enough; every
    element keeps its form (row of ``prm``), so the output is the same."""
    threads = plan.threads
    if plan.path == "flat":
        a, b, o = x1.reshape(-1), x2.reshape(-1), out.reshape(-1)
        n = o.shape[0]
        n_chunks = pool.chunks_for(n * ELEMENT_NS, max(1, n // 256), threads, prepared=True)
        if n_chunks <= 1:
            return [(_binary_flat, (a, b, o, plan.bulk, plan.prm))]
        per = -(-(-(-n // n_chunks)) // 64) * 64  # whole cache lines
        n_chunks = -(-n // per)
        return [bound.pooled(_binary_flat_claimed, (a, b, o, np.int64(plan.bulk), plan.prm, np.int64(per),
                                                    np.int64(n_chunks)), n_chunks, threads)]
    if plan.path == "fivefold":
        a, b = (x2, x1) if plan.swap else (x1, x2)
        y0, y1, y2, y3, y4 = plan.y
        a, b, o = a.reshape(-1), b.reshape(-1), out.reshape(-1)
        if y0 * y1 * y2 == 1 and y4 > 1 and plan.tile.shape[0] >= y4 and threads > 1:
            total = y3 * y4
            blk = plan.tile.shape[0] // y4 * y4
            n_blocks = -(-total // blk)
            n_chunks = pool.chunks_for(total * ELEMENT_NS, n_blocks, threads, prepared=True)
            if n_chunks > 1:
                per_blocks = -(-n_blocks // n_chunks)
                n_chunks = -(-n_blocks // per_blocks)
                tiles = np.zeros((min(threads, n_chunks), blk), plan.tile.dtype)  # one per participant
                return [bound.pooled(_binary_fivefold_claimed, (a, b, o, np.int64(y3), np.int64(y4),
                                                                np.int64(plan.bulk), plan.prm, tiles,
                                                                np.int64(per_blocks), np.int64(n_chunks)),
                                     n_chunks, threads)]
        return [(_binary_fivefold, (a, b, o, y0, y1, y2, y3, y4, plan.bulk, plan.prm, plan.tile))]
    return None


# --------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------


@njit
def _row(prm, r):
    """Row ``r`` of the parameter table as a tuple (kept in registers by the loops)."""
    p = prm[r]
    return (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12],
            p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25])


@njit
def _elem(xa, xb, P):
    """One output value of ADD / SUB / SQUARED_DIFFERENCE::

        a = rescale(xa + off_a), b = rescale(xb + off_b)
        v = sa*a + sb*b | (a - b)**2
        r = rescale(v);  SIMD rows: r = sat16(r) or r, then wrap16(r + zo); else r + zo
        out = clamp(r, lo, hi)
    """
    oa, aa, ba, ka, na, ca = P[0], P[1], P[2], P[3], P[4], P[5]
    ob, ab, bb, kb, nb, cb = P[6], P[7], P[8], P[9], P[10], P[11]
    pa = (np.int64(xa) + oa) * aa + ba
    a = (pa + ka - ((pa >> 63) & na)) >> ca
    pb = (np.int64(xb) + ob) * ab + bb
    b = (pb + kb - ((pb >> 63) & nb)) >> cb
    v = P[12] * a + P[13] * b
    if P[14] == 2:
        v = v * v
    return _finish(v, P)


@njit
def _elem_mul(xa, xb, P):
    """One output value of MUL: ``v = (xa + off_a) * (xb + off_b)``, then as :func:`_elem`."""
    # |x + off| < 2**16: 32-bit operands, so the products compile to vpmuldq
    v = np.int64(np.int32(np.int32(xa) + np.int32(P[0]))) * np.int64(np.int32(np.int32(xb) + np.int32(P[6])))
    return _finish(v, P)


@njit
def _finish(v, P):
    """Output rescaling, SIMD-lane narrowing, zero point and clamp. ``v`` and the
    multiplier are int32 values (:func:`plan_binary` checks it): a 32x32 -> 64 product."""
    ao, bo, ko, no, co = P[15], P[16], P[17], P[18], P[19]
    po = np.int64(np.int32(v)) * np.int64(np.int32(ao)) + bo
    r = (po + ko - ((po >> 63) & no)) >> co
    r = min(max(r, P[20]), P[21]) + P[23]
    if P[22] != 0:
        r = ((r + 32768) & 65535) - 32768
    return min(max(r, P[24]), P[25])


@njit
def _run_pair(xa, ia, xb, ib, out, io, n, bulk, P0, P1):
    """``n`` elements of two contiguous runs; the first ``bulk`` take ``P0``. The MUL
    test is outside the loops so each loop stays branch-free; unsigned indices spare
    Numba's negative-index fix-ups, which would turn the loads into gathers."""
    m = min(bulk, n)
    ia, ib, io = np.uint64(ia), np.uint64(ib), np.uint64(io)
    if P0[14] == 3:
        for i in range(m):
            u = np.uint64(i)
            out[io + u] = _elem_mul(xa[ia + u], xb[ib + u], P0)
        for i in range(m, n):
            u = np.uint64(i)
            out[io + u] = _elem_mul(xa[ia + u], xb[ib + u], P1)
    else:
        for i in range(m):
            u = np.uint64(i)
            out[io + u] = _elem(xa[ia + u], xb[ib + u], P0)
        for i in range(m, n):
            u = np.uint64(i)
            out[io + u] = _elem(xa[ia + u], xb[ib + u], P1)


@njit
def _run_scalar(va, xb, ib, out, io, n, bulk, P0, P1):
    """Like :func:`_run_pair` with the first input one repeated value ``va``."""
    m = min(bulk, n)
    ib, io = np.uint64(ib), np.uint64(io)
    if P0[14] == 3:
        for i in range(m):
            u = np.uint64(i)
            out[io + u] = _elem_mul(va, xb[ib + u], P0)
        for i in range(m, n):
            u = np.uint64(i)
            out[io + u] = _elem_mul(va, xb[ib + u], P1)
    else:
        for i in range(m):
            u = np.uint64(i)
            out[io + u] = _elem(va, xb[ib + u], P0)
        for i in range(m, n):
            u = np.uint64(i)
            out[io + u] = _elem(va, xb[ib + u], P1)


@njit
def _binary_flat(x1, x2, out, bulk, prm):
    """Same-shape inputs: one run over the whole (flat) tensor."""
    _run_pair(x1, 0, x2, 0, out, 0, out.shape[0], bulk, _row(prm, 0), _row(prm, 1))


@njit
def _binary_flat_claimed(x1, x2, out, bulk, prm, per, n_chunks, ctr):
    """:func:`_binary_flat` in chunks of ``per`` elements claimed from ``ctr`` by the caller
    and the thread pool's helpers; element ``i`` takes row 0 when ``i < bulk``, as there."""
    P0 = _row(prm, 0)
    P1 = _row(prm, 1)
    n = out.shape[0]
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        s = ch * per
        e = min(n, s + per)
        if s < e:
            _run_pair(x1, s, x2, s, out, s, e - s, min(max(bulk - s, 0), e - s), P0, P1)
        fetch_add(ctr, 1, 1)


@njit
def _binary_fivefold_claimed(x1, x2, out, y3, y4, bulk, prm, tiles, per_blocks, n_chunks, ctr):
    """:func:`_binary_fivefold`'s tiled walk for ``y0 = y1 = y2 = 1`` (``x1``: one run of
    ``y4``, paired with each of ``x2``'s ``y3`` runs), its long chunks claimed from ``ctr``
    in groups of ``per_blocks``; each participant repeats ``x1``'s run into its own row of
    ``tiles`` (its slot)."""
    P0 = _row(prm, 0)
    P1 = _row(prm, 1)
    blk = tiles.shape[1]
    total = y3 * y4
    slot = -1
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        if slot < 0:
            slot = fetch_add(ctr, 2, 1)
            t = tiles[slot]
            for r in range(blk // y4):
                for i in range(y4):
                    t[r * y4 + i] = x1[i]
        tile = tiles[slot]
        done = ch * per_blocks * blk
        end = min(total, done + per_blocks * blk)
        while done < end:
            n = min(blk, end - done)
            _run_pair(tile, 0, x2, done, out, done, n, n if bulk > 0 else 0, P0, P1)
            done += n
        fetch_add(ctr, 1, 1)


@njit
def _binary_fivefold(x1, x2, out, y0, y1, y2, y3, y4, bulk, prm, tile):
    """LiteRT's BinaryBroadcastFiveFold: ``x1`` (flat) broadcasts fast (its size is
    ``y0*y1*y2*y4``), ``x2`` has ``y0*y2*y3*y4`` elements. With ``y4 > 1`` runs of
    ``y4`` elements pair up; otherwise one value of ``x1`` meets a run of ``y3``.

    When one form covers whole ``y4`` runs and ``tile`` is given, the ``y3`` runs that
    meet the same run of ``x1`` are walked as long chunks against ``x1``'s run
    repeated in ``tile`` (same values, same forms, loops long enough to vectorize).
    """
    P0 = _row(prm, 0)
    P1 = _row(prm, 1)
    k = tile.shape[0] // y4 if y4 > 1 else 0
    i1p = 0
    op = 0
    reset2 = 0
    for _i0 in range(y0):
        i2p = reset2
        for _i1 in range(y1):
            i2p = reset2
            for _i2 in range(y2):
                if y4 > 1 and k > 0:
                    for r in range(k):
                        for t in range(y4):
                            tile[r * y4 + t] = x1[i1p + t]
                    total = y3 * y4
                    done = 0
                    while done < total:
                        n = min(k * y4, total - done)
                        _run_pair(tile, 0, x2, i2p + done, out, op + done, n, n if bulk > 0 else 0, P0, P1)
                        done += n
                    i2p += total
                    op += total
                    i1p += y4
                elif y4 > 1:
                    for _i3 in range(y3):
                        _run_pair(x1, i1p, x2, i2p, out, op, y4, bulk, P0, P1)
                        i2p += y4
                        op += y4
                    i1p += y4
                else:
                    _run_scalar(x1[i1p], x2, i2p, out, op, y3, bulk, P0, P1)
                    i2p += y3
                    op += y3
                    i1p += 1
        reset2 = i2p


@njit
def _binary_generic(x1, x2, out, prm):
    """Any broadcast over 6-D views, every element in the scalar form (row 1)."""
    P = _row(prm, 1)
    mul = P[14] == 3
    d0, d1, d2, d3, d4, d5 = out.shape
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                for i3 in range(d3):
                    for i4 in range(d4):
                        for i5 in range(d5):
                            a = x1[i0, i1, i2, i3, i4, i5]
                            b = x2[i0, i1, i2, i3, i4, i5]
                            out[i0, i1, i2, i3, i4, i5] = _elem_mul(a, b, P) if mul else _elem(a, b, P)
