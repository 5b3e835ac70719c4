"""CONCATENATION, PACK, UNPACK, SPLIT, SPLIT_V: every dtype, LiteRT, errors."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import ShapeError
from edgelite.interpreter.kernels.base import select_kernel
from edgelite.schema.fb.ConcatenationOptions import ConcatenationOptionsT
from edgelite.schema.fb.PackOptions import PackOptionsT
from edgelite.schema.fb.SplitOptions import SplitOptionsT
from edgelite.schema.fb.SplitVOptions import SplitVOptionsT
from edgelite.schema.fb.UnpackOptions import UnpackOptionsT
from tests.interpreter.kernels.movement_cases import MOVE_CASES, MOVE_IDS, data, sample
from tests.interpreter.kernels.oracle import (
    Const,
    Out,
    Var,
    compare,
    make_context,
    run_kernel,
)


def concat_opts(axis, act=0):
    o = ConcatenationOptionsT()
    o.axis, o.fusedActivationFunction = axis, act
    return o


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenation_matches_litert(dtype, quant, axis):
    rng = np.random.default_rng(0)
    shapes = [(2, 3, 4), (2, 3, 4), (2, 3, 4)]
    shapes = [tuple(n + k if d == axis % 3 else n for d, n in enumerate(s)) for k, s in enumerate(shapes)]
    xs = [Var(sample(rng, s, dtype), quant) for s in shapes]
    compare("CONCATENATION", xs, concat_opts(axis), outputs=[Out(dtype, quant)])


def test_concatenation_with_relu6_clamps():
    # (LiteRT 2.3 refuses a fused activation on CONCATENATION; the schema allows it.)
    rng = np.random.default_rng(1)
    xs = [rng.uniform(-9, 9, (2, k + 1)).astype(np.float32) for k in range(3)]
    (out,) = run_kernel("CONCATENATION", xs, concat_opts(1, act=3))
    np.testing.assert_array_equal(out, np.clip(np.concatenate(xs, axis=1), 0, 6))


def test_concatenation_of_differently_quantized_inputs_is_refused():
    a, b = Var(np.zeros((1, 2), np.int8), (0.1, 0)), Var(np.zeros((1, 2), np.int8), (0.2, 0))
    ctx = make_context("CONCATENATION", [a, b], concat_opts(1), [Out(np.int8, (0.1, 0))])
    k = select_kernel(ctx)
    assert k is None or not type(k).__module__.endswith(".concat")


def test_concatenation_shape_mismatch_fails():
    with pytest.raises(ShapeError):
        run_kernel("CONCATENATION", [np.zeros((2, 3), np.float32), np.zeros((3, 3), np.float32)], concat_opts(1))


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
@pytest.mark.parametrize("axis", [0, 2, -1])
def test_pack_and_unpack_match_litert(dtype, quant, axis):
    rng = np.random.default_rng(2)
    xs = [Var(sample(rng, (2, 3), dtype), quant) for _ in range(3)]
    o = PackOptionsT()
    o.valuesCount, o.axis = 3, axis
    if dtype == np.bool_:  # LiteRT's PACK has no bool kernel
        (got,) = run_kernel("PACK", xs, o, outputs=[Out(dtype, quant)])
        np.testing.assert_array_equal(got, np.stack([x.value for x in xs], axis=axis))
    else:
        compare("PACK", xs, o, outputs=[Out(dtype, quant)])
    x, out = data(rng, (2, 3, 4), dtype, quant)
    u = UnpackOptionsT()
    u.axis = axis
    u.num = (2, 3, 4)[axis]
    if dtype == np.int64:  # nor an int64 UNPACK
        got = run_kernel("UNPACK", [x], u, outputs=[out] * u.num)
        for k, g in enumerate(got):
            np.testing.assert_array_equal(g, np.take(x.value, k, axis=axis))
    else:
        compare("UNPACK", [x], u, outputs=[out] * u.num)


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
def test_split_and_split_v_match_litert(dtype, quant):
    rng = np.random.default_rng(3)
    x, out = data(rng, (2, 6, 3), dtype, quant)
    o = SplitOptionsT()
    o.numSplits = 3
    if dtype == np.bool_:  # LiteRT's SPLIT has no bool kernel
        got = run_kernel("SPLIT", [Const(np.array(1, np.int32)), x], o, outputs=[out] * 3)
        for g, w in zip(got, np.split(x.value, 3, axis=1)):
            np.testing.assert_array_equal(g, w)
    else:
        compare("SPLIT", [Const(np.array(1, np.int32)), x], o, outputs=[out] * 3)
    v = SplitVOptionsT()
    v.numSplits = 3
    inputs = [x, Const(np.array([1, -1, 2], np.int32)), Const(np.array(-2, np.int32))]
    if dtype == np.bool_:  # nor a bool SPLIT_V
        got = run_kernel("SPLIT_V", inputs, v, outputs=[out] * 3)
        for g, w in zip(got, np.split(x.value, [1, 4], axis=1)):
            np.testing.assert_array_equal(g, w)
    else:
        compare("SPLIT_V", inputs, v, outputs=[out] * 3)


def test_split_by_hand_and_errors():
    x = np.arange(6, dtype=np.float32)
    o = SplitOptionsT()
    o.numSplits = 3
    parts = run_kernel("SPLIT", [Const(np.array(0, np.int32)), x], o, outputs=[Out()] * 3)
    assert [p.tolist() for p in parts] == [[0, 1], [2, 3], [4, 5]]
    o.numSplits = 4
    with pytest.raises(ShapeError):
        run_kernel("SPLIT", [Const(np.array(0, np.int32)), x], o, outputs=[Out()] * 4)
    v = SplitVOptionsT()
    v.numSplits = 2
    with pytest.raises(ShapeError):
        run_kernel("SPLIT_V", [x, Const(np.array([2, 5], np.int32)), Const(np.array(0, np.int32))], v,
                   outputs=[Out()] * 2)
