"""``requant_vec``: the vector requantization of the int8 depthwise kernels against its
Python body (the arithmetic the kernels' element loops spell out), element by element."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.compute import requant_vec

numba = pytest.importorskip("numba")


def _compiled(with_neg: bool):
    rq = requant_vec.intrinsic(with_neg)
    if with_neg:
        @numba.njit
        def run(a, n, q, add, neg, total, zp, lo, hi, out, ob):
            return rq(a, n, q, add, neg, total, zp, lo, hi, out, ob)
    else:
        @numba.njit
        def run(a, n, q, add, total, zp, lo, hi, out, ob):
            return rq(a, n, q, add, total, zp, lo, hi, out, ob)
    return run


def _tables(rng, size):
    """Multipliers and shifts as ``depthwise_int8_loops.plan_fast`` makes them (any int32
    multiplier, shifts 0..31 on top of 31), and a ``neg`` of 0 or 2**31 per element."""
    q = rng.integers(-2**31, 2**31, size, dtype=np.int64).astype(np.int32)
    r = rng.integers(0, 32, size).astype(np.int64)
    add = (np.int64(1) << 30) + (((np.int64(1) << r) >> 1) << 31)
    neg = np.where(rng.random(size) < 0.5, np.int64(1) << 31, np.int64(0))
    return q, add, neg, 31 + r


@pytest.mark.parametrize("with_neg", [False, True])
@pytest.mark.parametrize("out_dtype", [np.int8, np.uint8])
def test_vector_blocks_equal_the_python_body(with_neg, out_dtype):
    run = _compiled(with_neg)
    rng = np.random.default_rng(int(with_neg) + 2 * (out_dtype == np.uint8))
    for trial in range(60):
        size = int(rng.integers(1, 200))
        n = int(rng.integers(0, size + 1))
        a = rng.integers(-2**31, 2**31, size, dtype=np.int64).astype(np.int32)
        a[: size // 4] = rng.choice(np.array([-2**31, 2**31 - 1, 0, -1, 1], np.int64), size // 4).astype(np.int32)
        q, add, neg, total = _tables(rng, size)
        lo_t, hi_t = (-128, 127) if out_dtype == np.int8 else (0, 255)
        lo, hi = sorted(int(v) for v in rng.integers(lo_t, hi_t + 1, 2)) if trial % 3 else (lo_t, hi_t)
        zp = int(rng.integers(lo_t, hi_t + 1))
        ob = int(rng.integers(0, 5))
        got = np.full(size + ob + 3, 77, out_dtype)
        want = got.copy()
        extra = (neg,) if with_neg else ()
        py = requant_vec.requant_run_neg if with_neg else requant_vec.requant_run
        assert py(a, n, q, add, *extra, total, zp, lo, hi, want, ob) == n
        done = run(a, np.int64(n), q, add, *extra, total, np.int64(zp), np.int64(lo), np.int64(hi), got, np.int64(ob))
        assert done == n // 16 * 16  # whole blocks only: the kernels finish the tail
        np.testing.assert_array_equal(got[ob : ob + done], want[ob : ob + done])
        assert (got[:ob] == 77).all() and (got[ob + done :] == 77).all()  # nothing else written


def test_python_body_is_the_kernels_formula():
    """The Python bodies against the depthwise kernels' element loop as written there
    (int64 numpy arithmetic), including the sign test of ``neg``."""
    rng = np.random.default_rng(5)
    a = rng.integers(-2**31, 2**31, 500, dtype=np.int64).astype(np.int32)
    q, add, neg, total = _tables(rng, 500)
    pq = a.astype(np.int64) * q.astype(np.int64)
    for with_neg in (False, True):
        v = pq + add - ((((pq + 1073741824) >> 63) & neg) if with_neg else 0)
        want = np.clip((v >> total) + 5, -128, 127).astype(np.int8)
        got = np.zeros(500, np.int8)
        if with_neg:
            requant_vec.requant_run_neg(a, 500, q, add, neg, total, 5, -128, 127, got, 0)
        else:
            requant_vec.requant_run(a, 500, q, add, total, 5, -128, 127, got, 0)
        np.testing.assert_array_equal(got, want)
