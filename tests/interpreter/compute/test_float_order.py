"""LiteRT-order float32 helpers: bit-exact with LiteRT's built-in kernels, and the numpy
and Numba versions equal to each other."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgelite.interpreter.compute import float_order
from edgelite.schema.fb.ReducerOptions import ReducerOptionsT
from tests.interpreter.kernels.oracle import Const, Out, run_litert, single_op_model

F32 = np.float32
SPECIAL = [np.nan, np.inf, -np.inf, -104.0, -103.99, -88.0, 16.6355, 16.64, 0.0, -0.0, 1e-30, -1e-30]


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    nan = np.isnan(b)
    return bool(np.array_equal(np.isnan(a), nan) and np.array_equal(a[~nan].view(np.int32), b[~nan].view(np.int32)))


def _logistic_both(x):
    ref, jit = np.empty_like(x), np.empty_like(x)
    float_order.logistic(x, ref)
    float_order.logistic_jit(x, jit)
    return ref, jit


@pytest.mark.parametrize("n", [1, 2, 3, 4, 4099, 6002])
def test_logistic_bit_exact_with_litert(n):
    # packets and the scalar tail (n % 4 elements), special values and the cut-offs
    rng = np.random.default_rng(n)
    x = np.concatenate([rng.uniform(-110, 20, n), rng.standard_normal(n) * 0.05])[:n].astype(F32)
    x[: min(n, len(SPECIAL))] = SPECIAL[: min(n, len(SPECIAL))]
    x[-min(n, 3):] = np.array([-1.5, 17.0, np.nan], F32)[-min(n, 3):]
    want = run_litert(single_op_model("LOGISTIC", [x], [Out(F32, shape=x.shape)]), [x])[0]
    ref, jit = _logistic_both(x)
    assert _bits_equal(ref, want)
    assert _bits_equal(jit, want)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(F32, st.integers(1, 40), elements=st.floats(-120, 30, width=32)))
def test_logistic_numpy_and_numba_agree(x):
    ref, jit = _logistic_both(x)
    assert _bits_equal(jit, ref)
    assert np.all((ref >= 0) & (ref <= 1))


def _last_axis_mean_litert(x):
    o = ReducerOptionsT()
    o.keepDims = False
    model = single_op_model("MEAN", [x, Const(np.array([1], np.int32))], [Out(F32, shape=(x.shape[0],))], options=o)
    return run_litert(model, [x])[0]


@pytest.mark.parametrize("shape", [(4, 300), (5, 301), (3, 7), (6, 33), (2, 3), (7, 9), (3, 12)])
def test_eigen_row_sum_is_litert_last_axis_mean(shape):
    # LiteRT's float MEAN over the last axis is Eigen's vectorized sum / n; rows start
    # at every alignment when n is not a multiple of 4.
    x = (np.random.default_rng(sum(shape)).standard_normal(shape) * 3 + 1).astype(F32)
    start = (-(np.arange(shape[0]) * shape[1])) % float_order.PACKET
    ref = float_order.eigen_sum_rows(x, start)
    jit = np.empty(shape[0], F32)
    float_order.eigen_sum_rows_jit(x, start, jit)
    assert _bits_equal(jit, ref)
    assert _bits_equal(ref / F32(shape[1]), _last_axis_mean_litert(x))


def test_eigen_row_sum_by_hand():
    # 12 aligned elements: packets [0:4] and [4:8] in two accumulators, [8:12] into the first
    x = np.array([[1e8, 1, 1, 1, -1e8, 1, 1, 1, 1, 0, 0, 0]], F32)
    # lanes: (1e8 + -1e8 + 1, 1 + 1, 1 + 1, 1 + 1) = (1, 2, 2, 2) -> (1 + 2) + (2 + 2) = 7
    assert float_order.eigen_sum_rows(x, np.array([0]))[0] == 7.0
    # left to right it would lose the ones absorbed by 1e8
    assert np.cumsum(x[0], dtype=F32)[-1] != 7.0
