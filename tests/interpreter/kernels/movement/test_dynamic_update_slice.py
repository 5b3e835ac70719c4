"""DYNAMIC_UPDATE_SLICE: every dtype LiteRT's kernel takes (float32 and int8 included),
start indices clamped as LiteRT clamps them, bit for bit against LiteRT."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import ShapeError
from tests.interpreter.kernels.movement_cases import MOVE_CASES, MOVE_IDS, data, sample
from tests.interpreter.kernels.oracle import Const, Var, compare, run_kernel


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
@pytest.mark.parametrize("start", [(0, 1, 2), (1, 3, 0), (5, -2, 9)], ids=["inside", "edge", "clamped"])
def test_dynamic_update_slice_matches_litert(dtype, quant, start):
    rng = np.random.default_rng(sum(start) + 7)
    x, out = data(rng, (3, 5, 4), dtype, quant)
    upd = Var(sample(rng, (2, 2, 2), dtype), quant)
    compare("DYNAMIC_UPDATE_SLICE", [x, upd, Var(np.array(start, np.int32))], outputs=[out])


def test_dynamic_update_slice_int64_indices_match_litert():
    rng = np.random.default_rng(1)
    x, out = data(rng, (1, 6, 8), np.float32, None)
    compare("DYNAMIC_UPDATE_SLICE", [x, Var(sample(rng, (1, 2, 8), np.float32)), Var(np.array([0, 4, 0], np.int64))],
            outputs=[out])


def test_dynamic_update_slice_by_hand():
    x = np.zeros((2, 4), np.float32)
    got = run_kernel("DYNAMIC_UPDATE_SLICE", [x, np.ones((1, 2), np.float32), np.array([1, 3], np.int32)])[0]
    np.testing.assert_array_equal(got, [[0, 0, 0, 0], [0, 0, 1, 1]])  # start 3 clamped to 2


def test_dynamic_update_slice_update_too_large_fails():
    with pytest.raises(ShapeError):
        run_kernel("DYNAMIC_UPDATE_SLICE", [np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32),
                                            Const(np.array([0, 0], np.int32))])


def test_dynamic_update_slice_wrong_start_length_fails():
    with pytest.raises(ShapeError):
        run_kernel("DYNAMIC_UPDATE_SLICE", [np.zeros((2, 3), np.float32), np.zeros((1, 1), np.float32),
                                            np.array([0, 0, 0], np.int32)])
