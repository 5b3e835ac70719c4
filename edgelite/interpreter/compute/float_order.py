"""Float32 arithmetic in the exact order of LiteRT's built-in x86 kernels.

LiteRT's optimized float kernels are Eigen expressions compiled for SSE (4-wide
packets, no FMA). A result a few ulps away from theirs is harmless in a float model,
but a dynamic-range (hybrid) model quantizes every float activation again before its
next int8 layer, and one ulp on a value near a rounding boundary moves a whole
quantization step; over a deep network that grows to 1e-2. The helpers here reproduce
LiteRT's float32 operations one rounding at a time (measured bit-exact against
``ai-edge-litert`` 2.3 with ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``):

* ``logistic``: Eigen's packet logistic, ``e / (e + 1)`` with ``e = exp(x/2)^2`` from
  a Cephes-style polynomial; elements past the last whole packet take the scalar path
  ``expf(min(x, 16.6355)) / (... + 1)`` with the C library's ``expf``.
* ``eigen_sum_rows``: Eigen's vectorized sum of a contiguous vector (two packet
  accumulators, then the packet's lanes as ``(l0 + l2) + (l1 + l3)``, then the
  unaligned head and the tail one by one), which LiteRT's MEAN uses over the last axis.

Each numpy function has a Numba twin (``*_jit``) with the same operation order; the
tests assert they agree bit for bit. ``logistic_mul_jit`` is the swish ``x * logistic(x)``
in one pass, from the same code as ``logistic_jit``.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute.float_order import logistic
    >>> out = np.empty(5, np.float32)
    >>> logistic(np.array([-200, -1, 0, 1, 30], np.float32), out)
    >>> out.tolist()[2:]
    [0.5, 0.7310585379600525, 1.0]
"""

from __future__ import annotations

import math

import numpy as np

from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.compute.logistic_vec import logistic_run

_F = np.float32
PACKET = 4  # floats per SSE register: the width LiteRT's Eigen code is compiled for

# Eigen's float logistic (packet path), constants as compiled into LiteRT.
_EXP_HI = _F(16.635532)  # above this, exp(x) / (exp(x) + 1) rounds to 1
_LOGISTIC_LO = _F(-104.0)  # below this the packet path returns 0
_HALF = _F(0.5)
_LOG2E = _F(1.4426950216293335)
_LN2_HI = _F(-0.693359375)
_LN2_LO = _F(2.1219444170128554e-4)
_P0 = _F(0.04189866781234741)
_P1 = _F(0.49999141693115234)
_P2 = _F(0.00833471305668354)
_P3 = _F(0.16666877269744873)
_ONE = _F(1.0)
_BIAS = _F(127.0)
_EXP_MAX = _F(255.0)

_CHUNK = 1 << 14
_libm_expf = None


def _expf(v: float) -> np.float32:
    """The C library's single-precision ``expf`` (what LiteRT's scalar path calls)."""
    global _libm_expf
    if _libm_expf is None:
        import ctypes
        import ctypes.util

        try:
            lib = ctypes.CDLL("libm.so.6")
        except OSError:
            lib = ctypes.CDLL(ctypes.util.find_library("m") or ctypes.util.find_library("c"))
        fn = lib.expf
        fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
        _libm_expf = fn
    return _F(_libm_expf(float(v)))


def _logistic_packets(x: np.ndarray) -> np.ndarray:
    """Eigen's packet logistic of float32 ``x`` (any shape), one float32 rounding per step."""
    with np.errstate(invalid="ignore", over="ignore"):
        h = np.minimum(_EXP_HI, x) * _HALF
        m = np.floor(h * _LOG2E + _HALF)
        r = m * _LN2_HI + h
        r = m * _LN2_LO + r
        r2 = r * r
        a = r2 * _P0 + _P1
        b = (r2 * _P2 + _P3) * r + a
        y = b * r2 + (r + _ONE)
        k = np.clip(m + _BIAS, _F(0.0), _EXP_MAX).astype(np.int32) << 23
        e = k.view(np.float32) * y  # exp(x / 2)
        e = e * e
        out = e / (e + _ONE)
    out[x < _LOGISTIC_LO] = 0.0
    return out


def logistic(x: np.ndarray, out: np.ndarray) -> None:
    """``out = 1 / (1 + exp(-x))`` over flat float32 buffers, bit-exact with LiteRT's LOGISTIC."""
    x = x.reshape(-1)
    o = out.reshape(-1)
    n = x.shape[0]
    whole = n - n % PACKET
    for s in range(0, whole, _CHUNK):  # chunks keep the temporaries in cache
        e = min(whole, s + _CHUNK)
        o[s:e] = _logistic_packets(x[s:e])
    for i in range(whole, n):
        v = x[i]
        e = _F(v) if math.isnan(v) else _expf(min(_EXP_HI, v))
        o[i] = e / (e + _ONE)


LOGISTIC_BLOCK = 2048  # elements per block of ``logistic_jit``: its buffers stay in L1

# What ``_logistic_packets_jit`` / ``_logistic_scalar_jit`` write: the logistic l, or the
# float MUL kernel's product of x and l (``x * l`` or ``l * x``), clamped to [lo, hi].
WRITE_LOGISTIC, WRITE_X_TIMES, WRITE_TIMES_X = 0, 1, 2


@njit
def logistic_jit(x, out):
    """Numba twin of ``logistic`` (x, out flat float32): same steps, same order.

    Packet path per element: h = min(x, 16.6355) / 2; m = floor(h log2 e + 1/2);
    r = h - m ln2 (two parts); y = 1 + r + r^2 (p(r)); e = (2^m y)^2; out = e / (e + 1),
    0 below -104. The last n % 4 elements: e = expf(min(x, 16.6355)); e / (e + 1).
    Blocks of ``LOGISTIC_BLOCK`` elements (``_logistic_packets_jit``), then the tail
    (``_logistic_scalar_jit``).
    """
    _logistic_blocks_jit(x, out, WRITE_LOGISTIC, False, np.float32(0.0), np.float32(0.0))


@njit
def logistic_mul_jit(x, out, x_first, clamp, lo, hi):
    """``out = clamp(x * logistic(x))`` (flat float32) in one pass: the swish that
    TensorFlow writes as ``MUL(x, LOGISTIC(x))``, bit for bit what ``logistic_jit``
    followed by the float MUL kernel give (``elementwise_float._arith_row``: the float32
    product, ``x * l`` or ``l * x`` as the MUL has them, then ``min(max(r, lo), hi)``
    when ``clamp``). The logistic comes from the same code as ``logistic_jit``'s and
    is multiplied where it is computed, so the large tensor is read and written once."""
    _logistic_blocks_jit(x, out, WRITE_X_TIMES if x_first else WRITE_TIMES_X, clamp, lo, hi)


@njit
def _logistic_blocks_jit(x, out, write, clamp, lo, hi):
    """``logistic_jit``'s loop: whole packets in blocks, then the n % 4 tail elements."""
    n = x.shape[0]
    whole = n - n % 4
    # 16 lanes at a time where the CPU has AVX-512 (logistic_vec: the same steps, the
    # same bits); it returns how many it did, a multiple of 16, and the loop does the rest.
    done = logistic_run(x[:whole], out[:whole], write, clamp, lo, hi)
    block = LOGISTIC_BLOCK
    ybuf = np.empty(block, np.float32)
    kbuf = np.empty(block, np.int32)
    for s in range(done, whole, block):
        cnt = min(block, whole - s)
        # Loops over slices: indexing x[s + i] (a possibly negative index to wrap)
        # kept both loops scalar, 3.5x slower (measured).
        _logistic_packets_jit(x[s : s + cnt], out[s : s + cnt], ybuf, kbuf, write, clamp, lo, hi)
    _logistic_scalar_jit(x[whole:n], out[whole:n], write, clamp, lo, hi)


@njit
def _written(v, q, write, clamp, lo, hi):
    """What the kernels write for input v and logistic q (see ``WRITE_LOGISTIC``)."""
    if write == WRITE_LOGISTIC:
        return q
    r = v * q if write == WRITE_X_TIMES else q * v
    if clamp:
        r = min(max(r, lo), hi)
    return r


@njit
def _logistic_packets_jit(xs, os_, ybuf, kbuf, write, clamp, lo, hi):
    """The packet path of ``logistic_jit`` on one block ``xs`` (whole packets, at most
    ``ybuf.shape[0]`` elements) into ``os_``. Two passes so both loops vectorize: the
    first writes y and the bits of 2^m (``(m + 127) << 23``, as LiteRT builds it), the
    second reads those bits as floats."""
    cnt = xs.shape[0]
    scale = kbuf.view(np.float32)
    for i in range(cnt):
        v = xs[i]
        h = (_EXP_HI if v >= _EXP_HI else v) * _HALF  # noqa: FURB136 - NaN stays NaN, like minps
        m = np.floor(h * _LOG2E + _HALF)
        r = m * _LN2_HI + h
        r = m * _LN2_LO + r
        r2 = r * r
        a = r2 * _P0 + _P1
        b = (r2 * _P2 + _P3) * r + a
        ybuf[i] = b * r2 + (r + _ONE)
        t = m + _BIAS
        t = t if t >= 0 else np.float32(0.0)  # NaN -> 0 (no float-to-int of a NaN)
        t = t if t <= _EXP_MAX else _EXP_MAX  # noqa: FURB136
        kbuf[i] = np.int32(t) << 23
    for i in range(cnt):
        e = scale[i] * ybuf[i]
        e = e * e
        # np.divide, not "/": Numba checks "/" for a zero divisor (a branch per
        # element that stops this loop from vectorizing); the quotient is the same.
        q = np.divide(e, e + _ONE)
        v = xs[i]
        os_[i] = _written(v, np.float32(0.0) if v < _LOGISTIC_LO else q, write, clamp, lo, hi)


@njit
def _logistic_scalar_jit(xs, os_, write, clamp, lo, hi):
    """LiteRT's scalar path (the elements past the last whole packet): expf, then e / (e + 1)."""
    for i in range(xs.shape[0]):
        v = xs[i]
        e = np.float32(math.exp(_EXP_HI if v >= _EXP_HI else v))  # noqa: FURB136 - keeps NaN
        os_[i] = _written(v, e / (e + _ONE), write, clamp, lo, hi)


def eigen_sum_rows(x: np.ndarray, aligned_start: np.ndarray) -> np.ndarray:
    """Eigen's vectorized sum of each row of ``x`` [rows, n] (float32).

    ``aligned_start[i]`` is how many leading elements of row i precede the first
    16-byte boundary (LiteRT's buffers are aligned, so it is ``(-i * n) % 4``).
    Packets from the aligned start go alternately into two accumulators, a last odd
    packet into the first; their sum's lanes are added as ``(l0 + l2) + (l1 + l3)``;
    then the unaligned head elements and the tail, one at a time. A row shorter than
    one aligned packet is summed left to right.
    """
    rows, n = x.shape
    res = np.empty(rows, np.float32)
    for a0 in np.unique(aligned_start).tolist():
        sel = np.nonzero(aligned_start == a0)[0]
        xs = x[sel]
        a0 = min(int(a0), n)
        size1 = ((n - a0) // PACKET) * PACKET
        size2 = ((n - a0) // (2 * PACKET)) * 2 * PACKET
        if size1 == 0:
            res[sel] = np.cumsum(xs, axis=1, dtype=np.float32)[:, -1]
            continue
        end2, end1 = a0 + size2, a0 + size1
        acc0 = xs[:, a0 : a0 + PACKET]
        if size1 > PACKET:
            acc1 = xs[:, a0 + PACKET : a0 + 2 * PACKET]
            if size2 > 2 * PACKET:
                pairs = xs[:, a0:end2].reshape(len(sel), -1, 2, PACKET)
                # running sums along the pairs axis: sequential, like the packet loop
                acc0 = np.cumsum(pairs[:, :, 0], axis=1, dtype=np.float32)[:, -1]
                acc1 = np.cumsum(pairs[:, :, 1], axis=1, dtype=np.float32)[:, -1]
            acc0 = acc0 + acc1
            if end1 > end2:
                acc0 = acc0 + xs[:, end2:end1]
        total = (acc0[:, 0] + acc0[:, 2]) + (acc0[:, 1] + acc0[:, 3])
        for j in list(range(a0)) + list(range(end1, n)):
            total = total + xs[:, j]
        res[sel] = total
    return res


@njit
def eigen_sum_rows_jit(x, aligned_start, res):
    """Numba twin of ``eigen_sum_rows`` writing into ``res`` [rows]."""
    rows, n = x.shape
    acc0 = np.empty(4, np.float32)
    acc1 = np.empty(4, np.float32)
    for i in range(rows):
        a0 = min(aligned_start[i], n)
        size1 = ((n - a0) // 4) * 4
        size2 = ((n - a0) // 8) * 8
        if size1 == 0:
            t = x[i, 0]
            for j in range(1, n):
                t = t + x[i, j]
            res[i] = t
            continue
        end2 = a0 + size2
        end1 = a0 + size1
        for lane in range(4):
            acc0[lane] = x[i, a0 + lane]
        if size1 > 4:
            for lane in range(4):
                acc1[lane] = x[i, a0 + 4 + lane]
            for j in range(a0 + 8, end2, 8):
                for lane in range(4):
                    acc0[lane] = acc0[lane] + x[i, j + lane]
                    acc1[lane] = acc1[lane] + x[i, j + 4 + lane]
            for lane in range(4):
                acc0[lane] = acc0[lane] + acc1[lane]
            if end1 > end2:
                for lane in range(4):
                    acc0[lane] = acc0[lane] + x[i, end2 + lane]
        t = (acc0[0] + acc0[2]) + (acc0[1] + acc0[3])
        for j in range(a0):
            t = t + x[i, j]
        for j in range(end1, n):
            t = t + x[i, j]
        res[i] = t


def dot_rows(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``w @ x`` for w [N, K], x [K] in the order of Eigen's row-major matrix-vector
    product (LiteRT's float CONV_2D with a single output pixel).

    Each row is a dot product vectorized along k: four lanes accumulate
    ``w[n, k] * x[k]`` for k in packets of four (multiply, then add: no FMA), the lanes
    are summed as ``(l0 + l2) + (l1 + l3)``, then the last ``K % 4`` products one by one.
    """
    n, k = w.shape
    k4 = k - k % PACKET
    if k4 and n:
        prods = (w[:, :k4] * x[:k4]).reshape(n, k4 // PACKET, PACKET)
        lanes = np.cumsum(prods, axis=1, dtype=np.float32)[:, -1]
        total = (lanes[:, 0] + lanes[:, 2]) + (lanes[:, 1] + lanes[:, 3])
    else:
        total = np.zeros(n, np.float32)
    for j in range(k4, k):
        total = total + w[:, j] * x[j]
    return total


@njit
def dot_rows_jit(w, x, out):
    """Numba twin of ``dot_rows`` writing into ``out`` [N]."""
    n, k = w.shape
    k4 = k - k % 4
    for i in range(n):
        l0 = np.float32(0.0)
        l1 = np.float32(0.0)
        l2 = np.float32(0.0)
        l3 = np.float32(0.0)
        for j in range(0, k4, 4):
            l0 = l0 + w[i, j] * x[j]
            l1 = l1 + w[i, j + 1] * x[j + 1]
            l2 = l2 + w[i, j + 2] * x[j + 2]
            l3 = l3 + w[i, j + 3] * x[j + 3]
        t = (l0 + l2) + (l1 + l3)
        for j in range(k4, k):
            t = t + w[i, j] * x[j]
        out[i] = t


# Float CONV_2D with several output pixels: LiteRT runs an Eigen tensor contraction.
# For output channels in whole groups of 8 and a short reduction (K <= 320, measured)
# every output is a running sum over k = (ky, kx, c) in order, each product rounded
# before it is added (SSE, no FMA), starting from zero; the bias is added afterwards.
# Other shapes split the sum differently (4-channel blocks alternate two accumulators,
# leftover channels use four, long reductions are blocked): not reproduced here.
SEQ_CHANNEL_GROUP = 8
SEQ_MAX_DEPTH = 320


def running_matmul(cols: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``cols @ w`` (cols [M, K], w [K, N]) as running float32 sums over k, in order."""
    acc = np.zeros((cols.shape[0], w.shape[1]), np.float32)
    for k in range(cols.shape[1]):
        acc += cols[:, k : k + 1] * w[k]
    return acc


@njit
def running_conv_jit(x, w, bias, lo, hi, out, sh, sw, pad_h, pad_w):
    """Numba twin of ``running_matmul`` over an im2col'd CONV_2D (dilation 1, groups 1):
    out[b, oy, ox, o] = clamp((...((0 + p_0) + p_1) + ...) + bias[o]) with
    p_k = x[b, oy*sh - pad_h + ky, ox*sw - pad_w + kx, c] * w[ky, kx, c, o] in (ky, kx, c)
    order. Taps in the padding are skipped: their products are zeros, which leave a
    running sum unchanged. x [N, H, W, Cin], w [KH, KW, Cin, Cout], out [N, OH, OW, Cout].
    """
    nb, h, wd, cin = x.shape
    kh, kw, _, cout = w.shape
    oh = out.shape[1]
    ow = out.shape[2]
    acc = np.empty(cout, np.float32)
    for b in range(nb):
        for oy in range(oh):
            iy0 = oy * sh - pad_h
            for ox in range(ow):
                ix0 = ox * sw - pad_w
                acc[:] = 0.0
                for ky in range(kh):
                    iy = iy0 + ky
                    if iy < 0 or iy >= h:
                        continue
                    for kx in range(kw):
                        ix = ix0 + kx
                        if ix < 0 or ix >= wd:
                            continue
                        for c in range(cin):
                            xv = x[b, iy, ix, c]
                            for o in range(cout):
                                acc[o] = acc[o] + xv * w[ky, kx, c, o]
                for o in range(cout):
                    out[b, oy, ox, o] = min(max(acc[o] + bias[o], lo), hi)
