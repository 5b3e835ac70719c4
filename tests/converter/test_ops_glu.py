"""SwiGLU: LiteRT and edgelite vs the formula by hand and vs onnx.reference; float16 computed in
float32 (pass ``widen_float16``)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import run_tflite
from tests.converter.oracle_ext import check_both, helper

import edgelite


def _model(alpha=None, dt=np.float32, shape=(2, 5)):
    attrs = {} if alpha is None else {"alpha": alpha}
    node = helper.make_node("SwiGLU", ["a", "b"], ["y"], **attrs)
    t = helper.np_dtype_to_tensor_dtype(np.dtype(dt))
    g = helper.make_graph([node], "t", [helper.make_tensor_value_info(n, t, list(shape)) for n in "ab"],
                          [helper.make_tensor_value_info("y", t, list(shape))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 28)])
    m.ir_version = 10
    return m


def test_hand_checked():
    a = np.array([[0.0, 1.0, -2.0]], np.float32)
    b = np.array([[3.0, 2.0, 0.5]], np.float32)
    want = a / (1 + np.exp(-0.5 * a)) * b
    tfl = edgelite.convert(_model(0.5, shape=(1, 3)), keep_io_layout=True)
    for runtime in ("edgelite", "litert"):
        np.testing.assert_allclose(run_tflite(tfl, {"a": a, "b": b}, runtime)[0], want, rtol=1e-6)


@pytest.mark.parametrize("alpha", [None, 1.702, -0.3])
def test_matches_reference(alpha):
    rng = np.random.default_rng(1)
    feeds = {k: rng.standard_normal((3, 4, 8)).astype(np.float32) for k in "ab"}
    check_both(_model(alpha, shape=(3, 4, 8)), feeds, oracle="reference", keep_io_layout=True)


def test_float16_through_float32():
    rng = np.random.default_rng(2)
    feeds = {k: rng.standard_normal((3, 8)).astype(np.float16) for k in "ab"}
    names = check_both(_model(dt=np.float16, shape=(3, 8)), feeds, oracle="reference", rtol=1e-3, atol=1e-3,
                       keep_io_layout=True)
    assert names.count("CAST") == 3


def test_bfloat16_through_float32():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(3)
    feeds = {k: rng.standard_normal((3, 8)).astype(ml_dtypes.bfloat16) for k in "ab"}
    tfl = edgelite.convert(_model(dt=ml_dtypes.bfloat16, shape=(3, 8)), keep_io_layout=True)
    a, b = (feeds[k].astype(np.float32) for k in "ab")
    want = (a / (1 + np.exp(-a)) * b).astype(ml_dtypes.bfloat16)  # float32 math, rounded once
    for runtime in ("edgelite", "litert"):
        got = run_tflite(tfl, feeds, runtime)[0]
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=8e-3, atol=1e-2)
