"""Stand-alone QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear (``ops/quant_ops.py``)
against ONNX Runtime, in LiteRT and in edgelite's interpreter."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import check, make_model

from onnx import TensorProto, helper  # noqa: E402  (helpers skips without onnx)

import edgelite
from edgelite.errors import UnsupportedOperatorError

BOTH = pytest.mark.parametrize("interp", ["litert", "edgelite"])


def _q_model(x_shape, s_shape, qtype, axis=1, block=0, runtime=True, opset=21):
    attrs = {"axis": axis}
    if block:
        attrs["block_size"] = block
    node = helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["y"], **attrs)
    vi = helper.make_tensor_value_info
    ins = [vi("x", TensorProto.FLOAT, x_shape)]
    if runtime:
        ins += [vi("s", TensorProto.FLOAT, s_shape), vi("zp", qtype, s_shape)]
    g = helper.make_graph([node], "q", ins, [vi("y", qtype, x_shape)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


@BOTH
def test_quantize_rounds_ties_to_even_with_runtime_scale(interp):
    # x / 2 = 0.5, 1.5, 2.5, -0.5, -1.5: numpy's rint (half to even), not half away from zero.
    x = np.array([1, 3, 5, -1, -3, 1000, -1000, 0], np.float32)
    feeds = {"x": x, "s": np.array(2.0, np.float32), "zp": np.array(10, np.uint8)}
    ops = check(_q_model([8], [], TensorProto.UINT8), feeds, interpreter=interp)
    assert "QUANTIZE" not in ops and "ROUND" in ops
    assert list(np.rint(x / 2)[:5]) == [0, 2, 2, -0, -2]  # the cases above really are ties


@BOTH
@pytest.mark.parametrize("qtype", [TensorProto.INT8, TensorProto.INT16])
def test_quantize_per_axis(interp, qtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, 3, 4)) * 100).astype(np.float32)
    npq = helper.tensor_dtype_to_np_dtype(qtype)
    feeds = {"x": x, "s": np.array([0.5, 1.0, 0.25], np.float32), "zp": np.array([-3, 0, 7], npq)}
    check(_q_model([2, 3, 4], [3], qtype), feeds, interpreter=interp)


@BOTH
def test_quantize_blocked(interp):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((3, 4)) * 50).astype(np.float32)
    feeds = {"x": x, "s": rng.uniform(0.2, 2, (3, 2)).astype(np.float32), "zp": rng.integers(-5, 5, (3, 2)).astype(np.int8)}
    check(_q_model([3, 4], [3, 2], TensorProto.INT8, axis=1, block=2), feeds, interpreter=interp)


@BOTH
def test_dequantize_per_axis_int32_and_uint8(interp):
    vi = helper.make_tensor_value_info
    for qtype, npq in [(TensorProto.UINT8, np.uint8), (TensorProto.INT32, np.int32)]:
        node = helper.make_node("DequantizeLinear", ["x", "s", "zp"], ["y"], axis=0)
        g = helper.make_graph(
            [node],
            "dq",
            [vi("x", qtype, [3, 5]), vi("s", TensorProto.FLOAT, [3]), vi("zp", qtype, [3])],
            [vi("y", TensorProto.FLOAT, [3, 5])],
        )
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
        m.ir_version = 8
        rng = np.random.default_rng(3)
        feeds = {
            "x": rng.integers(0, 255, (3, 5)).astype(npq),
            "s": np.array([0.1, 2.0, 0.03], np.float32),
            "zp": np.array([128, 0, 7], npq),
        }
        check(m, feeds, interpreter=interp)


def _dql_model():
    vi = helper.make_tensor_value_info
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "zp"])
    g = helper.make_graph(
        [node],
        "dql",
        [vi("x", TensorProto.FLOAT, [2, 3])],
        [vi("y", TensorProto.UINT8, [2, 3]), vi("s", TensorProto.FLOAT, []), vi("zp", TensorProto.UINT8, [])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


@BOTH
def test_dynamic_quantize_linear(interp):
    check(_dql_model(), {"x": np.linspace(-3, 7, 6, dtype=np.float32).reshape(2, 3)}, interpreter=interp)


def test_dynamic_quantize_linear_all_zero_follows_onnx_reference():
    # ONNX's reference (the conformance oracle) uses scale 1/255 for an all-zero tensor;
    # ONNX Runtime uses 1. Nothing may divide by zero.
    from onnx.reference import ReferenceEvaluator

    from tests.converter.helpers import run_tflite

    m = _dql_model()
    x = np.zeros((2, 3), np.float32)
    want = ReferenceEvaluator(m).run(None, {"x": x})
    for interp in ("litert", "edgelite"):
        got = run_tflite(edgelite.convert(m), {"x": x}, interp)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_int4_quantize_is_refused_at_conversion():
    m = _q_model([4], [], TensorProto.INT4)
    with pytest.raises(UnsupportedOperatorError, match="QuantizeLinear"):
        edgelite.convert(m)
