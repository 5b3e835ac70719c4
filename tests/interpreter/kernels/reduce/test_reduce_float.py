"""Reductions, ARG_MAX/ARG_MIN, TOPK_V2 and CUMSUM: hand cases, LiteRT, hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgelite.errors import ShapeError
from edgelite.schema.fb.ArgMaxOptions import ArgMaxOptionsT
from edgelite.schema.fb.ArgMinOptions import ArgMinOptionsT
from edgelite.schema.fb.CumsumOptions import CumsumOptionsT
from edgelite.schema.fb.ReducerOptions import ReducerOptionsT
from tests.interpreter.kernels.oracle import Const, Out, Var, compare, run_kernel

REDUCERS = {"MEAN": np.mean, "SUM": np.sum, "REDUCE_MAX": np.max, "REDUCE_MIN": np.min, "REDUCE_PROD": np.prod}


def keep(flag):
    o = ReducerOptionsT()
    o.keepDims = flag
    return o


def axes(*a):
    return Const(np.array(a, np.int32))


def test_sum_and_mean_by_hand_with_negative_and_repeated_axes():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert run_kernel("SUM", [x, axes(-1, 1)], keep(False))[0].tolist() == [3.0, 12.0]
    assert run_kernel("MEAN", [x, axes(0)], keep(True))[0].tolist() == [[1.5, 2.5, 3.5]]
    assert run_kernel("REDUCE_MAX", [x, axes(0, 1)], keep(False))[0].shape == ()


def test_any_all_by_hand():
    b = np.array([[True, False], [False, False]])
    assert run_kernel("REDUCE_ANY", [b, axes(1)], keep(False), [Out(np.bool_)])[0].tolist() == [True, False]
    assert run_kernel("REDUCE_ALL", [b, axes(0)], keep(False), [Out(np.bool_)])[0].tolist() == [False, False]


def test_axis_out_of_range_fails_in_prepare():
    with pytest.raises(ShapeError, match="axis 2"):
        run_kernel("SUM", [np.zeros((2, 3), np.float32), axes(2)], keep(False))


def test_runtime_axis_gives_a_dynamic_output():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    (out,) = run_kernel("SUM", [x, Var(np.array([0, 2], np.int32))], keep(False))
    np.testing.assert_array_equal(out, x.sum(axis=(0, 2)))


@pytest.mark.parametrize("op", list(REDUCERS))
@pytest.mark.parametrize("ax,kd", [((1,), False), ((0, 2), True), ((-1,), False), ((0, 1, 2, 3), False), ((1, 3), True)])
def test_float_reductions_match_litert(op, ax, kd):
    x = np.random.default_rng(1).uniform(-2, 2, (2, 3, 4, 5)).astype(np.float32)
    if op == "REDUCE_PROD":
        x = np.random.default_rng(1).uniform(0.5, 1.5, (2, 3, 4, 5)).astype(np.float32)
    compare(op, [x, axes(*ax)], keep(kd), rtol=2e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["MEAN", "SUM", "REDUCE_PROD"])
@pytest.mark.parametrize("shape,ax,kd", [
    ((1, 14, 14, 48), (1, 2), True),  # the global pool of a CNN: [196, 48] over axis 0
    ((1, 7, 7, 128), (1, 2), False),
    ((5, 301), (1,), False),  # last axis alone: MEAN is Eigen's vectorized sum
    ((3, 1, 5, 1, 4), (2, 4), True),  # size-1 dims dropped, [3, 20] over the last axis
    ((2, 3, 4, 5), (0, 2), False),
    ((2, 3, 4, 5), (1, 2, 3), True),
    ((4, 300), (0, 1), False),
    ((2, 1, 3), (1,), False),  # only a size-1 axis: a copy
])
def test_float_reductions_bit_exact_with_litert(op, shape, ax, kd):
    rng = np.random.default_rng(len(shape) + sum(ax))
    if op == "REDUCE_PROD":
        x = rng.uniform(0.6, 1.5, shape).astype(np.float32)
    else:
        x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    got = run_kernel(op, [x, axes(*ax)], keep(kd))[0]
    want = compare(op, [x, axes(*ax)], keep(kd), rtol=2e-5, atol=1e-5)[0]
    np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32))


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, max_side=7),
                    elements=st.floats(-1e4, 1e4, width=32)),
       data=st.data(), op=st.sampled_from(["SUM", "REDUCE_PROD"]))
def test_float_sum_and_prod_are_running_results_in_memory_order(x, data, op):
    # The definition, one element at a time: each output starts from its first element
    # in memory order and takes the others in that order, rounding to float32 each time.
    ax = tuple(sorted(set(data.draw(st.lists(st.integers(0, x.ndim - 1), min_size=1, max_size=x.ndim)))))
    kept = [d for d in range(x.ndim) if d not in ax]
    want = np.zeros([x.shape[d] for d in kept], np.float32).reshape(-1)
    first = np.ones(want.shape, bool)
    with np.errstate(over="ignore", invalid="ignore"):
        _running(x, kept, want, first, op)
    with np.errstate(over="ignore", invalid="ignore"):
        got = run_kernel(op, [x, axes(*ax)], keep(False))[0].reshape(-1)
    np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32))


def _running(x, kept, want, first, op):
    for idx in np.ndindex(*x.shape):
        o = np.ravel_multi_index([idx[d] for d in kept], [x.shape[d] for d in kept]) if kept else 0
        v = x[idx]
        if first[o]:
            want[o], first[o] = v, False
        else:
            want[o] = want[o] * v if op == "REDUCE_PROD" else want[o] + v


def test_float_sum_is_sequential_in_memory_order():
    # 1e8 absorbs the ones added after it: (((1e8 + 1) + 1) + 1) - 1e8 == 0 in float32
    x = np.array([[1e8, 1, 1, 1, -1e8]], np.float32)
    assert run_kernel("SUM", [x, axes(1)], keep(False))[0][0] == 0.0
    assert run_kernel("SUM", [x[:, ::-1].copy(), axes(1)], keep(False))[0][0] == 0.0


@pytest.mark.parametrize("op", ["SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"])
def test_int32_reductions_match_litert(op):
    x = np.random.default_rng(2).integers(-4, 5, (3, 4, 2)).astype(np.int32)
    compare(op, [x, axes(1)], keep(False), outputs=[Out(np.int32)])


@pytest.mark.parametrize("op", ["REDUCE_ANY", "REDUCE_ALL"])
def test_bool_reductions_match_litert(op):
    x = np.random.default_rng(3).random((3, 4, 2)) > 0.3
    compare(op, [x, axes(0, 2)], keep(True), outputs=[Out(np.bool_)])


def test_quantized_max_with_unchanged_scale_matches_litert():
    x = np.random.default_rng(4).integers(-128, 128, (2, 6, 3)).astype(np.int8)
    q = (0.05, -7)
    compare("REDUCE_MAX", [Var(x, q), axes(1)], keep(False), outputs=[Out(np.int8, q)])


@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), elements=st.floats(-9, 9, width=32)),
       data=st.data(), op=st.sampled_from(list(REDUCERS)), kd=st.booleans())
def test_reductions_equal_numpy(x, data, op, kd):
    ax = data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1, max_size=x.ndim))
    got = run_kernel(op, [x, axes(*ax)], keep(kd))[0]
    norm = tuple(sorted({a % x.ndim for a in ax}))
    want = REDUCERS[op](x.astype(np.float64), axis=norm, keepdims=kd)
    assert got.shape == np.shape(want)
    # float32 running sums (LiteRT's order): a few ulps of the largest partial sum
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)


def arg_opts(op, dtype):
    o = ArgMaxOptionsT() if op == "ARG_MAX" else ArgMinOptionsT()
    o.outputType = 2 if dtype == np.int32 else 4
    return o


def test_arg_max_takes_first_of_ties():
    x = np.array([[1, 5, 5], [7, 7, 2]], np.float32)
    out = run_kernel("ARG_MAX", [x, Const(np.array([1], np.int32))], arg_opts("ARG_MAX", np.int64), [Out(np.int64)])[0]
    assert out.tolist() == [1, 0]


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("in_dtype", [np.float32, np.int32, np.uint8])
@pytest.mark.parametrize("out_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("axis", [0, 2, -1])
def test_arg_min_max_match_litert(op, in_dtype, out_dtype, axis):
    x = np.random.default_rng(5).integers(0, 6, (3, 4, 5)).astype(in_dtype)  # ties included
    compare(op, [x, Const(np.array([axis], np.int32))], arg_opts(op, out_dtype), [Out(out_dtype)])


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@pytest.mark.parametrize("k", [1, 3, 6])
def test_topk_matches_litert_including_ties(dtype, k):
    x = np.random.default_rng(6).integers(-3, 4, (2, 3, 6)).astype(dtype)
    compare("TOPK_V2", [x, Const(np.array(k, np.int32))], outputs=[Out(dtype), Out(np.int32)])


def test_topk_by_hand():
    vals, idx = run_kernel("TOPK_V2", [np.array([3, 1, 3, 2], np.int32), Const(np.array(2, np.int32))],
                           outputs=[Out(np.int32), Out(np.int32)])
    assert vals.tolist() == [3, 3] and idx.tolist() == [0, 2]


def cumsum_opts(exclusive, reverse):
    o = CumsumOptionsT()
    o.exclusive, o.reverse = exclusive, reverse
    return o


def test_cumsum_by_hand():
    x = np.array([1, 2, 3, 4], np.int32)
    ax = Const(np.array(0, np.int32))
    run = lambda e, r: run_kernel("CUMSUM", [x, ax], cumsum_opts(e, r), [Out(np.int32)])[0].tolist()
    assert run(False, False) == [1, 3, 6, 10]
    assert run(True, False) == [0, 1, 3, 6]
    assert run(False, True) == [10, 9, 7, 4]
    assert run(True, True) == [9, 7, 4, 0]


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumsum_matches_litert(exclusive, reverse, axis):
    x = np.random.default_rng(7).uniform(-2, 2, (3, 4, 5)).astype(np.float32)
    compare("CUMSUM", [x, Const(np.array(axis, np.int32))], cumsum_opts(exclusive, reverse))
    compare("CUMSUM", [x.astype(np.int32) * 3, Const(np.array(axis, np.int32))], cumsum_opts(exclusive, reverse),
            [Out(np.int32)])


_SPECIAL = st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan, 3e38, -3e38, 1e-45, 1.0, -1.5])


@settings(max_examples=80, deadline=None)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, max_side=6),
                    elements=st.one_of(st.floats(-1e4, 1e4, width=32), _SPECIAL)),
       data=st.data(), op=st.sampled_from(["MEAN", "SUM", "REDUCE_PROD"]), kd=st.booleans())
def test_float_reductions_jit_bit_identical_with_eval(x, data, op, kd):
    # eval_jit (one Numba pass over one run of adjacent axes, else eval) gives eval's bits,
    # NaN, infinities and -0.0 included.
    ax = tuple(data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1, max_size=x.ndim)))
    with np.errstate(all="ignore"):
        want = run_kernel(op, [x, axes(*ax)], keep(kd))[0]
        got = run_kernel(op, [x, axes(*ax)], keep(kd), jit=True)[0]
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32))
