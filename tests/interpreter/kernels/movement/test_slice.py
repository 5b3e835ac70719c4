"""SLICE and STRIDED_SLICE: masks, negative strides, offset; LiteRT and numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgelite.errors import ShapeError
from edgelite.schema.fb.StridedSliceOptions import StridedSliceOptionsT
from tests.interpreter.kernels.movement_cases import MOVE_CASES, MOVE_IDS, data
from tests.interpreter.kernels.oracle import Const, Var, compare, run_kernel


def i32(*v):
    return Const(np.array(v, np.int32))


def ss_opts(begin=0, end=0, ellipsis=0, new_axis=0, shrink=0, offset=False):
    o = StridedSliceOptionsT()
    o.beginMask, o.endMask, o.ellipsisMask, o.newAxisMask, o.shrinkAxisMask, o.offset = (
        begin, end, ellipsis, new_axis, shrink, offset)
    return o


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
def test_slice_matches_litert(dtype, quant):
    x, out = data(np.random.default_rng(0), (3, 4, 5), dtype, quant)
    compare("SLICE", [x, i32(1, 0, 2), i32(2, -1, 3)], outputs=[out])


def test_slice_out_of_bounds_fails():
    with pytest.raises(ShapeError):
        run_kernel("SLICE", [np.zeros((3, 4), np.float32), i32(2, 0), i32(2, 4)])


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
def test_strided_slice_every_dtype_matches_litert(dtype, quant):
    x, out = data(np.random.default_rng(1), (4, 5, 6), dtype, quant)
    compare("STRIDED_SLICE", [x, i32(1, -1, 0), i32(4, 0, 6), i32(2, -2, 3)], ss_opts(), outputs=[out])


CASES = [
    # begin, end, strides, options
    ((0, 1, 0), (0, 3, 0), (1, 1, 1), {"begin": 5, "end": 5}),
    ((-1, 0, 0), (0, 0, 0), (1, 1, 1), {"shrink": 1, "begin": 6, "end": 6}),
    ((3, 4, 5), (0, 0, 0), (-1, -1, -1), {"end": 7}),
    ((1, 0), (3, 2), (1, 1), {"ellipsis": 0}),
    ((0, 1), (0, 3), (1, 1), {"ellipsis": 1}),
    ((0, 0, 1), (0, 0, 4), (1, 1, 2), {"new_axis": 2, "begin": 1, "end": 1}),
    ((0, 2), (0, 1), (1, 1), {"ellipsis": 1, "shrink": 2}),
    ((1, 1, 1), (2, 3, 4), (1, 1, 1), {"offset": True}),
    ((-9, -9, 9), (9, 9, -9), (1, 2, -1), {}),
]


@pytest.mark.parametrize("begin,end,strides,o", CASES)
def test_strided_slice_masks_match_litert(begin, end, strides, o):
    x = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    compare("STRIDED_SLICE", [x, i32(*begin), i32(*end), i32(*strides)], ss_opts(**o))


def test_strided_slice_by_hand():
    x = np.arange(10, dtype=np.int32)
    from tests.interpreter.kernels.oracle import Out

    got = run_kernel("STRIDED_SLICE", [x, i32(-1), i32(0), i32(-3)], ss_opts(end=1), outputs=[Out(np.int32)])[0]
    assert got.tolist() == [9, 6, 3, 0]
    got = run_kernel("STRIDED_SLICE", [x, i32(2), i32(3), i32(1)], ss_opts(offset=True), outputs=[Out(np.int32)])[0]
    assert got.tolist() == [2, 3, 4]


def test_strided_slice_zero_stride_and_bad_shrink_fail():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(ShapeError, match="stride"):
        run_kernel("STRIDED_SLICE", [x, i32(0, 0), i32(1, 1), i32(1, 0)], ss_opts())
    with pytest.raises(ShapeError, match="shrunk"):
        run_kernel("STRIDED_SLICE", [x, i32(5, 0), i32(6, 1), i32(1, 1)], ss_opts(shrink=1))


def test_strided_slice_with_runtime_begin_is_dynamic():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    (y,) = run_kernel("STRIDED_SLICE", [x, Var(np.array([1, 1], np.int32)), i32(3, 4), i32(1, 2)], ss_opts())
    np.testing.assert_array_equal(y, x[1:3, 1:4:2])


def _py_slice(b, e, s, bm, em):
    return slice(None if bm else b, None if em else e, s)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_strided_slice_equals_python_slicing(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    n = len(shape)
    begin = data.draw(st.lists(st.integers(-7, 7), min_size=n, max_size=n))
    end = data.draw(st.lists(st.integers(-7, 7), min_size=n, max_size=n))
    strides = data.draw(st.lists(st.sampled_from([-3, -2, -1, 1, 2, 3]), min_size=n, max_size=n))
    bm, em = data.draw(st.integers(0, 2**n - 1)), data.draw(st.integers(0, 2**n - 1))
    (got,) = run_kernel("STRIDED_SLICE", [x, i32(*begin), i32(*end), i32(*strides)], ss_opts(begin=bm, end=em))
    want = x[tuple(_py_slice(b, e, s, bm >> i & 1, em >> i & 1) for i, (b, e, s) in enumerate(zip(begin, end, strides)))]
    np.testing.assert_array_equal(got, want)
