"""RESHAPE, SQUEEZE, EXPAND_DIMS, SHAPE: every dtype, LiteRT, accepts rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgelite.errors import ShapeError
from edgelite.interpreter.kernels.base import select_kernel
from edgelite.schema.fb.ReshapeOptions import ReshapeOptionsT
from edgelite.schema.fb.ShapeOptions import ShapeOptionsT
from edgelite.schema.fb.SqueezeOptions import SqueezeOptionsT
from tests.interpreter.kernels.movement_cases import MOVE_CASES, MOVE_IDS, data
from tests.interpreter.kernels.oracle import (
    Const,
    Out,
    Var,
    compare,
    make_context,
    run_kernel,
)


def reshape_opts(shape):
    o = ReshapeOptionsT()
    o.newShape = list(shape)
    return o


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
def test_reshape_every_dtype_matches_litert(dtype, quant):
    rng = np.random.default_rng(0)
    x, out = data(rng, (2, 3, 4), dtype, quant)
    compare("RESHAPE", [x, Const(np.array([4, -1], np.int32))], outputs=[out])
    compare("RESHAPE", [x], reshape_opts([3, 2, 4]), outputs=[out])


def test_reshape_shape_input_wins_over_options_and_legacy_scalar():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    (y,) = run_kernel("RESHAPE", [x, Const(np.array([2, 6], np.int32))], reshape_opts([12]))
    assert y.shape == (2, 6)
    (s,) = run_kernel("RESHAPE", [np.array([5.0], np.float32)], reshape_opts([0]))
    assert s.shape == () and s == 5.0


def test_reshape_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ShapeError):
        run_kernel("RESHAPE", [x, Const(np.array([4, -1], np.int32))])
    with pytest.raises(ShapeError):
        run_kernel("RESHAPE", [x, Const(np.array([-1, -1], np.int32))])


def test_reshape_with_runtime_shape_is_dynamic():
    x = np.arange(12, dtype=np.float32)
    (y,) = run_kernel("RESHAPE", [x, Var(np.array([3, -1], np.int32))])
    assert y.shape == (3, 4) and y[2, 3] == 11


def test_requantizing_reshape_is_refused():
    x = Var(np.zeros((2, 2), np.int8), (0.1, 0))
    ctx = make_context("RESHAPE", [x, Const(np.array([4], np.int32))], None, [Out(np.int8, (0.2, 0))])
    k = select_kernel(ctx)
    assert k is None or not type(k).__module__.endswith(".reshape")


@settings(max_examples=30, deadline=None)
@given(dims=st.lists(st.integers(1, 4), min_size=1, max_size=5), data=st.data())
def test_reshape_round_trips_any_factorisation(dims, data):
    x = np.arange(int(np.prod(dims)), dtype=np.float32).reshape(dims)
    perm = data.draw(st.permutations(dims))
    hole = data.draw(st.integers(0, len(dims) - 1))
    target = list(perm)
    target[hole] = -1
    (y,) = run_kernel("RESHAPE", [x, Const(np.array(target, np.int32))])
    np.testing.assert_array_equal(y, x.reshape(perm))


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
@pytest.mark.parametrize("dims", [[], [0], [-1, 2]])
def test_squeeze_matches_litert(dtype, quant, dims):
    x, out = data(np.random.default_rng(1), (1, 3, 1, 2, 1), dtype, quant)
    o = SqueezeOptionsT()
    o.squeezeDims = dims
    compare("SQUEEZE", [x], o, outputs=[out])


def test_squeeze_of_a_non_unit_dimension_fails():
    o = SqueezeOptionsT()
    o.squeezeDims = [1]
    with pytest.raises(ShapeError, match="squeeze"):
        run_kernel("SQUEEZE", [np.zeros((1, 3), np.float32)], o)


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
@pytest.mark.parametrize("axis", [0, 2, -1, -4])
def test_expand_dims_matches_litert(dtype, quant, axis):
    x, out = data(np.random.default_rng(2), (2, 3, 4), dtype, quant)
    compare("EXPAND_DIMS", [x, Const(np.array(axis, np.int32))], outputs=[out])


def test_expand_dims_axis_out_of_range():
    with pytest.raises(ShapeError):
        run_kernel("EXPAND_DIMS", [np.zeros((2, 3), np.float32), Const(np.array(4, np.int32))])


@pytest.mark.parametrize("out_dtype", [np.int32, np.int64])
def test_shape_matches_litert(out_dtype):
    o = ShapeOptionsT()
    o.outType = 2 if out_dtype == np.int32 else 4
    compare("SHAPE", [np.zeros((2, 1, 5), np.float32)], o, outputs=[Out(out_dtype)])
