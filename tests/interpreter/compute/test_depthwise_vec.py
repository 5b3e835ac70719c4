"""``depthwise_vec``: the vector multiply-adds of the int8 depthwise kernels against their
Python body, value by value (the kernels' own loops are tested against LiteRT in
``tests/interpreter/kernels``)."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.compute import depthwise_vec

numba = pytest.importorskip("numba")


def _compiled(k: int):
    run_k = depthwise_vec.intrinsic(k)

    @numba.njit
    def run(xs, b, r0, dh, base, taps, wt, bias, a, n):
        return run_k(xs, b, r0, dh, base, taps, wt, bias, a, n)

    return run


@pytest.mark.parametrize("k", [3, 5])
def test_vector_blocks_equal_the_python_body(k):
    run = _compiled(k)
    rng = np.random.default_rng(k)
    for trial in range(40):
        bsz, dh = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        hp = (k - 1) * dh + 1 + int(rng.integers(0, 4))
        n = int(rng.integers(0, 150))
        taps = np.sort(rng.choice(np.arange(0, 3 * k), k, replace=False)).astype(np.int64)
        base = int(rng.integers(0, 20))
        rowlen = base + int(taps.max()) + n + int(rng.integers(0, 5))
        xs = rng.integers(-128, 128, (bsz, hp, rowlen)).astype(np.int8)
        wt = rng.integers(-127, 128, (k * k, n + int(rng.integers(0, 4)))).astype(np.int16)
        if trial % 4 == 0:  # the largest products and pair sums: -128 * -127 everywhere
            xs[:] = -128
            wt[:] = -127 if trial % 8 == 0 else 127
        bias = rng.integers(-2**31, 2**31, wt.shape[1], dtype=np.int64).astype(np.int32)
        if trial % 3 == 0:
            bias[:] = 2**31 - 1 if trial % 2 else -2**31  # the int32 sum wraps
        b = int(rng.integers(0, bsz))
        r0 = int(rng.integers(0, hp - (k - 1) * dh))
        want = np.full(wt.shape[1] + 2, 7, np.int32)
        got = want.copy()
        assert depthwise_vec.dw_run(xs, b, r0, dh, base, taps, wt, bias, want, n) == n
        done = run(xs, np.int64(b), np.int64(r0), np.int64(dh), np.int64(base), taps, wt, bias, got, np.int64(n))
        assert done == n // 32 * 32  # whole blocks only: the kernels finish the tail
        np.testing.assert_array_equal(got[:done], want[:done])
        assert (got[done:] == 7).all()  # nothing else written


def test_python_body_is_the_kernels_formula():
    """The Python body against a numpy spelling of the module doc's sum."""
    rng = np.random.default_rng(9)
    k, n, dh, base = 3, 70, 2, 5
    taps = np.array([0, 4, 8], np.int64)
    xs = rng.integers(-128, 128, (2, 7, 100)).astype(np.int8)
    wt = rng.integers(-127, 128, (9, n)).astype(np.int16)
    bias = rng.integers(-2**31, 2**31, n, dtype=np.int64).astype(np.int32)
    a = np.zeros(n, np.int32)
    depthwise_vec.dw_run(xs, 1, 2, dh, base, taps, wt, bias, a, n)
    s = bias.astype(np.int64).copy()
    for i in range(k):
        for j in range(k):
            s += wt[i * k + j].astype(np.int64) * xs[1, 2 + i * dh, base + taps[j] : base + taps[j] + n]
    np.testing.assert_array_equal(a, s.astype(np.int32))  # (numpy's cast wraps)
