"""BITCAST kernel: shape rule and bytes, including narrowing and widening casts, vs numpy."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import ShapeError
from edgelite.interpreter.kernels.base import OpContext, TensorInfo
from edgelite.interpreter.kernels.tensor.bitcast import Bitcast, bitcast_shape


def _run(x, dst):
    ctx = OpContext("BITCAST", 0, 1, None, None, None, [TensorInfo(0, "x", x.shape, x.dtype, 0)],
                    [TensorInfo(1, "y", None, np.dtype(dst), 0)])
    k = Bitcast()
    assert k.accepts(ctx)
    p = k.prepare(ctx)
    out = np.empty(ctx.output_shapes[0], dst)
    k.eval(p, [x], [out])
    return out


def test_narrowing_appends_a_dimension():
    x = np.array([1.0, -2.5], np.float32)
    got = _run(x, np.uint8)
    assert got.shape == (2, 4)
    np.testing.assert_array_equal(got.reshape(-1), np.frombuffer(x.tobytes(), np.uint8))


def test_widening_consumes_the_last_dimension():
    x = np.arange(8, dtype=np.uint8).reshape(2, 4)
    got = _run(x, np.int32)
    assert got.shape == (2,)
    np.testing.assert_array_equal(got, np.frombuffer(x.tobytes(), "<i4"))


def test_scalar_same_size():
    assert _run(np.array(1.0, np.float32), np.int32).tolist() == 0x3F800000


def test_widening_needs_the_matching_last_dimension():
    with pytest.raises(ShapeError):
        bitcast_shape((2, 3), np.dtype(np.uint8), np.dtype(np.int32))
