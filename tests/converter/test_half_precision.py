"""float16 (and bfloat16) MatMul, Gemm, Conv, reductions and softmax (pass ``widen_float16``): computed in
float32 between CASTs, compared with ONNX Runtime in edgelite and LiteRT. The tolerance is
one float16 step (``rtol`` 1e-3, float16's epsilon): both sides round a float32
accumulation once."""

from __future__ import annotations

import numpy as np
import pytest

import edgelite
from tests.converter.ext_helpers import check_op
from tests.converter.helpers import op_names

rng = np.random.default_rng(16)


def f16(*shape):
    return rng.standard_normal(shape).astype(np.float16)


def test_matmul_float16():
    names = check_op("MatMul", {"a": f16(2, 3, 16), "b": f16(2, 16, 5)}, opset=13, rtol=1e-3, atol=1e-3)
    assert names.count("CAST") == 3 and "BATCH_MATMUL" in names


def test_gemm_float16_runtime_b():
    check_op("Gemm", {"a": f16(4, 8), "b": f16(6, 8), "c": f16(6)}, attrs={"transB": 1, "alpha": 0.5},
             opset=13, rtol=1e-3, atol=1e-3)


def test_conv_float16():
    check_op("Conv", {"x": f16(1, 3, 8, 8)}, consts={"w": f16(4, 3, 3, 3)}, attrs={"pads": [1, 1, 1, 1]},
             opset=13, rtol=1e-3, atol=2e-3)


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin", "ReduceSum", "ReduceMean"])
def test_reduce_float16(op):
    x = f16(3, 4, 5)
    if op in ("ReduceMax", "ReduceMin"):
        check_op(op, {"x": x}, attrs={"axes": [1], "keepdims": 0}, opset=13, rtol=0, atol=0)  # exact
    else:
        check_op(op, {"x": x}, consts={"axes": np.array([1], np.int64)}, opset=18, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_float16(op):
    check_op(op, {"x": f16(2, 7)}, attrs={"axis": -1}, opset=13, rtol=1e-3, atol=1e-3)


def test_float32_graph_untouched():
    from tests.converter.ext_helpers import one_node_model

    x = {"a": rng.standard_normal((2, 3)).astype(np.float32), "b": rng.standard_normal((3, 4)).astype(np.float32)}
    assert "CAST" not in op_names(edgelite.convert(one_node_model("MatMul", x, opset=13)))


def test_matmul_bfloat16():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    from tests.converter.ext_helpers import one_node_model
    from tests.converter.helpers import run_tflite

    a = rng.standard_normal((3, 16)).astype(ml_dtypes.bfloat16)
    b = rng.standard_normal((16, 4)).astype(ml_dtypes.bfloat16)
    tfl = edgelite.convert(one_node_model("MatMul", {"a": a, "b": b}, opset=13))
    want = (a.astype(np.float32) @ b.astype(np.float32)).astype(ml_dtypes.bfloat16)  # rounded once
    for runtime in ("edgelite", "litert"):
        got = run_tflite(tfl, {"a": a, "b": b}, runtime)[0]
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=8e-3, atol=1e-2)


def test_bfloat16_add_is_exact_through_float32():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    from tests.converter.ext_helpers import one_node_model
    from tests.converter.helpers import run_tflite

    a = rng.standard_normal((5, 7)).astype(ml_dtypes.bfloat16)
    b = rng.standard_normal((7,)).astype(ml_dtypes.bfloat16)
    tfl = edgelite.convert(one_node_model("Add", {"a": a, "b": b}, opset=14))
    want = a + b  # ml_dtypes: float32 sum rounded once
    for runtime in ("edgelite", "litert"):
        got = run_tflite(tfl, {"a": a, "b": b}, runtime)[0]
        np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))
