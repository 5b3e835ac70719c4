"""Patch matrices (im2col) of NHWC inputs for the GEMM-backed convolutions.

``out[(b*OH + y)*OW + x, (i*KW + j)*C + c] = in[b, y*sh + i*dh - pt, x*sw + j*dw - pl, c] - sub``,
``pad`` where the window leaves the input; columns past ``KH*KW*C`` are left as they are
(the VNNI kernels pad K to a multiple of 4 with zero weights). :func:`im2col_into`
checks the shapes once, then runs a Numba kernel that does not (dilation 1 into an
integer buffer copies each filter row's ``KW*C`` contiguous bytes in one run).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute.patches import im2col_into
    >>> x = np.arange(9, dtype=np.int8).reshape(1, 3, 3, 1)
    >>> out = np.empty((4, 4), np.int8)
    >>> im2col_into(x, 2, 2, 1, 1, 1, 1, 0, 0, 2, 2, 0, out)
    >>> out[0].tolist(), out[3].tolist()
    ([0, 1, 3, 4], [4, 5, 7, 8])
"""

from __future__ import annotations

import numpy as np

from edgelite.errors import ShapeError
from edgelite.interpreter.compute import bound, pool
from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.compute.pool import fetch_add


def im2col_into(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, pt: int, pl: int,
                oh: int, ow: int, pad, out: np.ndarray, sub=0, threads: int = 1) -> None:
    """Write the patches of ``x`` (``(B, H, W, C)``) into ``out`` (``(B*OH*OW, >= KH*KW*C)``,
    C-contiguous), as ``out``'s dtype (see the module docstring); rows shared with the
    thread pool when ``threads > 1`` and the copy is big enough."""
    fn, args = im2col_call(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pad, out, sub, threads)
    fn(*args)


def im2col_call(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, pt: int, pl: int,
                oh: int, ow: int, pad, out: np.ndarray, sub=0, threads: int = 1, prepared: bool = False):
    """:func:`im2col_into` as a prepared call ``(fn, args)`` (``compute.bound``): the
    shapes checked, the kernel chosen and the pool's chunk count worked out once
    (``prepared``: for a call plan, see ``pool.chunks_for``)."""
    if x.ndim != 4 or out.ndim != 2 or not out.flags.c_contiguous:
        raise ShapeError(f"im2col: input {x.shape} must be 4-D and output {out.shape} a C-contiguous matrix")
    b, _, _, c = x.shape
    if out.shape[0] != b * oh * ow or out.shape[1] < kh * kw * c or min(kh, kw, sh, sw, dh, dw, oh, ow) < 1:
        raise ShapeError(f"im2col: output {out.shape} does not hold {b * oh * ow} patches of {kh}x{kw}x{c}")
    rows = b * oh
    n_chunks = pool.chunks_for(out.shape[0] * kh * kw * c * COPY_NS_PER_VALUE, rows, threads, prepared)
    if dh == 1 and dw == 1 and sub == 0 and out.dtype.kind in "iu":
        return bound.pooled(_im2col_rowcopy, (x, kh, kw, sh, sw, pt, pl, oh, ow, pad, out, np.int64(n_chunks)),
                            n_chunks, threads)
    return bound.pooled(_im2col, (x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, sub, pad, out, np.int64(n_chunks)),
                        n_chunks, threads)


# One-thread cost estimate of a copied patch value, for the pool's decision to split.
COPY_NS_PER_VALUE = 0.4


@njit
def _im2col(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, sub, pad, out, n_chunks, ctr):
    """out[(b*OH + y)*OW + x, (i*KW + j)*C + c] = in[b, y*sh + i*dh - pt, x*sw + j*dw - pl, c] - sub
    (``pad`` outside the input), as ``out``'s dtype."""
    bsz, h, w, c = x.shape
    rows = bsz * oh
    per = (rows + n_chunks - 1) // n_chunks
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        for by in range(ch * per, min(rows, (ch + 1) * per)):
            b = by // oh
            y = by % oh
            for xo in range(ow):
                row = by * ow + xo
                for i in range(kh):
                    iy = y * sh + i * dh - pt
                    for j in range(kw):
                        ix = xo * sw + j * dw - pl
                        base = (i * kw + j) * c
                        if iy < 0 or iy >= h or ix < 0 or ix >= w:
                            for cc in range(c):
                                out[row, base + cc] = pad
                        else:
                            for cc in range(c):
                                # widened first: without Numba, uint8 - int would wrap in numpy
                                out[row, base + cc] = np.int64(x[b, iy, ix, cc]) - sub
        fetch_add(ctr, 1, 1)


@njit
def _im2col_rowcopy(x, kh, kw, sh, sw, pt, pl, oh, ow, pad, out, n_chunks, ctr):
    """``_im2col`` for dilation 1 into an int8 ``out``: each filter row of a patch is
    ``kw * C`` contiguous input bytes, copied in one run where it lies inside the input."""
    bsz, h, w, c = x.shape
    run = kw * c
    xf = x.reshape(bsz, h, w * c)
    rows = bsz * oh
    per = (rows + n_chunks - 1) // n_chunks
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        for by in range(ch * per, min(rows, (ch + 1) * per)):
            b = by // oh
            y = by % oh
            for xo in range(ow):
                row = by * ow + xo
                ix0 = xo * sw - pl
                inside = ix0 >= 0 and ix0 + kw <= w
                for i in range(kh):
                    iy = y * sh + i - pt
                    base = i * run
                    if iy < 0 or iy >= h:
                        out[row, base : base + run] = pad
                    elif inside:
                        s0 = ix0 * c
                        # slices, not out[row, base + t] = src[s0 + t]: signed index sums kept
                        # this copy scalar (4x slower, measured on ResNet50's 3x3 layers)
                        _copy_run(out[row, base : base + run], xf[b, iy, s0 : s0 + run])
                    else:
                        for j in range(kw):
                            ix = ix0 + j
                            if ix < 0 or ix >= w:
                                for cc in range(c):
                                    out[row, base + j * c + cc] = pad
                            else:
                                for cc in range(c):
                                    out[row, base + j * c + cc] = x[b, iy, ix, cc]
        fetch_add(ctr, 1, 1)


@njit
def _copy_run(dst, src):
    """``dst[t] = src[t]`` over two equally long 1-D slices (a loop that vectorizes)."""
    for t in range(dst.shape[0]):
        dst[t] = src[t]
