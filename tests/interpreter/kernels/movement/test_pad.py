"""PAD, PADV2, MIRROR_PAD: zero point fill for quantized tensors; LiteRT and numpy."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import ShapeError
from edgelite.schema.fb.MirrorPadOptions import MirrorPadOptionsT
from tests.interpreter.kernels.movement_cases import MOVE_CASES, MOVE_IDS, data
from tests.interpreter.kernels.oracle import Const, Var, compare, run_kernel

PADS = np.array([[1, 0], [0, 2], [2, 1]], np.int32)


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
def test_pad_fills_with_real_zero_and_matches_litert(dtype, quant):
    x, out = data(np.random.default_rng(0), (2, 3, 4), dtype, quant)
    if dtype == np.bool_:
        (got,) = run_kernel("PAD", [x, Const(PADS)], outputs=[out])  # LiteRT has no bool PAD
        np.testing.assert_array_equal(got, np.pad(x.value, PADS))
        return
    want = compare("PAD", [x, Const(PADS)], outputs=[out])[0]
    zero = quant[1] if quant else 0
    assert (want[0] == zero).all()


@pytest.mark.parametrize("dtype,quant", [c for c in MOVE_CASES if c[0] != np.bool_],
                         ids=[i for i in MOVE_IDS if i != "bool"])
def test_padv2_matches_litert(dtype, quant):
    x, out = data(np.random.default_rng(1), (2, 3, 4), dtype, quant)
    value = np.array(7, dtype)
    compare("PADV2", [x, Const(PADS.astype(np.int64)), Const(value, quant)], outputs=[out])


def test_pad_rank_mismatch_and_negative_fail():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ShapeError):
        run_kernel("PAD", [x, Const(np.array([[1, 1]], np.int32))])
    with pytest.raises(ShapeError):
        run_kernel("PAD", [x, Const(np.array([[1, 1], [-1, 0]], np.int32))])


def test_pad_with_runtime_paddings_is_dynamic():
    (y,) = run_kernel("PAD", [np.ones((1, 2), np.float32), Var(np.array([[0, 1], [2, 0]], np.int32))])
    assert y.tolist() == [[0, 0, 1, 1], [0, 0, 0, 0]]


def mp_opts(mode):
    o = MirrorPadOptionsT()
    o.mode = mode
    return o


@pytest.mark.parametrize("dtype,quant", [c for c in MOVE_CASES if c[0] != np.bool_],
                         ids=[i for i in MOVE_IDS if i != "bool"])
@pytest.mark.parametrize("mode", [0, 1])
def test_mirror_pad_matches_litert(dtype, quant, mode):
    x, out = data(np.random.default_rng(2), (3, 4, 5), dtype, quant)
    pads = np.array([[2, 1], [0, 3], [1, 2]], np.int32)
    compare("MIRROR_PAD", [x, Const(pads)], mp_opts(mode), outputs=[out])


def test_mirror_pad_by_hand_and_limits():
    x = np.array([1, 2, 3], np.float32)
    assert run_kernel("MIRROR_PAD", [x, Const(np.array([[2, 2]], np.int32))], mp_opts(0))[0].tolist() == [
        3, 2, 1, 2, 3, 2, 1]
    assert run_kernel("MIRROR_PAD", [x, Const(np.array([[2, 2]], np.int32))], mp_opts(1))[0].tolist() == [
        2, 1, 1, 2, 3, 3, 2]
    with pytest.raises(ShapeError):
        run_kernel("MIRROR_PAD", [x, Const(np.array([[3, 0]], np.int32))], mp_opts(0))
