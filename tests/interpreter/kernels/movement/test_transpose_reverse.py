"""TRANSPOSE, REVERSE_V2, DEPTH_TO_SPACE, SPACE_TO_DEPTH, BATCH_TO_SPACE_ND,
SPACE_TO_BATCH_ND, TILE, BROADCAST_TO: every dtype against LiteRT."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgelite.errors import ShapeError
from edgelite.schema.fb.DepthToSpaceOptions import DepthToSpaceOptionsT
from edgelite.schema.fb.SpaceToDepthOptions import SpaceToDepthOptionsT
from tests.interpreter.kernels.movement_cases import MOVE_CASES, MOVE_IDS, data
from tests.interpreter.kernels.oracle import Const, Out, compare, run_kernel


def i32(*v):
    return Const(np.array(v, np.int32))


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
@pytest.mark.parametrize("perm", [(1, 0, 2), (2, 0, 1), (0, 1, 2)])
def test_transpose_matches_litert(dtype, quant, perm):
    x, out = data(np.random.default_rng(0), (2, 3, 4), dtype, quant)
    compare("TRANSPOSE", [x, i32(*perm)], outputs=[out])


def test_transpose_6d_matches_litert_and_bad_perm_fails():
    x = np.random.default_rng(1).uniform(size=(2, 1, 3, 2, 1, 2)).astype(np.float32)
    compare("TRANSPOSE", [x, i32(5, 3, 1, 0, 2, 4)])
    with pytest.raises(ShapeError):
        run_kernel("TRANSPOSE", [x, i32(0, 0, 1, 2, 3, 4)])


@pytest.mark.parametrize("dtype,quant", [c for c in MOVE_CASES if c[0] != np.int64],
                         ids=[i for i in MOVE_IDS if i != "i64"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_reverse_matches_litert(dtype, quant, axis):
    x, out = data(np.random.default_rng(2), (2, 3, 4), dtype, quant)
    compare("REVERSE_V2", [x, i32(axis)], outputs=[out])


def test_reverse_several_axes_matches_numpy():
    x = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    (y,) = run_kernel("REVERSE_V2", [x, i32(0, 2)], outputs=[Out(np.int64)])
    np.testing.assert_array_equal(y, x[::-1, :, ::-1])


def bs_opts(cls, bs):
    o = cls()
    o.blockSize = bs
    return o


@pytest.mark.parametrize("dtype,quant", [c for c in MOVE_CASES if c[0] not in (np.bool_, np.int16)],
                         ids=[i for i in MOVE_IDS if i not in ("bool", "qi16")])
def test_depth_space_round_trip_matches_litert(dtype, quant):
    x, out = data(np.random.default_rng(3), (2, 2, 3, 8), dtype, quant)
    compare("DEPTH_TO_SPACE", [x], bs_opts(DepthToSpaceOptionsT, 2), outputs=[out])
    y, out = data(np.random.default_rng(4), (1, 4, 6, 3), dtype, quant)
    compare("SPACE_TO_DEPTH", [y], bs_opts(SpaceToDepthOptionsT, 2), outputs=[out])


def test_depth_to_space_by_hand_and_errors():
    x = np.arange(8, dtype=np.float32).reshape(1, 1, 2, 4)
    (y,) = run_kernel("DEPTH_TO_SPACE", [x], bs_opts(DepthToSpaceOptionsT, 2))
    assert y[0, :, :, 0].tolist() == [[0, 1, 4, 5], [2, 3, 6, 7]]
    with pytest.raises(ShapeError):
        run_kernel("DEPTH_TO_SPACE", [np.zeros((1, 1, 1, 6), np.float32)], bs_opts(DepthToSpaceOptionsT, 2))
    with pytest.raises(ShapeError):
        run_kernel("SPACE_TO_DEPTH", [np.zeros((1, 3, 4, 1), np.float32)], bs_opts(SpaceToDepthOptionsT, 2))


@pytest.mark.parametrize("dtype,quant", [c for c in MOVE_CASES if c[0] not in (np.bool_, np.int16)],
                         ids=[i for i in MOVE_IDS if i not in ("bool", "qi16")])
def test_space_batch_matches_litert_and_pads_with_zero_point(dtype, quant):
    rng = np.random.default_rng(5)
    x, out = data(rng, (2, 3, 5, 2), dtype, quant)
    pads = Const(np.array([[1, 0], [0, 1]], np.int32))
    got = compare("SPACE_TO_BATCH_ND", [x, i32(2, 3), pads], outputs=[out])[0]
    if quant is not None:
        assert (got[0, 0] == quant[1]).all()  # first row of block (0, 0) is all padding
    y, out = data(rng, (12, 2, 3, 2), dtype, quant)
    compare("BATCH_TO_SPACE_ND", [y, i32(2, 3), Const(np.array([[1, 0], [0, 2]], np.int32))], outputs=[out])


def test_space_batch_3d_and_round_trip():
    rng = np.random.default_rng(6)
    x = rng.uniform(size=(2, 6, 3)).astype(np.float32)
    compare("SPACE_TO_BATCH_ND", [x, i32(3), Const(np.array([[1, 2]], np.int32))])
    compare("BATCH_TO_SPACE_ND", [x, i32(2), Const(np.array([[1, 0]], np.int32))])
    x4 = rng.uniform(size=(1, 4, 6, 2)).astype(np.float32)
    zero = Const(np.zeros((2, 2), np.int32))
    (b,) = run_kernel("SPACE_TO_BATCH_ND", [x4, i32(2, 2), zero])
    (back,) = run_kernel("BATCH_TO_SPACE_ND", [b, i32(2, 2), zero])
    np.testing.assert_array_equal(back, x4)


def test_space_batch_errors():
    with pytest.raises(ShapeError):
        run_kernel("SPACE_TO_BATCH_ND", [np.zeros((1, 3, 4, 1), np.float32), i32(2, 2), Const(np.zeros((2, 2), np.int32))])
    with pytest.raises(ShapeError):
        run_kernel("BATCH_TO_SPACE_ND", [np.zeros((3, 2, 2, 1), np.float32), i32(2, 2), Const(np.zeros((2, 2), np.int32))])


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
def test_tile_matches_litert(dtype, quant):
    x, out = data(np.random.default_rng(7), (2, 1, 3), dtype, quant)
    compare("TILE", [x, i32(2, 3, 1)], outputs=[out])


@pytest.mark.parametrize("dtype,quant", [c for c in MOVE_CASES if c[0] != np.int16],
                         ids=[i for i in MOVE_IDS if i != "qi16"])
def test_broadcast_to_matches_litert(dtype, quant):
    x, out = data(np.random.default_rng(8), (3, 1), dtype, quant)
    compare("BROADCAST_TO", [x, i32(2, 3, 4)], outputs=[out], version=2)  # LiteRT registers v2+


def test_broadcast_to_incompatible_fails():
    with pytest.raises(ShapeError):
        run_kernel("BROADCAST_TO", [np.zeros((3, 2), np.float32), i32(3, 3)])


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=5), data=st.data())
def test_transpose_equals_numpy(shape, data):
    perm = data.draw(st.permutations(range(len(shape))))
    x = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    (y,) = run_kernel("TRANSPOSE", [x, i32(*perm)], outputs=[Out(np.int32)])
    np.testing.assert_array_equal(y, x.transpose(perm))
