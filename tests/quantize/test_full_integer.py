"""Full-integer quantization of whole graphs: structure, parameters, LiteRT accuracy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from edgelite.errors import QuantizationError
from edgelite.quantize import QuantizeOptions, quantize_model
from edgelite.quantize.numerics import activation_params
from edgelite.schema import read_model
from edgelite.schema.model import TensorType
from tests.quantize.litert_util import run_litert, sqnr
from tests.quantize.models import image_batch, small_cnn

CALIB = image_batch(32, 16, seed=1)
TEST = [{"image": x[None]} for x in image_batch(16, 16, seed=2)]


@pytest.fixture(scope="module")
def float_model():
    return small_cnn()


@pytest.fixture(scope="module")
def int8_model(float_model):
    # fixed_range_outputs="int8": the all-int8 graph TFLite writes (its SOFTMAX output int8)
    return quantize_model(float_model, "int8", calibration=CALIB, backend="litert", fixed_range_outputs="int8")


def _ops(m):
    return [(m.opcode_name(op), op) for op in m.subgraphs[0].operators]


def _tensor(m, i):
    return m.subgraphs[0].tensors[i]


def test_int8_graph_is_integer_between_edges(int8_model):
    m = read_model(int8_model)
    names = [n for n, _ in _ops(m)]
    assert names[0] == "QUANTIZE" and names[-1] == "DEQUANTIZE"
    assert "DEQUANTIZE" not in names[:-1]
    sg = m.subgraphs[0]
    assert _tensor(m, sg.inputs[0]).type == TensorType.FLOAT32
    assert _tensor(m, sg.outputs[0]).type == TensorType.FLOAT32
    assert _tensor(m, sg.inputs[0]).name == "image"
    for name, op in _ops(m):
        if name in ("QUANTIZE", "DEQUANTIZE"):
            continue
        for i in op.inputs + op.outputs:
            if i >= 0 and m.tensor_data(_tensor(m, i)) is None:
                assert _tensor(m, i).type == TensorType.INT8, (name, _tensor(m, i).name)


def test_int8_weights_bias_versions(int8_model):
    m = read_model(int8_model)
    seen = set()
    for name, op in _ops(m):
        version = m.operator_codes[op.opcode_index].version
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            seen.add(name)
            x, w, b = (_tensor(m, i) for i in op.inputs)
            wq = w.quantization
            assert w.type == TensorType.INT8 and b.type == TensorType.INT32
            assert np.all(wq.zero_point == 0)
            wdata = m.tensor_data(w)
            assert wdata.min() >= -127
            dim = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}[name]
            if dim is None:
                assert len(wq.scale) == 1
            else:
                assert wq.quantized_dimension == dim and len(wq.scale) == w.shape[dim]
                # Symmetric per channel: every channel reaches +-127.
                axes = tuple(a for a in range(wdata.ndim) if a != dim)
                assert np.all(np.abs(wdata).max(axis=axes) == 127)
            np.testing.assert_allclose(b.quantization.scale, x.quantization.scale[0] * wq.scale, rtol=1e-6)
            assert np.all(b.quantization.zero_point == 0)
            assert version == {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4}[name]
        if name == "SOFTMAX":
            out = _tensor(m, op.outputs[0]).quantization
            assert out.scale[0] == np.float32(1 / 256) and out.zero_point[0] == -128
            assert version == 2
        if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            a, b = _tensor(m, op.inputs[0]).quantization, _tensor(m, op.outputs[0]).quantization
            assert a.scale[0] == b.scale[0] and a.zero_point[0] == b.zero_point[0]
        if name == "CONCATENATION":
            out = _tensor(m, op.outputs[0]).quantization
            for i in op.inputs:
                q = _tensor(m, i).quantization
                assert q.scale[0] == out.scale[0] and q.zero_point[0] == out.zero_point[0]
    assert seen == {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}
    assert m.metadata_dict()["min_runtime_version"].rstrip(b"\0") == b"1.14.0"


def test_int8_accuracy_against_float_in_litert(float_model, int8_model):
    s = sqnr(run_litert(float_model, TEST), run_litert(int8_model, TEST))
    assert s > 25.0


def test_per_tensor_fully_connected_on_request(float_model):
    q = quantize_model(float_model, "int8", calibration=CALIB, per_channel_fully_connected=False,
                       per_channel=False, backend="litert")
    m = read_model(q)
    for name, op in _ops(m):
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            assert len(_tensor(m, op.inputs[1]).quantization.scale) == 1
            assert len(_tensor(m, op.inputs[2]).quantization.scale) == 1
    assert sqnr(run_litert(float_model, TEST), run_litert(q, TEST)) > 25.0


@pytest.mark.parametrize("io_type, dtype", [("int8", np.int8), ("uint8", np.uint8)])
def test_integer_io(float_model, io_type, dtype):
    q = quantize_model(float_model, "int8", calibration=CALIB, io_type=io_type, backend="litert")
    m = read_model(q)
    sg = m.subgraphs[0]
    x, y = _tensor(m, sg.inputs[0]), _tensor(m, sg.outputs[0])
    assert x.numpy_dtype == dtype and y.numpy_dtype == dtype
    assert x.name == "image"
    if io_type == "uint8":
        assert y.quantization.zero_point[0] == 0  # softmax's -128 shifted by 128
    assert sqnr(run_litert(float_model, TEST), run_litert(q, TEST)) > 25.0


def test_deterministic(float_model, int8_model):
    again = quantize_model(float_model, "int8", calibration=list(CALIB), backend="litert", fixed_range_outputs="int8")
    assert again == int8_model


def test_keep_float_inserts_edges(float_model):
    m0 = read_model(float_model)
    dw_out = next(_tensor(m0, op.outputs[0]).name for n, op in _ops(m0) if n == "DEPTHWISE_CONV_2D")
    q = quantize_model(float_model, "int8", calibration=CALIB, keep_float=[dw_out], backend="litert")
    m = read_model(q)
    ops = _ops(m)
    k = next(i for i, (n, _) in enumerate(ops) if n == "DEPTHWISE_CONV_2D")
    dw = ops[k][1]
    assert all(_tensor(m, i).type == TensorType.FLOAT32 for i in dw.inputs + dw.outputs if i >= 0)
    assert ops[k - 1][0] == "DEQUANTIZE" and ops[k + 1][0] == "QUANTIZE"
    assert sqnr(run_litert(float_model, TEST), run_litert(q, TEST)) > 25.0


def test_op_type_in_keep_float(float_model):
    q = quantize_model(float_model, "int8", calibration=CALIB, keep_float=["SOFTMAX"], backend="litert")
    m = read_model(q)
    sm = next(op for n, op in _ops(m) if n == "SOFTMAX")
    assert _tensor(m, sm.outputs[0]).type == TensorType.FLOAT32
    assert m.subgraphs[0].outputs == [sm.outputs[0]]


def test_fixed_ranges_replace_calibration(float_model):
    """QDQ import: given every activation's (scale, zero_point), no data is needed and
    the model carries exactly those parameters."""
    from edgelite.quantize.calibrate import calibrate

    fm = read_model(float_model)
    ranges = calibrate(float_model, fm, [{"image": x[None]} for x in CALIB], backend="litert")
    sg = fm.subgraphs[0]
    fixed = {sg.tensors[t].name: activation_params(lo, hi) for t, (lo, hi) in ranges.items()}
    q = quantize_model(float_model, options=QuantizeOptions(mode="int8", fixed_ranges=fixed))
    m = read_model(q)
    by_name = {t.name: t for t in m.subgraphs[0].tensors}
    conv = next(op for n, op in _ops(fm) if n == "CONV_2D")
    name = sg.tensors[conv.outputs[0]].name
    scale, zp = fixed[name]
    assert by_name[name].quantization.scale[0] == np.float32(scale)
    assert by_name[name].quantization.zero_point[0] == zp
    # Same parameters as calibration would give: same model.
    assert q == quantize_model(float_model, "int8", calibration=CALIB, backend="litert", bias_correction=False)


def test_fixed_ranges_partial_leaves_rest_float(float_model):
    fm = read_model(float_model)
    sg = fm.subgraphs[0]
    first_conv = next(op for n, op in _ops(fm) if n == "CONV_2D")
    fixed = {"image": (2 / 255, 0), sg.tensors[first_conv.outputs[0]].name: (6 / 255, -128)}
    with pytest.warns(UserWarning, match="stay float"):
        q = quantize_model(float_model, "int8", fixed_ranges=fixed)
    m = read_model(q)
    names = [n for n, _ in _ops(m)]
    assert names[:3] == ["QUANTIZE", "CONV_2D", "DEQUANTIZE"]
    assert run_litert(q, TEST[:1])  # loads and runs


def test_qdq_weights_used_as_given():
    """A weight arriving as DEQUANTIZE(int8 constant) keeps its integers and scales."""
    from edgelite.schema.builder import ModelBuilder
    from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT

    rng = np.random.default_rng(0)
    wq = rng.integers(-127, 128, (3, 4)).astype(np.int8)
    scales = np.array([0.01, 0.02, 0.03], np.float32)
    b = ModelBuilder()
    x = b.add_input("x", (1, 4), np.float32)
    w8 = b.add_constant("w_int8", wq, quant=(scales, np.zeros(3, np.int64), 0))
    wf = b.add_tensor("w", (3, 4), np.float32)
    b.add_operator("DEQUANTIZE", [w8], [wf])
    y = b.add_tensor("y", (1, 3), np.float32)
    b.add_operator("FULLY_CONNECTED", [x, wf, -1], [y], FullyConnectedOptionsT())
    b.mark_output(y)
    q = quantize_model(b.build(), "int8", fixed_ranges={"x": (0.02, 0), "y": (0.05, 3)})
    m = read_model(q)
    names = [n for n, _ in _ops(m)]
    assert names == ["QUANTIZE", "FULLY_CONNECTED", "DEQUANTIZE"]
    fc = next(op for n, op in _ops(m) if n == "FULLY_CONNECTED")
    w = _tensor(m, fc.inputs[1])
    np.testing.assert_array_equal(m.tensor_data(w), wq)
    np.testing.assert_array_equal(w.quantization.scale, scales)
    feeds = [{"x": rng.normal(0, 1, (1, 4)).astype(np.float32)} for _ in range(4)]
    got = run_litert(q, feeds)
    for feed, row in zip(feeds, got):
        want = feed["x"] @ (wq.astype(np.float32) * scales[:, None]).T
        np.testing.assert_allclose(row[0], want, atol=0.1)


def test_errors(float_model):
    with pytest.raises(QuantizationError, match="calibration"):
        quantize_model(float_model, "int8")
    with pytest.raises(QuantizationError, match="unknown quantization mode"):
        quantize_model(float_model, "int4")
    with pytest.raises(QuantizationError, match="lacks"):
        quantize_model(float_model, "int8", fixed_ranges={"nope": (0.1, 0)})
    with pytest.raises(QuantizationError, match="unknown quantization options"):
        quantize_model(float_model, "int8", calibration=CALIB, colour="blue")
    q = quantize_model(float_model, "float16")
    with pytest.raises(QuantizationError):
        quantize_model(quantize_model(float_model, "int8", calibration=CALIB, io_type="int8",
                                      backend="litert"), "int8", calibration=CALIB)
    assert q


def test_unsupported_op_stays_float_with_edges():
    """An operator with no int8 kernel (FLOOR) stays float between DEQUANTIZE/QUANTIZE."""
    from tests.quantize.models import Net

    n = Net(0)
    x = n.input("x", (1, 4, 4, 3))
    c = n.conv(x, 4)
    fl = n.unary("FLOOR", c)
    c2 = n.conv(fl, 4)
    n.output(c2)
    f = n.build()
    data = image_batch(8, 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        q = quantize_model(f, "int8", calibration=data, backend="litert")
    assert any("FLOOR" in str(w.message) for w in caught)
    m = read_model(q)
    names = [n_ for n_, _ in _ops(m)]
    assert names == ["QUANTIZE", "CONV_2D", "DEQUANTIZE", "FLOOR", "QUANTIZE", "CONV_2D", "DEQUANTIZE"]
    feeds = [{"x": d[None]} for d in data]
    assert sqnr(run_litert(f, feeds), run_litert(q, feeds)) > 20.0


def test_padv2_lowest_value_padding_before_max_pool():
    """ONNX MaxPool padding converts to PADV2 with -FLT_MAX: quantized with the input's
    parameters it becomes -128, the pool stays int8, and LiteRT accepts the model."""
    from edgelite.schema.builder import ModelBuilder
    from edgelite.schema.fb.PadV2Options import PadV2OptionsT
    from edgelite.schema.fb.Padding import Padding
    from edgelite.schema.fb.Pool2DOptions import Pool2DOptionsT

    b = ModelBuilder()
    x = b.add_input("x", (1, 6, 6, 2), np.float32)
    pads = b.add_constant("pads", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    low = b.add_constant("low", np.array(np.finfo(np.float32).min, np.float32))
    p = b.add_tensor("padded", (1, 8, 8, 2), np.float32)
    b.add_operator("PADV2", [x, pads, low], [p], PadV2OptionsT())
    y = b.add_tensor("pooled", (1, 4, 4, 2), np.float32)
    opt = Pool2DOptionsT()
    opt.padding, opt.strideH, opt.strideW, opt.filterHeight, opt.filterWidth = Padding.VALID, 2, 2, 2, 2
    b.add_operator("MAX_POOL_2D", [p], [y], opt)
    b.mark_output(y)
    f = b.build()
    rng = np.random.default_rng(0)
    data = rng.normal(size=(8, 1, 6, 6, 2)).astype(np.float32)
    q = quantize_model(f, "int8", calibration=data, backend="litert")
    m = read_model(q)
    assert [n for n, _ in _ops(m)] == ["QUANTIZE", "PADV2", "MAX_POOL_2D", "DEQUANTIZE"]
    padv2 = next(op for n, op in _ops(m) if n == "PADV2")
    assert m.tensor_data(_tensor(m, padv2.inputs[2])).item() == -128
    feeds = [{"x": d} for d in data]
    assert sqnr(run_litert(f, feeds), run_litert(q, feeds)) > 30.0
