"""ConvInteger / QLinearConv as float32 CONV_2D / DEPTHWISE_CONV_2D in NHWC
(``converter/ops/integer_conv.py``): the strategy is chosen for constant weights with
group 1 or depthwise (checked on the written operators), and every converted file equals
the ONNX reference bit for bit in edgelite and in LiteRT's built-in kernels, and ONNX
Runtime where it runs the node, on 8-bit data with a third of its values at the extremes;
chunks of input channels where one CONV_2D could pass 2^24."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.ext_helpers import one_node_model, oracle
from tests.converter.helpers import op_names
from tests.converter.test_ops_integer import convert_and_compare, extremes, output_params

import edgelite

rng = np.random.default_rng(21)

# (x shape, w shape, attrs): 2-D and 1-D windows, strides, dilations, asymmetric / auto pads, depthwise
GEOMETRIES = {
    "3x3_pad1": ((2, 5, 9, 8), (4, 5, 3, 3), {"pads": [1, 1, 1, 1]}),
    "stride2_asymmetric": ((1, 6, 11, 10), (3, 6, 3, 2), {"pads": [0, 1, 2, 0], "strides": [2, 2]}),
    "dilated_asymmetric": ((1, 4, 10, 9), (5, 4, 3, 3), {"pads": [2, 0, 1, 1], "dilations": [2, 1]}),
    "same_lower": ((1, 4, 7, 8), (3, 4, 4, 2), {"auto_pad": "SAME_LOWER"}),
    "stride2_same_upper": ((1, 3, 9, 8), (2, 3, 4, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    "valid_1x1": ((1, 7, 5, 5), (6, 7, 1, 1), {}),
    "depthwise": ((1, 6, 9, 7), (6, 1, 3, 3), {"group": 6, "pads": [1, 0, 2, 1], "strides": [2, 1]}),
    "depthwise_multiplier_dilated": ((2, 3, 8, 8), (6, 1, 3, 3),
                                     {"group": 3, "dilations": [2, 2], "pads": [2, 2, 2, 2]}),
    "1d_stride2": ((2, 5, 13), (3, 5, 4), {"strides": [2], "pads": [2, 1]}),
    "1d_depthwise": ((1, 4, 12), (4, 1, 3), {"group": 4, "auto_pad": "SAME_UPPER"}),
    "many_channels": ((1, 64, 6, 6), (3, 64, 3, 3), {"pads": [1, 1, 1, 1]}),  # chunked at the extremes
}


def _fast_ops(ops: list[str], depthwise: bool) -> None:
    want = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    assert want in ops and "BATCH_MATMUL" not in ops, ops


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_conv_integer_channels_last(geometry, dtype):
    xs, ws, attrs = GEOMETRIES[geometry]
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    feeds = {"x": extremes(dtype, xs)}
    consts = {"w": extremes(dtype, ws), "xz": np.array(hi - 3, dtype), "wz": np.array(lo + 1, dtype)}
    want, ops = convert_and_compare("ConvInteger", feeds, consts, attrs=attrs, opset=10)
    _fast_ops(ops, "group" in attrs)
    assert "GATHER" not in ops and len(np.unique(want)) > 10


def test_conv_integer_channels_last_per_channel_weight_zero_point():
    # ONNX Runtime's ConvInteger takes per-tensor weight zero points only: the reference alone here
    feeds = {"x": extremes(np.uint8, (1, 4, 7, 7))}
    consts = {"w": extremes(np.uint8, (3, 4, 3, 3)), "xz": np.array(0, np.uint8),
              "wz": np.array([0, 255, 77], np.uint8)}
    _, ops = convert_and_compare("ConvInteger", feeds, consts, attrs={"pads": [0, 1, 1, 0]}, opset=10, with_ort=False)
    _fast_ops(ops, False)


def _qconv_consts(dtype, x, ws, attrs, per_channel: bool):
    """Scales, zero points, weights and bias, with an output scale that spreads the
    accumulators (computed by the reference's ConvInteger) over ~200 output levels."""
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    cout = ws[0]
    consts = {"xs": np.array(0.02, np.float32), "xz": np.array(lo + 5, dtype), "w": extremes(dtype, ws),
              "ws": (rng.uniform(0.005, 0.02, cout) if per_channel else np.array(0.01)).astype(np.float32),
              "wz": np.array(0 if dtype == np.int8 else hi // 2 + 1, dtype)}
    product = one_node_model("ConvInteger", {"x": x}, consts={k: consts[k] for k in ("w", "xz", "wz")}, attrs=attrs,
                             opset=10)
    bias = rng.integers(-40000, 40000, cout).astype(np.int32)
    c = np.asarray(oracle(product, {"x": x}, use_reference=True)[0]) + bias.reshape((-1,) + (1,) * (len(ws) - 2))
    consts["ys"], consts["yz"] = output_params(c, float(consts["xs"]) * float(consts["ws"].max()), dtype)
    consts["B"] = bias
    return consts


QCONV_CASES = [(g, per_channel) for g in ("3x3_pad1", "stride2_asymmetric", "dilated_asymmetric", "same_lower",
                                          "depthwise", "depthwise_multiplier_dilated", "1d_stride2")
               for per_channel in (True, False) if not (per_channel and g.startswith("1d"))]  # per channel: 2-D only


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("geometry, per_channel", QCONV_CASES)
def test_qlinear_conv_channels_last(geometry, per_channel, dtype):
    xs, ws, attrs = GEOMETRIES[geometry]
    x = extremes(dtype, xs)
    consts = _qconv_consts(dtype, x, ws, attrs, per_channel)
    want, ops = convert_and_compare("QLinearConv", {"x": x}, consts, attrs=attrs, opset=10)
    _fast_ops(ops, "group" in attrs)
    assert ops.count("GATHER") == 2, ops  # the requantization's two threshold look-ups, no patches
    assert len(np.unique(want)) > 20


@pytest.mark.parametrize("op", ["ConvInteger", "QLinearConv"])
def test_many_input_channels_at_the_extremes_are_chunked(op):
    """Weights and data at the extremes over 96 input channels of 3x3 windows: one output
    sums up to 96 * 9 * 255 * 255 (> 2^25), each chunk of channels stays below 2^24."""
    x = extremes(np.int8, (1, 96, 7, 7))
    x[0, :, 2:5, 2:5] = -128  # a window where every term is 255 * 255
    w = np.full((4, 96, 3, 3), -128, np.int8)
    w[1] = extremes(np.int8, (96, 3, 3))
    w[2, ::2] = 127
    if op == "ConvInteger":
        consts = {"w": w.view(np.uint8) ^ 0x80, "xz": np.array(127, np.int8).view(np.uint8) ^ 0x80,
                  "wz": np.array(255, np.uint8)}
        feeds = {"x": x.view(np.uint8) ^ 0x80}
    else:
        consts = {"xs": np.array(0.01, np.float32), "xz": np.array(127, np.int8), "w": w,
                  "ws": np.array([1e-4, 2e-3, 3e-3, 1e-4], np.float32), "wz": np.array(127, np.int8),
                  "ys": np.array(9.0, np.float32), "yz": np.array(-3, np.int8),
                  "B": np.array([1, -2**20, 3, 2**22], np.int32)}
        feeds = {"x": x}
    want, ops = convert_and_compare(op, feeds, consts, attrs={"pads": [1, 1, 1, 1]}, opset=10)
    assert ops.count("CONV_2D") >= 4 and "BATCH_MATMUL" not in ops, ops
    if op == "ConvInteger":
        assert np.abs(want).max() >= 96 * 9 * 255 * 255 > 2**25


def _strategy_ops(op, feeds, consts, attrs):
    model = one_node_model(op, feeds, attrs=attrs, consts=consts, opset=10)
    return op_names(edgelite.convert(model, keep_io_layout=True))


def test_grouped_and_runtime_weights_keep_the_patch_strategy():
    """group 2 (neither 1 nor depthwise) and run-time weights: patches and BATCH_MATMUL, as before."""
    x = extremes(np.uint8, (1, 4, 6, 6))
    grouped = _strategy_ops("ConvInteger", {"x": x}, {"w": extremes(np.uint8, (4, 2, 3, 3))}, {"group": 2})
    runtime = _strategy_ops("ConvInteger", {"x": x, "w": extremes(np.uint8, (3, 4, 3, 3))}, {}, {})
    for ops in (grouped, runtime):
        assert "BATCH_MATMUL" in ops and "GATHER" in ops and "CONV_2D" not in ops, ops


def test_one_channel_window_past_2_to_the_24_keeps_the_patch_strategy():
    """A 17x17 window at the extremes sums 289 * 255 * 255 > 2^24 from one input channel:
    no chunk of channels is exact, the patch strategy chunks the window itself."""
    feeds = {"x": extremes(np.uint8, (1, 1, 18, 18))}
    consts = {"w": np.full((1, 1, 17, 17), 255, np.uint8), "xz": np.array(255, np.uint8)}
    want, ops = convert_and_compare("ConvInteger", feeds, consts, opset=10)
    assert "CONV_2D" not in ops and ops.count("BATCH_MATMUL") >= 2, ops


@pytest.mark.parametrize("geometry", ["3x3_pad1", "stride2_asymmetric", "depthwise_multiplier_dilated", "1d_stride2",
                                      "many_channels"])
def test_litert_with_xnnpack_is_exact_too(geometry):
    """LiteRT's default resolver (XNNPACK's float32 convolutions, blocked and FMA-summed):
    the same integers, as the exactness argument says for any float32 direct convolution."""
    from ai_edge_litert.interpreter import Interpreter

    xs, ws, attrs = GEOMETRIES[geometry]
    feeds = {"x": extremes(np.uint8, xs)}
    model = one_node_model("ConvInteger", feeds, attrs=attrs, opset=10,
                           consts={"w": np.full(ws, 255, np.uint8), "xz": np.array(255, np.uint8)})
    tfl = edgelite.convert(model, keep_io_layout=True)
    if geometry == "many_channels":
        assert op_names(tfl).count("CONV_2D") >= 2
    it = Interpreter(model_content=tfl, num_threads=2)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], feeds["x"])
    it.invoke()
    want = np.asarray(oracle(model, feeds, use_reference=True)[0])
    np.testing.assert_array_equal(it.get_tensor(it.get_output_details()[0]["index"]), want)
