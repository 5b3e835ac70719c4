"""BitCast -> BITCAST: edgelite's interpreter and LiteRT vs numpy's ``view`` (the ONNX
reference's definition), over equal-size pairs and a narrowing cast; unsupported types refused."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import run_tflite
from tests.converter.oracle_ext import helper

import edgelite
from edgelite.errors import UnsupportedOperatorError

PAIRS = [
    (np.float32, np.int32), (np.int32, np.float32), (np.float64, np.int64), (np.int64, np.float64),
    (np.uint32, np.int32), (np.int8, np.uint8), (np.uint16, np.int16), (np.float16, np.int16),
]


def _bitcast(src, dst, shape, out_shape=None):
    node = helper.make_node("BitCast", ["x"], ["y"], to=helper.np_dtype_to_tensor_dtype(np.dtype(dst)))
    def vi(name, dt, shp):
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(dt)), shp)

    g = helper.make_graph([node], "t", [vi("x", src, list(shape))], [vi("y", dst, out_shape)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 26)])
    m.ir_version = 10
    return m


@pytest.mark.parametrize("src,dst", PAIRS)
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_bitcast_matches_numpy_view(src, dst, shape):
    rng = np.random.default_rng(0)
    x = rng.integers(-100, 100, shape).astype(src) if np.dtype(src).kind != "f" else (
        rng.standard_normal(shape) * 50).astype(src)
    tfl = edgelite.convert(_bitcast(src, dst, shape), keep_io_layout=True)
    want = x.reshape(-1).view(dst).reshape(shape)
    for runtime in ("edgelite", "litert"):
        (got,) = run_tflite(tfl, {"x": x}, runtime)
        assert got.dtype == np.dtype(dst) and got.shape == want.shape
        assert got.tobytes() == want.tobytes()


def test_bool_to_uint8():
    x = np.array([True, False, True, True])
    tfl = edgelite.convert(_bitcast(np.bool_, np.uint8, (4,)), keep_io_layout=True)
    for runtime in ("edgelite", "litert"):
        np.testing.assert_array_equal(run_tflite(tfl, {"x": x}, runtime)[0], [1, 0, 1, 1])


def test_bfloat16_refused():
    node = helper.make_node("BitCast", ["x"], ["y"], to=16)  # BFLOAT16
    m = _bitcast(np.int16, np.float32, (3,))
    m.graph.node[0].CopyFrom(node)
    m.graph.output[0].type.tensor_type.elem_type = 16
    with pytest.raises(UnsupportedOperatorError, match="BitCast"):
        edgelite.convert(m, keep_io_layout=True)
