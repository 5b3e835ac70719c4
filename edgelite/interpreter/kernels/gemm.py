"""Float GEMM and im2col helpers shared by the float conv / fully-connected kernels.

A 1x1 convolution and a fully-connected layer are one matrix product
``out[M, N] = x[M, K] @ w[K, N] + bias`` followed by the fused activation clamp. The
product itself goes to BLAS (numpy's ``matmul``, or ``np.dot`` inside Numba, which
calls SciPy's BLAS); what is ours is feeding it well:

* the JIT path walks the output in blocks of rows small enough that the bias add and
  the clamp run while the block is still in cache (one pass instead of three);
* a general convolution gathers each block of output rows' input windows into a
  scratch buffer allocated in ``prepare`` (im2col), then multiplies that block.

BLAS threads follow the interpreter's ``num_threads`` through ``set_blas_threads``
(which needs ``threadpoolctl``; without it, set ``OPENBLAS_NUM_THREADS`` before start).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.gemm import gemm_bias_act
    >>> x = np.ones((4, 3), np.float32); w = np.ones((3, 2), np.float32)
    >>> out = np.empty((4, 2), np.float32)
    >>> gemm_bias_act(x, w, np.zeros(2, np.float32), 0.0, 2.0, out)
    >>> float(out.max())
    2.0
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.kernels.jit import HAVE_NUMBA, njit

__all__ = [
    "gemm_bias_act",
    "gemm_bias_act_jit",
    "bias_act_inplace",
    "im2col",
    "conv_gemm_jit",
    "set_blas_threads",
    "rows_per_block",
    "parallel_twin",
]

_blas_threads: int | None = None
_controller = None


def set_blas_threads(n: int) -> None:
    """Limit BLAS (numpy's and SciPy's OpenBLAS) to ``n`` threads; cheap when unchanged.

    Uses ``threadpoolctl`` when it is installed and does nothing otherwise.
    """
    global _blas_threads, _controller
    n = max(1, int(n))
    if n == _blas_threads:
        return
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional dependency: OPENBLAS_NUM_THREADS governs then
        _blas_threads = n
        return
    if _controller is None:
        if HAVE_NUMBA:
            # Numba's np.dot calls SciPy's BLAS, a second OpenBLAS that is loaded on
            # first use: load it now so that the controller sees (and limits) it too.
            try:
                import scipy.linalg.cython_blas  # noqa: F401
            except ImportError:  # pragma: no cover - numba without scipy has no np.dot
                pass
        _controller = ThreadpoolController()
    _controller.limit(limits=n, user_api="blas")
    _blas_threads = n


def rows_per_block(n_cols: int, k: int) -> int:
    """Rows of output per GEMM block: the block's output and im2col rows stay in L2."""
    budget = 96 * 1024  # floats (384 KiB): half a typical L2
    return int(max(16, min(1024, budget // max(1, n_cols + k))))


def parallel_twin(fn):
    """A ``parallel=True`` compilation of ``fn`` under its own cache name.

    Numba's on-disk cache is keyed by the function's qualified name, not by its flags,
    so a serial and a parallel build of one function would overwrite each other.
    """
    if not HAVE_NUMBA:
        return fn
    import types

    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel", fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_parallel"
    twin.__module__ = fn.__module__
    return njit(twin, parallel=True)


# ----------------------------------------------------------------- reference (numpy)


def bias_act_inplace(out: np.ndarray, bias: np.ndarray | None, lo: float, hi: float) -> None:
    """``out = clamp(out + bias, lo, hi)`` in place (bias broadcast over the last axis)."""
    if bias is not None:
        np.add(out, bias, out=out)
    if lo != -np.inf or hi != np.inf:
        np.clip(out, lo, hi, out=out)


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
def gemm_bias_act_jit(x, w, bias, lo, hi, out, block):
    """out[M, N] = clamp(x[M, K] @ w[K, N] + bias[N], lo, hi), ``block`` rows at a time.

    ``bias`` has length N (zeros when the op has none); x, w, out are C-contiguous.
    """
    m = x.shape[0]
    n = w.shape[1]
    for r0 in range(0, m, block):
        r1 = min(m, r0 + block)
        o = out[r0:r1]
        np.dot(x[r0:r1], w, o)
        for i in range(r1 - r0):
            for j in range(n):
                v = o[i, j] + bias[j]
                o[i, j] = min(max(v, lo), hi)


@njit
def _im2col_rows(x, b, r0, r1, ow, kh, kw, sh, sw, dh, dw, pad_h, pad_w, cin, c0, cols):
    """Fill cols[0:r1-r0, (ky, kx, c)] with the windows of output pixels r0..r1 of batch b.

    Output pixel r is (oy, ox) = divmod(r, ow); its window reads input
    x[b, oy*sh - pad_h + ky*dh, ox*sw - pad_w + kx*dw, c0 + c], zero outside the image.
    """
    h = x.shape[1]
    w = x.shape[2]
    for r in range(r0, r1):
        oy = r // ow
        ox = r - oy * ow
        row = cols[r - r0]
        iy0 = oy * sh - pad_h
        ix0 = ox * sw - pad_w
        k = 0
        for ky in range(kh):
            iy = iy0 + ky * dh
            for kx in range(kw):
                ix = ix0 + kx * dw
                if 0 <= iy < h and 0 <= ix < w:
                    row[k : k + cin] = x[b, iy, ix, c0 : c0 + cin]
                else:
                    row[k : k + cin] = 0.0
                k += cin


@njit
def conv_gemm_jit(x, w, bias, lo, hi, out, cols, kh, kw, sh, sw, dh, dw, pad_h, pad_w):
    """General float CONV_2D, groups == 1: im2col by blocks of rows, then BLAS.

    x [N, H, W, Cin]; w [kh*kw*Cin, Cout] (packed in prepare); out [N, OH, OW, Cout];
    cols is the scratch block [rows, kh*kw*Cin]. Follows TFLite reference Conv:
    out[b, oy, ox, o] = clamp(bias[o] + sum_{ky,kx,c} x[b, iy, ix, c] * w[o, ky, kx, c]).
    """
    nb = x.shape[0]
    cin = x.shape[3]
    oh = out.shape[1]
    ow = out.shape[2]
    cout = out.shape[3]
    block = cols.shape[0]
    pixels = oh * ow
    for b in range(nb):
        ob = out[b].reshape((pixels, cout))
        for r0 in range(0, pixels, block):
            r1 = min(pixels, r0 + block)
            blk = cols[: r1 - r0]
            _im2col_rows(x, b, r0, r1, ow, kh, kw, sh, sw, dh, dw, pad_h, pad_w, cin, 0, blk)
            o = ob[r0:r1]
            np.dot(blk, w, o)
            for i in range(r1 - r0):
                for j in range(cout):
                    v = o[i, j] + bias[j]
                    o[i, j] = min(max(v, lo), hi)


@njit
def grouped_conv_jit(x, w, bias, lo, hi, out, cols, tmp, kh, kw, sh, sw, dh, dw, pad_h, pad_w, groups):
    """Grouped float CONV_2D: group g reads input channels [g*fc, (g+1)*fc) and writes
    output channels [g*og, (g+1)*og); w is [groups, kh*kw*fc, og], tmp [rows, og]."""
    nb = x.shape[0]
    oh = out.shape[1]
    ow = out.shape[2]
    block = cols.shape[0]
    fc = w.shape[1] // (kh * kw)
    og = w.shape[2]
    pixels = oh * ow
    for b in range(nb):
        for g in range(groups):
            for r0 in range(0, pixels, block):
                r1 = min(pixels, r0 + block)
                blk = cols[: r1 - r0]
                _im2col_rows(x, b, r0, r1, ow, kh, kw, sh, sw, dh, dw, pad_h, pad_w, fc, g * fc, blk)
                t = tmp[: r1 - r0]
                np.dot(blk, w[g], t)
                for i in range(r1 - r0):
                    r = r0 + i
                    oy = r // ow
                    ox = r - oy * ow
                    for j in range(og):
                        v = t[i, j] + bias[g * og + j]
                        out[b, oy, ox, g * og + j] = min(max(v, lo), hi)

