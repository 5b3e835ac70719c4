"""``logistic_vec``: the 16-lane packet logistic (and swish) against the scalar formula,
bit for bit, in every lane; its constants are float_order's; and what runs where the
CPU lacks AVX-512."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.compute import float_order, logistic_vec

numba = pytest.importorskip("numba")

F32 = np.float32
SPECIAL = [np.nan, -np.nan, np.inf, -np.inf, -104.0, -103.99, -104.01, -88.0, -87.5, 16.635532, 16.635534, 16.64,
           0.0, -0.0, 1e-30, -1e-30, 1e-40, -1e-40, 3.4028235e38, -3.4028235e38, 0.5, -0.5, 6.0, 6.0001]


def _compiled():
    run_fn = logistic_vec.intrinsic()

    @numba.njit
    def run(x, out, write, clamp, lo, hi):
        return run_fn(x, out, write, clamp, lo, hi)

    return run


def _same_bits(a, b):
    assert a.dtype == b.dtype == np.float32
    np.testing.assert_array_equal(a.view(np.int32), b.view(np.int32))


def test_constants_are_float_orders():
    for name in ("EXP_HI", "LOGISTIC_LO", "HALF", "LOG2E", "LN2_HI", "LN2_LO", "P0", "P1", "P2", "P3", "ONE", "BIAS",
                 "EXP_MAX"):
        assert getattr(logistic_vec, name) == getattr(float_order, "_" + name), name


def _inputs(rng, n):
    x = np.concatenate([rng.uniform(-120, 30, n), rng.standard_normal(n) * 3, rng.standard_normal(n) * 1e-3])
    x = rng.permutation(x)[:n].astype(F32)
    for k, v in enumerate(SPECIAL):  # every special value in some lane, and in lane k % 16
        if k * 17 < n:
            x[k * 17] = v
    return x


@pytest.mark.skipif(not logistic_vec.avx512_available(), reason="no AVX-512F on this CPU (or Numba targets another CPU)")
@pytest.mark.parametrize("write", [0, 1, 2])
@pytest.mark.parametrize("clamp, lo, hi", [(False, 0.0, 0.0), (True, 0.0, 6.0), (True, -1.0, 1.0),
                                           (True, -3.4028235e38, 3.4028235e38), (True, np.nan, 1.0)])
def test_vector_blocks_equal_the_scalar_formula(write, clamp, lo, hi):
    run = _compiled()
    rng = np.random.default_rng(write * 10 + int(clamp))
    for n in (0, 15, 16, 17, 400, 4099):
        x = _inputs(rng, n)
        got = np.full(n + 3, 7.0, F32)
        done = run(x, got[:n], write, clamp, F32(lo), F32(hi))
        assert done == n // 16 * 16  # whole blocks only: the kernel's loop does the tail
        want = np.empty(n, F32)
        logistic_vec.logistic_run(x, want, write, clamp, F32(lo), F32(hi))
        _same_bits(got[:done], want[:done])
        assert (got[done:] == 7.0).all()


@pytest.mark.skipif(not logistic_vec.avx512_available(), reason="no AVX-512F on this CPU (or Numba targets another CPU)")
def test_python_formula_is_the_packet_kernel():
    """The Python body (this test's oracle above) against float_order's numpy packet path."""
    x = _inputs(np.random.default_rng(5), 1024)
    want = np.empty_like(x)
    float_order.logistic(x, want)
    got = np.empty_like(x)
    logistic_vec.logistic_run(x, got, 0, False, F32(0), F32(0))
    _same_bits(got, want)


def test_without_avx512_nothing_is_done(monkeypatch):
    monkeypatch.setattr(logistic_vec, "_built", None)
    monkeypatch.setattr(logistic_vec, "avx512_available", lambda: False)
    run = _compiled()
    out = np.zeros(64, F32)
    assert run(np.ones(64, F32), out, 0, False, F32(0), F32(0)) == 0
    assert not out.any()
