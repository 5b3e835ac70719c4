"""CAST, ZEROS_LIKE, FILL, RANGE, ONE_HOT, WHERE against hand values and LiteRT."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import ShapeError
from edgelite.schema.fb.CastOptions import CastOptionsT
from edgelite.schema.fb.OneHotOptions import OneHotOptionsT
from edgelite.schema.model import tensor_type_of
from tests.interpreter.kernels.oracle import Const, Out, Var, compare, run_kernel

CAST_PAIRS = [
    (np.float32, np.int32), (np.float32, np.int64), (np.int32, np.float32), (np.int64, np.float32),
    (np.float32, np.bool_), (np.bool_, np.float32), (np.int32, np.bool_), (np.bool_, np.int32),
    (np.uint8, np.float32), (np.int8, np.int32), (np.int32, np.int64), (np.int64, np.int32),
    (np.float32, np.uint8), (np.int16, np.float32),
]


def cast_opts(src, dst):
    o = CastOptionsT()
    o.inDataType, o.outDataType = int(tensor_type_of(src)), int(tensor_type_of(dst))
    return o


def test_cast_truncates_toward_zero_and_bool_is_nonzero():
    x = np.array([-2.7, -0.5, 0.0, 0.4, 3.9], np.float32)
    assert run_kernel("CAST", [x], outputs=[Out(np.int32)])[0].tolist() == [-2, 0, 0, 0, 3]
    assert run_kernel("CAST", [x], outputs=[Out(np.bool_)])[0].tolist() == [True, True, False, True, True]


@pytest.mark.parametrize("src,dst", CAST_PAIRS, ids=[f"{np.dtype(a).name}-{np.dtype(b).name}" for a, b in CAST_PAIRS])
def test_cast_matches_litert(src, dst):
    rng = np.random.default_rng(0)
    if src == np.bool_:
        x = rng.random((3, 4)) > 0.5
    elif np.dtype(src).kind == "f":
        x = rng.uniform(0 if dst == np.uint8 else -100, 100, (3, 4)).astype(src)
        x[0, :3] = [0.0, 0.5, -0.0]
    else:
        x = rng.integers(0, 100, (3, 4)).astype(src) * (1 if np.dtype(src).kind == "u" else -1)
    compare("CAST", [x], cast_opts(src, dst), outputs=[Out(dst)])


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_zeros_like_matches_litert(dtype):
    compare("ZEROS_LIKE", [np.ones((2, 3), dtype)], outputs=[Out(dtype)])


@pytest.mark.parametrize("dtype,value", [(np.float32, 2.5), (np.int32, -7), (np.int64, 9), (np.bool_, True)])
def test_fill_matches_litert(dtype, value):
    compare("FILL", [Const(np.array([2, 3, 1], np.int32)), np.array(value, dtype)], outputs=[Out(dtype)])


def test_fill_with_runtime_dims_is_dynamic_and_quantized_value_is_kept():
    (y,) = run_kernel("FILL", [Var(np.array([2, 2], np.int64)), Var(np.array(-3, np.int8), (0.1, 2))],
                      outputs=[Out(np.int8, (0.1, 2))])
    assert y.tolist() == [[-3, -3], [-3, -3]]


@pytest.mark.parametrize("dtype,start,limit,delta", [
    (np.int32, 0, 10, 3), (np.int32, 10, -3, -4), (np.int64, -2, 7, 2),
    (np.float32, 0.5, 3.0, 0.7), (np.float32, 1.0, -2.0, -0.25),
])
def test_range_matches_litert(dtype, start, limit, delta):
    args = [Const(np.array(v, dtype)) for v in (start, limit, delta)]
    compare("RANGE", args, outputs=[Out(dtype)])
    compare("RANGE", [np.array(v, dtype) for v in (start, limit, delta)], outputs=[Out(dtype)])


def test_empty_range():
    # (LiteRT's get_tensor cannot return an empty tensor, so this one is by hand.)
    for start, limit, delta in ((5, 5, 1), (5, 2, 1), (2, 5, -1)):
        (y,) = run_kernel("RANGE", [Const(np.array(v, np.int32)) for v in (start, limit, delta)], outputs=[Out(np.int32)])
        assert y.shape == (0,)


def test_range_zero_delta_fails():
    with pytest.raises(ShapeError):
        run_kernel("RANGE", [Const(np.array(v, np.int32)) for v in (0, 3, 0)], outputs=[Out(np.int32)])


def oh_opts(axis):
    o = OneHotOptionsT()
    o.axis = axis
    return o


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.bool_])
def test_one_hot_matches_litert(axis, dtype):
    idx = np.array([[0, 3], [2, -1], [5, 1]], np.int32)  # -1 and 5 are out of range: all off
    on, off = (np.array(True), np.array(False)) if dtype == np.bool_ else (np.array(3, dtype), np.array(-1, dtype))
    compare("ONE_HOT", [idx, Const(np.array(4, np.int32)), Const(on), Const(off)], oh_opts(axis), outputs=[Out(dtype)])


def test_one_hot_by_hand():
    (y,) = run_kernel("ONE_HOT", [np.array([1, 0], np.int32), Const(np.array(3, np.int32)),
                                  Const(np.array(1.0, np.float32)), Const(np.array(0.0, np.float32))], oh_opts(-1))
    assert y.tolist() == [[0, 1, 0], [1, 0, 0]]


@pytest.mark.parametrize("dtype", [np.bool_, np.float32, np.int32])
def test_where_matches_litert(dtype):
    x = (np.random.default_rng(1).random((3, 4, 2)) > 0.6).astype(dtype)
    compare("WHERE", [x], outputs=[Out(np.int64)])
    compare("WHERE", [Const(x)], outputs=[Out(np.int64)])


def test_where_by_hand():
    (y,) = run_kernel("WHERE", [np.array([[False, True], [True, True]])], outputs=[Out(np.int64)])
    assert y.tolist() == [[0, 1], [1, 0], [1, 1]]
