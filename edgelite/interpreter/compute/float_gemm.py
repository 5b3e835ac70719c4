"""Float GEMM and im2col helpers shared by the float conv / fully-connected kernels.

A 1x1 convolution and a fully-connected layer are one matrix product
``out[M, N] = x[M, K] @ w[K, N] + bias`` followed by the fused activation clamp. The
product itself goes to BLAS through numpy's ``matmul``; what is ours is feeding it:

* the fast path multiplies the whole output at once (BLAS is most efficient on big
  products, and splits them over its threads), then adds the bias and clamps in one
  Numba pass (``bias_act_jit``) instead of numpy's two;
* a general convolution gathers blocks of output rows' input windows into a scratch
  buffer allocated in ``prepare`` (im2col; ``im2col_rows_jit`` copies each window row
  as one run when it lies inside the image), then multiplies each block.

Only numpy's BLAS is used: Numba's ``np.dot`` would call SciPy's, a second OpenBLAS
with its own thread pool, which costs about 0.25 s to import at start-up and makes the
two pools fight over cores when ``num_threads`` > 1. BLAS threads are set by
the executor (:mod:`edgelite.interpreter.compute.threads`), never here.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute.float_gemm import gemm_bias_act
    >>> x = np.ones((4, 3), np.float32); w = np.ones((3, 2), np.float32)
    >>> out = np.empty((4, 2), np.float32)
    >>> gemm_bias_act(x, w, np.zeros(2, np.float32), 0.0, 2.0, out)
    >>> float(out.max())
    2.0
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.compute import bound, pool, threads
from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.compute.pool import fetch_add

__all__ = [
    "gemm_bias_act",
    "gemm_bias_act_fast",
    "bias_act_inplace",
    "bias_act_jit",
    "im2col",
    "im2col_rows_jit",
    "conv_im2col_fast",
    "grouped_conv_fast",
    "rows_per_block",
]

def rows_per_block(n_cols: int, k: int) -> int:
    """Rows per im2col block: the block's scratch and output rows take about 1 MiB."""
    budget = 256 * 1024  # floats
    return int(max(16, min(16384, budget // max(1, n_cols + k))))


# ----------------------------------------------------------------- reference (numpy)


def _clip_keeps_negative_zero() -> bool:
    """Whether ``np.clip(x, 0, hi)`` leaves -0.0 as -0.0 in every lane (LiteRT's
    ``std::max(x, 0.0f)`` does). numpy's x86 loops do; its NEON loops (numpy 1.24 on
    aarch64, found under emulation) return +0.0 in vector lanes and -0.0 in scalar ones."""
    a = np.full(67, -0.0, np.float32)
    for start in (0, 1, 2, 3):
        v = a[start:]
        np.clip(v, np.float32(0.0), np.float32(6.0), out=v)
    return bool(np.signbit(a).all())


_CLIP_IS_LITERT = _clip_keeps_negative_zero()


def clamp_inplace(out: np.ndarray, lo: float, hi: float) -> None:
    """``out = min(max(out, lo), hi)`` in place as LiteRT computes it (``std::max`` then
    ``std::min``: a value equal to a bound, -0.0 against 0.0 included, and NaN are kept)."""
    if _CLIP_IS_LITERT:
        np.clip(out, lo, hi, out=out)
        return
    if lo != -np.inf:
        np.copyto(out, lo, where=out < lo)
    if hi != np.inf:
        np.copyto(out, hi, where=out > hi)


def bias_act_inplace(out: np.ndarray, bias: np.ndarray | None, lo: float, hi: float) -> None:
    """``out = clamp(out + bias, lo, hi)`` in place (bias broadcast over the last axis)."""
    if bias is not None:
        np.add(out, bias, out=out)
    if lo != -np.inf or hi != np.inf:
        clamp_inplace(out, lo, hi)


def gemm_bias_act(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, lo: float, hi: float, out: np.ndarray) -> None:
    """Reference ``out = clamp(x @ w + bias, lo, hi)`` with numpy (x: [M, K], w: [K, N])."""
    np.matmul(x, w, out=out)
    bias_act_inplace(out, bias, lo, hi)


def im2col(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, pad_h: int, pad_w: int, oh: int, ow: int) -> np.ndarray:
    """Reference im2col of an NHWC batch: ``[N * oh * ow, kh * kw * C]`` (zeros where padded).

    Column order is ``(ky, kx, c)``, which matches a TFLite OHWI filter flattened as
    ``[O, kh * kw * I]``.
    """
    n, h, w_, c = x.shape
    eh = (kh - 1) * dh + 1
    ew = (kw - 1) * dw + 1
    # Pad generously so every window, including the end offset of SAME padding, fits.
    pb = max(0, (oh - 1) * sh + eh - h - pad_h)
    pr = max(0, (ow - 1) * sw + ew - w_ - pad_w)
    xp = np.pad(x, ((0, 0), (pad_h, pb), (pad_w, pr), (0, 0)))
    cols = np.empty((n, oh, ow, kh, kw, c), x.dtype)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            cols[:, :, :, ky, kx, :] = xp[:, y0 : y0 + (oh - 1) * sh + 1 : sh, x0 : x0 + (ow - 1) * sw + 1 : sw, :]
    return cols.reshape(n * oh * ow, kh * kw * c)


# ----------------------------------------------------------------------- JIT (Numba)


@njit
def bias_act_jit(out, bias, lo, hi):
    """``out[i, j] = min(max(out[i, j] + bias[j], lo), hi)`` in place, one pass (out 2-D, C order)."""
    m, n = out.shape
    for i in range(m):
        for j in range(n):
            out[i, j] = min(max(out[i, j] + bias[j], lo), hi)


@njit
def scatter_bias_act_jit(t, out, col0, bias, lo, hi):
    """``out[i, col0 + j] = clamp(t[i, j] + bias[col0 + j])``: one group's block into the output rows."""
    m, n = t.shape
    for i in range(m):
        for j in range(n):
            out[i, col0 + j] = min(max(t[i, j] + bias[col0 + j], lo), hi)


@njit
def im2col_rows_jit(xf, h, w, ctot, c0, cin, b, r0, r1, ow, kh, kw, sh, sw, dh, dw, pad_h, pad_w, cols):
    """Fill ``cols[0:r1-r0, (ky, kx, c)]`` with the windows of output pixels r0..r1 of batch b.

    ``xf`` is the NHWC input viewed as ``[N*H, W*ctot]``; the window reads channels
    ``c0 .. c0+cin``. Output pixel r is (oy, ox) = divmod(r, ow); tap (ky, kx) reads
    x[b, oy*sh - pad_h + ky*dh, ox*sw - pad_w + kx*dw, c0 + c], zero outside the image.
    When a window row lies inside the image (and dw == 1, all channels), its
    ``kw * cin`` values are contiguous in ``xf`` and are copied as one run.
    """
    run = kw * cin
    whole = dw == 1 and cin == ctot
    for r in range(r0, r1):
        oy = r // ow
        ox = r - oy * ow
        iy0 = oy * sh - pad_h
        ix0 = ox * sw - pad_w
        row = cols[r - r0]
        row_inside = whole and ix0 >= 0 and ix0 + kw <= w
        # Copies between slices indexed from 0: with indices like k + t (signed, maybe
        # negative to Numba) the copy loops stayed scalar, several times slower.
        for ky in range(kh):
            iy = iy0 + ky * dh
            k = ky * run
            if iy < 0 or iy >= h:
                row[k : k + run] = 0.0
                continue
            src = xf[b * h + iy]
            if row_inside:
                s0 = ix0 * cin
                dst = row[k : k + run]
                s = src[s0 : s0 + run]
                for t in range(run):
                    dst[t] = s[t]
                continue
            for kx in range(kw):
                ix = ix0 + kx * dw
                kk = k + kx * cin
                dst = row[kk : kk + cin]
                if 0 <= ix < w:
                    s0 = ix * ctot + c0
                    s = src[s0 : s0 + cin]
                    for c in range(cin):
                        dst[c] = s[c]
                else:
                    dst[:] = 0.0


# ----------------------------------------------- fast drivers (BLAS + the JIT helpers above)


def gemm_bias_act_fast(x, w, bias, lo, hi, out, epilogue: bool = True) -> None:
    """``out = clamp(x @ w + bias, lo, hi)``: one BLAS product, then one fused pass.

    ``epilogue=False`` skips the pass (no bias and no clamp). x [M, K], w [K, N],
    out [M, N], all C-contiguous float32.
    """
    np.matmul(x, w, out=out)
    if epilogue:
        bias_act_jit(out, bias, lo, hi)


def conv_im2col_fast(x, w, bias, lo, hi, out, cols, kh, kw, sh, sw, dh, dw, pad_h, pad_w, epilogue=True) -> None:
    """General float CONV_2D (groups 1): im2col by blocks of ``cols.shape[0]`` rows, then BLAS.

    x [N, H, W, Cin]; w [kh*kw*Cin, Cout] (packed in prepare); out [N, OH, OW, Cout];
    follows TFLite reference Conv: out[b, oy, ox, o] = clamp(bias[o] +
    sum_{ky,kx,c} x[b, iy, ix, c] * w[o, ky, kx, c]).
    """
    nb, h, wd, cin = x.shape
    _, oh, ow, cout = out.shape
    xf = x.reshape(nb * h, wd * cin)
    pixels = oh * ow
    block = cols.shape[0]
    for b in range(nb):
        ob = out[b].reshape(pixels, cout)
        for r0 in range(0, pixels, block):
            r1 = min(pixels, r0 + block)
            blk = cols[: r1 - r0]
            im2col_rows_jit(xf, h, wd, cin, 0, cin, b, r0, r1, ow, kh, kw, sh, sw, dh, dw, pad_h, pad_w, blk)
            o = ob[r0:r1]
            np.matmul(blk, w, out=o)
            if epilogue:
                bias_act_jit(o, bias, lo, hi)


def grouped_conv_fast(x, w, bias, lo, hi, out, cols, tmp, kh, kw, sh, sw, dh, dw, pad_h, pad_w) -> None:
    """Grouped float CONV_2D: group g reads input channels [g*fc, (g+1)*fc) and writes
    output channels [g*og, (g+1)*og); w is [groups, kh*kw*fc, og], tmp [rows, og]."""
    nb, h, wd, ctot = x.shape
    _, oh, ow, cout = out.shape
    groups = w.shape[0]
    fc = w.shape[1] // (kh * kw)
    og = w.shape[2]
    xf = x.reshape(nb * h, wd * ctot)
    pixels = oh * ow
    block = cols.shape[0]
    for b in range(nb):
        ob = out[b].reshape(pixels, cout)
        for g in range(groups):
            for r0 in range(0, pixels, block):
                r1 = min(pixels, r0 + block)
                blk = cols[: r1 - r0]
                im2col_rows_jit(xf, h, wd, ctot, g * fc, fc, b, r0, r1, ow, kh, kw, sh, sw, dh, dw, pad_h, pad_w, blk)
                t = tmp[: r1 - r0]
                np.matmul(blk, w[g], out=t)
                scatter_bias_act_jit(t, ob[r0:r1], g * og, bias, lo, hi)


# ------------------------------------------- multi-threaded drivers (num_threads > 1)
#
# With several threads, the big products are shared with edgelite's thread pool
# (:mod:`~edgelite.interpreter.compute.pool`, chunks claimed by whichever thread is
# free) and BLAS stays at one thread per caller: two pools (OpenBLAS's spinning workers and Numba's)
# on the same cores were measured 2-7x slower than one thread on a loaded machine.
# Inside Numba, ``np.dot`` is SciPy's BLAS; ``load_numba_blas`` imports it in prepare
# so that ``threads.set_blas_threads`` sees (and limits) it before the first invoke.
# Products of 256 rows or more are split by rows (chunks of at least ``ROW_CHUNK_MIN_ROWS``),
# shorter ones by output columns (``column_bounds``): BLAS re-packs the whole weight
# matrix for every row chunk, which made short, wide products slower on two threads.


# An operator is split over threads only when it is expected to take at least this
# long on one thread: every split is a fork/join on the thread pool, and on a busy
# machine each join may wait a scheduler tick for a descheduled worker, so splitting
# the many sub-0.1 ms operators of a mobile network made two threads slower than one.
MIN_PARALLEL_SECONDS = 400e-6
GEMM_FLOPS_PER_SECOND = 80e9  # one core, OpenBLAS sgemm on CNN-shaped products (measured)
STENCIL_FLOPS_PER_SECOND = 15e9  # one core, Numba depthwise / pooling loops (measured)


def worth_splitting(threads: int, flops: float, flops_per_second: float = GEMM_FLOPS_PER_SECOND) -> bool:
    """Whether an operator of ``flops`` work should run on ``threads`` (> 1) threads.

    Products at the GEMM rate go to the thread pool (:func:`gemm_rows_parallel`,
    :func:`conv_im2col_parallel`), whose split costs the caller a few microseconds:
    they split from ``pool.MIN_SPLIT_COST_NS`` on. The stencil loops (depthwise,
    pooling) still fork and join on Numba's pool: ``MIN_PARALLEL_SECONDS``.
    """
    if flops_per_second == GEMM_FLOPS_PER_SECOND:  # the pool's kernels (in a call plan: the native helpers')
        least = (pool.NATIVE_MIN_SPLIT_COST_NS if pool.native_helpers() else pool.MIN_SPLIT_COST_NS) * 1e-9
    else:
        least = MIN_PARALLEL_SECONDS
    return threads > 1 and flops / flops_per_second >= least


def load_numba_blas() -> bool:
    """Import the BLAS that Numba's ``np.dot`` calls; False when SciPy is missing."""
    try:
        import scipy.linalg.cython_blas  # noqa: F401
    except ImportError:  # pragma: no cover - numba without scipy has no np.dot
        return False
    return True


@njit
def _gemm_rows_claimed(x, w, bias, lo, hi, out, per, epilogue, n_chunks, ctr):
    """out[M, N] = clamp(x @ w + bias), chunks of ``per`` rows claimed from ``ctr``
    by the caller and the thread pool's helpers (:mod:`~edgelite.interpreter.compute.pool`)."""
    m = x.shape[0]
    n = out.shape[1]
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        r0 = ch * per
        r1 = min(m, r0 + per)
        if r0 < r1:
            o = out[r0:r1]
            np.dot(x[r0:r1], w, o)
            if epilogue:
                for i in range(r1 - r0):
                    for j in range(n):
                        o[i, j] = min(max(o[i, j] + bias[j], lo), hi)
        fetch_add(ctr, 1, 1)


@njit
def _conv_im2col_claimed(xf, h, wd, cin, w, bias, lo, hi, ob, cols, b, ow, kh, kw, sh, sw, dh, dw, pad_h, pad_w,
                         epilogue, per, n_chunks, ctr):
    """One image of a general CONV_2D (groups 1): chunks of ``per`` output pixels claimed
    from ``ctr``, each gathered (im2col) into the claimer's own scratch ``cols[slot]``
    and multiplied."""
    pixels = ob.shape[0]
    n = ob.shape[1]
    slot = -1
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        if slot < 0:
            slot = fetch_add(ctr, 2, 1)
        r0 = ch * per
        r1 = min(pixels, r0 + per)
        if r0 < r1:
            blk = cols[slot, : r1 - r0]
            im2col_rows_jit(xf, h, wd, cin, 0, cin, b, r0, r1, ow, kh, kw, sh, sw, dh, dw, pad_h, pad_w, blk)
            o = ob[r0:r1]
            np.dot(blk, w, o)
            if epilogue:
                for i in range(r1 - r0):
                    for j in range(n):
                        o[i, j] = min(max(o[i, j] + bias[j], lo), hi)
        fetch_add(ctr, 1, 1)


# Least rows of a row chunk. BLAS packs the whole weight matrix again for every chunk: with
# 16-row chunks that doubled the work of a 300 x 2304 x 256 product (13.7 vs 4.5 ms on one
# thread, so two threads were slower than one); 128 rows keep the re-pack a small part.
ROW_CHUNK_MIN_ROWS = 128


def _row_chunks(rows: int, flops: float, threads: int, most_rows: int) -> tuple[int, int]:
    """``(rows per chunk, chunks)`` for sharing ``rows`` over ``threads`` with the pool."""
    n = pool.chunks_for(1e9 * flops / GEMM_FLOPS_PER_SECOND, max(1, rows // ROW_CHUNK_MIN_ROWS), threads, prepared=True)
    per = min(most_rows, -(-rows // n))
    return per, -(-rows // per)


def rows_per_chunk(m: int, k: int, n: int, threads: int, most_rows: int) -> int:
    """Rows per chunk of an ``[m, k] @ [k, n]`` product shared by :func:`gemm_rows_parallel`
    (``most_rows = m``) and :func:`conv_im2col_parallel` (``most_rows``: its scratch rows)."""
    return _row_chunks(m, 2.0 * m * k * n, threads, most_rows)[0]


def gemm_rows_parallel(x, w, bias, lo, hi, out, block, epilogue) -> None:
    """``out = clamp(x @ w + bias)`` shared with the thread pool, ``ceil(M / block)`` threads at most."""
    fn, args = gemm_rows_call(x, w, bias, lo, hi, out, block, epilogue)
    fn(*args)


def gemm_rows_call(x, w, bias, lo, hi, out, block, epilogue):
    """:func:`gemm_rows_parallel` as a prepared call ``(fn, args)`` (``compute.bound``; in a
    call plan the helpers waiting in native code take it): the same chunks, worked out once."""
    m = x.shape[0]
    threads = -(-m // block)
    per, n_chunks = _row_chunks(m, 2.0 * m * x.shape[1] * out.shape[1], threads, m)
    return bound.pooled(_gemm_rows_claimed, (x, w, bias, lo, hi, out, np.int64(per), epilogue, np.int64(n_chunks)),
                        n_chunks, threads)


def conv_im2col_parallel(xf, h, wd, cin, w, bias, lo, hi, ob, cols, b, ow, kh, kw, sh, sw, dh, dw, pad_h, pad_w,
                         epilogue) -> None:
    """One image of a general CONV_2D shared with the thread pool: ``cols`` is
    ``[threads, block, K]``, a scratch of up to ``block`` rows per thread."""
    fn, args = conv_im2col_call(xf, h, wd, cin, w, bias, lo, hi, ob, cols, b, ow, kh, kw, sh, sw, dh, dw, pad_h,
                                pad_w, epilogue)
    fn(*args)


def conv_im2col_call(xf, h, wd, cin, w, bias, lo, hi, ob, cols, b, ow, kh, kw, sh, sw, dh, dw, pad_h, pad_w,
                     epilogue):
    """:func:`conv_im2col_parallel` as a prepared call ``(fn, args)`` (see :func:`gemm_rows_call`)."""
    threads, block = cols.shape[0], cols.shape[1]
    pixels = ob.shape[0]
    per, n_chunks = _row_chunks(pixels, 2.0 * pixels * w.shape[0] * ob.shape[1], threads, block)
    return bound.pooled(_conv_im2col_claimed, (xf, h, wd, cin, w, bias, lo, hi, ob, cols, b, ow, kh, kw, sh, sw, dh,
                                               dw, pad_h, pad_w, epilogue, np.int64(per), np.int64(n_chunks)),
                        n_chunks, threads)


# ---- column split: for products with few rows (the 14x14 and 7x7 layers of a CNN)
#
# Split by rows, every chunk of a short product multiplies its few rows by the whole
# weight matrix (megabytes: BLAS packs all of it again per chunk), so two threads were
# slower than one. Split by output columns instead, each thread packs only its columns'
# weights. An output element's dot product is the same BLAS call's (same K order; BLAS
# blocks K by K alone, never by N), so the result equals the unsplit product bit for bit.

COL_UNIT = 16  # columns per unit (a SIMD register of floats): chunks are multiples of it
COL_CHUNKS_PER_THREAD = 2  # each chunk re-reads (re-packs) all of x: keep them few
# Rows below which a product is split by columns (the 14x14 and 7x7 layers at batch 1).
COL_SPLIT_MAX_ROWS = 256
# Least M * width * K of a column chunk. OpenBLAS multiplies products up to M*N*K = 1e6
# with its "small matrix" kernel, which sums K in another order than its blocked kernel
# (measured: a 49 x 16 x 960 chunk of a 49 x 160 x 960 product differed in the last bit).
# Every chunk must take the same path as the whole product: keep chunks above it (and
# every split is probed for the unsplit product's bits, ``exact_column_bounds``). 2.5e6
# until the native helpers made splitting cheap; 1.2e6 lets MobileNetV2's 14x14 layers
# (196 x 64 x 384) split in two.
COL_CHUNK_MIN_MNK = 1.2e6


def column_bounds(n: int, m: int, k: int, threads: int) -> np.ndarray | None:
    """Chunk boundaries ``[0, c1, ..., n]`` (int64) for sharing an ``[m, k] @ [k, n]``
    product over ``threads`` by output columns, or None when it should not be split so:
    rows enough for the row split (``COL_SPLIT_MAX_ROWS``), or fewer than two chunks of
    ``COL_CHUNK_MIN_MNK`` work."""
    if threads <= 1 or m < 2 or m >= COL_SPLIT_MAX_ROWS:
        return None
    units = n // COL_UNIT
    least_units = -(-int(COL_CHUNK_MIN_MNK) // (m * k * COL_UNIT))  # units per chunk at least
    n_chunks = min(units // max(1, least_units), COL_CHUNKS_PER_THREAD * threads)
    if n_chunks < 2:
        return None
    per = -(-units // n_chunks) * COL_UNIT
    bounds = list(range(0, n, per)) + [n]
    if n - bounds[-2] < max(1, least_units) * COL_UNIT:  # a short last chunk joins the one before
        bounds.pop(-2)
    return np.asarray(bounds, np.int64) if len(bounds) > 2 else None


_EXACT_SPLITS: dict[tuple, bool] = {}


def serial_product(x: np.ndarray, w: np.ndarray, block: int) -> np.ndarray:
    """``x @ w`` as the one-thread paths make it: rows in blocks of ``block``, each block
    copied into a scratch first and multiplied by numpy (the CONV_2D kernel's ``eval`` and
    ``eval_jit``; ``block >= M``: one product). The reference the split paths are probed
    against: BLAS's bits depend on a call's shape (OpenBLAS takes other kernels for small
    products and for edge tiles)."""
    m = x.shape[0]
    out = np.empty((m, w.shape[1]), np.float32)
    scratch = np.empty((max(1, min(block, m)), x.shape[1]), np.float32)
    for r0 in range(0, m, max(1, block)):
        r1 = min(m, r0 + block)
        blk = scratch[: r1 - r0]
        np.copyto(blk, x[r0:r1])
        np.matmul(blk, w, out=out[r0:r1])
    return out


def _one_blas_thread() -> None:
    """Probes run at allocation, before a run's thread counts are set: one BLAS thread, as
    the runs themselves use (BLAS's own workers would start and spin otherwise)."""
    threads.set_blas_threads(1)


def _probe_operands(m: int, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(m * 7919 + k * 31 + n)
    return rng.random((m, k), dtype=np.float32) - np.float32(0.5), rng.random((k, n), dtype=np.float32) - np.float32(0.5)


def row_split_is_exact(m: int, k: int, n: int, per: int, block: int | None = None) -> bool:
    """Whether chunks of ``per`` rows multiplied inside Numba (``_gemm_rows_claimed``, SciPy's
    BLAS) equal :func:`serial_product` with ``block`` (default: the whole product) bit
    for bit here; one probe of random values per shape, remembered for the process (see
    :func:`column_split_is_exact`). A split that changed the bits would make
    ``num_threads=2`` answer differently from ``num_threads=1`` and from a first invoke."""
    key = ("rows", m, k, n, per, block or m)
    if key not in _EXACT_SPLITS:
        _one_blas_thread()
        x, w = _probe_operands(m, k, n)
        want = serial_product(x, w, block or m)
        got = np.empty((m, n), np.float32)
        _gemm_rows_claimed(x, w, np.zeros(n, np.float32), np.float32(-np.inf), np.float32(np.inf), got, np.int64(per),
                           False, np.int64(-(-m // per)), np.zeros(pool.CTR_LEN, np.int64))
        _EXACT_SPLITS[key] = bool(np.array_equal(got, want))
    return _EXACT_SPLITS[key]


def exact_column_bounds(n: int, m: int, k: int, threads: int, block: int | None = None) -> np.ndarray | None:
    """:func:`column_bounds`, kept only where this machine's BLAS gives the column blocks
    the unsplit product's bits (:func:`column_split_is_exact`), else None.

    Whether a block's dot products follow the whole product's summation order depends on
    the BLAS build and the CPU's kernels: on AVX-512 (SkylakeX kernels) they do above the
    small-matrix size; with OpenBLAS's Haswell (AVX2) kernels, columns at a block's edge
    take edge kernels and differ in the last bit. A column split that changed the bits
    would make ``num_threads=2`` answer differently from ``num_threads=1``; such shapes
    keep the row split or none.
    """
    bounds = column_bounds(n, m, k, threads)
    if bounds is None or not column_split_is_exact(m, k, bounds, block):
        return None
    return bounds


def column_split_is_exact(m: int, k: int, bounds: np.ndarray, block: int | None = None) -> bool:
    """Whether the column blocks ``bounds`` of an ``[m, k] @ [k, n]`` product equal the
    one-thread product (:func:`serial_product` in blocks of ``block`` rows, default the
    whole product) bit for bit here: one probe product of random values per shape,
    remembered for the process. Random operands reveal a different summation order in
    almost every element of a K-long dot product, and the same order gives the same bits
    for any operands."""
    key = (m, k, tuple(int(b) for b in bounds), block or m)
    if key not in _EXACT_SPLITS:
        _one_blas_thread()
        n = int(bounds[-1])
        x, w = _probe_operands(m, k, n)
        want = serial_product(x, w, block or m)
        got = np.empty((m, n), np.float32)
        _gemm_cols_claimed(x, pack_columns(w, bounds), bounds, np.zeros(n, np.float32), np.float32(-np.inf),
                           np.float32(np.inf), got, column_scratch(m, bounds, 1), False, np.int64(len(bounds) - 1),
                           np.zeros(pool.CTR_LEN, np.int64))
        _EXACT_SPLITS[key] = bool(np.array_equal(got, want))
    return _EXACT_SPLITS[key]


def pack_columns(w: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """``w`` [K, N] as column blocks ``[chunks, K, widest]``: block i holds columns
    ``bounds[i]:bounds[i+1]``, zero-padded to the widest block (so that every block and
    its product are C-contiguous arrays that BLAS takes as they are)."""
    k = w.shape[0]
    widths = np.diff(bounds)
    out = np.zeros((len(widths), k, int(widths.max())), np.float32)
    for i, (c0, c1) in enumerate(zip(bounds[:-1], bounds[1:])):
        out[i, :, : c1 - c0] = w[:, c0:c1]
    return out


def column_scratch(m: int, bounds: np.ndarray, threads: int) -> np.ndarray:
    """Scratch for :func:`gemm_cols_parallel`: one ``[m, widest block]`` product per thread."""
    widest = int(np.max(np.diff(bounds)))
    return np.empty((min(threads, len(bounds) - 1), m, widest), np.float32)


@njit
def _gemm_cols_claimed(x, wp, bounds, bias, lo, hi, out, tmp, epilogue, n_chunks, ctr):
    """out[M, N] = clamp(x @ w + bias), column blocks ``wp[ch]`` claimed from ``ctr``; each
    claimer multiplies into its own ``tmp[slot]``, then writes the block's real columns."""
    m = x.shape[0]
    slot = -1
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        if slot < 0:
            slot = fetch_add(ctr, 2, 1)
        c0 = bounds[ch]
        nb = bounds[ch + 1] - c0
        t = tmp[slot]
        np.dot(x, wp[ch], t)
        # Through slices indexed from 0: indexing out[i, c0 + j] kept the loop scalar (12x slower).
        bc = bias[c0 : c0 + nb]
        for i in range(m):
            o = out[i, c0 : c0 + nb]
            ti = t[i, :nb]
            if epilogue:
                for j in range(nb):
                    o[j] = min(max(ti[j] + bc[j], lo), hi)
            else:
                for j in range(nb):
                    o[j] = ti[j]
        fetch_add(ctr, 1, 1)


def gemm_cols_parallel(x, wp, bounds, bias, lo, hi, out, tmp, epilogue) -> None:
    """``out = clamp(x @ w + bias)`` shared with the thread pool by column blocks
    (``wp = pack_columns(w, bounds)``, ``tmp = column_scratch(...)``); x, out C-contiguous."""
    fn, args = gemm_cols_call(x, wp, bounds, bias, lo, hi, out, tmp, epilogue)
    fn(*args)


def gemm_cols_call(x, wp, bounds, bias, lo, hi, out, tmp, epilogue):
    """:func:`gemm_cols_parallel` as a prepared call ``(fn, args)`` (see :func:`gemm_rows_call`)."""
    n_chunks = len(bounds) - 1
    return bound.pooled(_gemm_cols_claimed, (x, wp, bounds, bias, lo, hi, out, tmp, epilogue, np.int64(n_chunks)),
                        n_chunks, tmp.shape[0])


def parallel_rows_block(m: int, threads: int) -> int | None:
    """Rows per thread for splitting an ``[m, K] @ [K, N]`` product, or None when there
    are too few rows (fewer than 32 per thread) for the split to pay."""
    if m < 32 * threads:
        return None
    return -(-m // threads)
