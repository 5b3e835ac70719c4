"""QDQ import, op by op: the integers edgelite computes against ONNX Runtime's own run.

ONNX Runtime runs a QDQ group as float arithmetic on dequantized values, rounded once
(half to even) into the output's parameters. The converter picks the TFLite form that
rounds the same way where one exists:

* GlobalAveragePool / ReduceMean -> SUM (float32 rescale, one rounding) + MUL(1/n):
  equal to ONNX Runtime on every output except exact ties (``passes/qdq_mean.py``);
  TFLite's int8 MEAN would round twice.
* HardSigmoid -> MUL(alpha) (exact: the output keeps the input's integers) -> ADD(beta)
  rounded once into the HardSigmoid's own parameters -> an exact clamp.

What TFLite cannot do the same way is measured and bounded here: HARD_SWISH (LiteRT's
fixed-point approximation) stays within one step. The model-level checks (ResNet18 /
MobileNetV2 / MobileNetV3-Small through ``quantize_static``) live in
``test_qdq_import.py``; the one known two-step case, caused by LiteRT's double-rounding
``MultiplyByQuantizedMultiplier`` in CONV_2D, is pinned at the end of this file.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
litert = pytest.importorskip("ai_edge_litert.interpreter")
from onnx import TensorProto, helper, numpy_helper

from tests.converter.helpers import op_names, open_interpreter, ort_qdq_session

import edgelite
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.schema import read_model

MODELS = os.path.join(os.path.dirname(__file__), "models")


def _unary_qdq_model(op: str, shape, x_params, y_params, act_dtype=np.int8, attrs=None):
    """input -> Q/DQ(x) -> [identity 1x1 Conv ->] ``op`` -> Q/DQ(y) -> output, opset 17.

    For 4-D inputs an identity 1x1 convolution (int8 weights 1 with scale 1, no bias:
    every integer passes unchanged, in ONNX Runtime and in LiteRT) comes first, as in a
    real network: the layout pass then makes the tensors NHWC and the model has
    quantized weights, so ``qdq="auto"`` imports it.
    """
    inits = []
    for name, (s, z) in (("x", x_params), ("y", y_params)):
        inits.append(numpy_helper.from_array(np.array(s, np.float32), f"{name}_s"))
        inits.append(numpy_helper.from_array(np.array(z, act_dtype), f"{name}_z"))
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "x_s", "x_z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "x_s", "x_z"], ["xd"]),
    ]
    src = "xd"
    if len(shape) == 4:
        c = shape[1]
        inits += [numpy_helper.from_array(np.eye(c, dtype=np.int8).reshape(c, c, 1, 1), "w_q"),
                  numpy_helper.from_array(np.array(1.0, np.float32), "w_s"), numpy_helper.from_array(np.array(0, np.int8), "w_z")]
        nodes += [
            helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"]),
            helper.make_node("Conv", ["xd", "w"], ["c"]),
            helper.make_node("QuantizeLinear", ["c", "x_s", "x_z"], ["cq"]),
            helper.make_node("DequantizeLinear", ["cq", "x_s", "x_z"], ["cd"]),
        ]
        src = "cd"
    nodes += [
        helper.make_node(op, [src], ["y"], **(attrs or {})),
        helper.make_node("QuantizeLinear", ["y", "y_s", "y_z"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "y_s", "y_z"], ["output"]),
    ]
    out_shape = list(shape[:2]) + [1] * (len(shape) - 2) if op == "GlobalAveragePool" else list(shape)
    g = helper.make_graph(
        nodes, "qdq_unary", [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)], inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _ort(model, x):
    """ONNX Runtime's run of the QDQ graph as written (``ort_qdq_session``: CPU-independent)."""
    return ort_qdq_session(model).run(None, {"input": x})[0]


def _tflite(tfl: bytes, x: np.ndarray, interp: str = "edgelite") -> np.ndarray:
    """Run ``tfl``; a 4-D ``x`` is given NCHW and fed NHWC (every 4-D model here starts with a conv)."""
    it = open_interpreter(tfl, interp)
    inp = it.get_input_details()[0]
    if x.ndim == 4:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    it.set_tensor(inp["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def _steps(got, ref, y_scale) -> np.ndarray:
    g = got.transpose(0, 3, 1, 2) if got.ndim == 4 else got
    return np.rint(np.abs(g.reshape(ref.shape).astype(np.float64) - ref) / np.float64(np.float32(y_scale)))


def _near_tie(v: np.ndarray, tol: float) -> np.ndarray:
    """Elements whose exact value lies within ``tol`` of a half step (ONNX rounds those to even)."""
    return np.abs(np.abs(v - np.floor(v)) - 0.5) < tol


def _levels_input(x_scale, x_zp, shape, seed):
    """Float inputs that quantize exactly to random integers (every level when the tensor is big enough)."""
    rng = np.random.default_rng(seed)
    q = rng.integers(-128, 128, int(np.prod(shape)))
    q[: min(256, q.size)] = np.arange(-128, -128 + min(256, q.size))
    rng.shuffle(q)
    x = (np.float32(x_scale) * (q - x_zp).astype(np.float32)).reshape(shape).astype(np.float32)
    return x, q.reshape(shape)


# -- global average pooling ------------------------------------------------------------------


def _check_global_pool(act_dtype, shape, x_params, y_params, seed):
    off = 128 if act_dtype == np.uint8 else 0
    m = _unary_qdq_model("GlobalAveragePool", shape, (x_params[0], x_params[1] + off), (y_params[0], y_params[1] + off),
                         act_dtype)
    tfl = edgelite.convert(m)
    ops = op_names(tfl)
    assert "SUM" in ops and "MUL" in ops and "MEAN" not in ops, ops
    x, q = _levels_input(x_params[0], x_params[1], shape, seed)
    ref = _ort(m, x)
    got = _tflite(tfl, x)
    np.testing.assert_array_equal(got, _tflite(tfl, x, "litert"))  # LiteRT: the same bits
    steps = _steps(got, ref, y_params[0])
    n = int(np.prod(shape[2:]))
    exact = (q.reshape(shape[0], shape[1], -1) - x_params[1]).sum(-1) * (
        np.float64(np.float32(x_params[0])) / np.float64(np.float32(y_params[0])) / n)
    ties = _near_tie(exact, 1e-4).reshape(steps.shape)
    assert steps.max() <= 1
    assert not np.any(steps[~ties]), f"{int(np.sum(steps[~ties] > 0))} pooled outputs differ from ONNX Runtime"
    return ties


@pytest.mark.parametrize("act_dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("shape,x_params,y_params", [
    ((4, 32, 7, 7), (0.0213, -128), (0.00732, -128)),  # a ReLU network's pool: zero point at the bottom
    ((2, 48, 3, 3), (0.0213, -17), (0.00731, -5)),
    ((2, 16, 6, 5), (0.0041, 30), (0.0032, 11)),
])
def test_global_average_pool_equals_onnxruntime(act_dtype, shape, x_params, y_params):
    """TFLite's MEAN would differ on 3-25% of these outputs (two roundings); SUM + MUL(1/n) on none."""
    _check_global_pool(act_dtype, shape, x_params, y_params, seed=shape[1])


def test_global_average_pool_feeding_a_classifier():
    """ResNet's pattern: the pooled mean goes through Flatten into Gemm, all with ORT's integers."""
    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, (10, 16)).astype(np.int8)
    w_s = np.float32(0.004)
    x_s, p_s, o_s = np.float32(0.02), np.float32(0.011), np.float32(0.05)
    b = rng.integers(-500, 500, 10).astype(np.int32)
    inits = [numpy_helper.from_array(a, n) for a, n in [
        (np.array(x_s), "x_s"), (np.array(3, np.int8), "x_z"), (np.array(p_s), "p_s"), (np.array(-100, np.int8), "p_z"),
        (np.array(o_s), "o_s"), (np.array(7, np.int8), "o_z"), (w, "w_q"), (np.array(w_s), "w_s"),
        (np.array(0, np.int8), "w_z"), (b, "b_q"), (np.array(p_s * w_s, np.float32), "b_s"),
        (np.array(0, np.int32), "b_z"), (np.eye(16, dtype=np.int8).reshape(16, 16, 1, 1), "e_q"),
        (np.array(1.0, np.float32), "e_s"), (np.array(0, np.int8), "e_z")]]
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "x_s", "x_z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "x_s", "x_z"], ["xd"]),
        helper.make_node("DequantizeLinear", ["e_q", "e_s", "e_z"], ["e"]),  # identity 1x1 conv: NHWC
        helper.make_node("Conv", ["xd", "e"], ["c"]),
        helper.make_node("QuantizeLinear", ["c", "x_s", "x_z"], ["cq"]),
        helper.make_node("DequantizeLinear", ["cq", "x_s", "x_z"], ["cd"]),
        helper.make_node("GlobalAveragePool", ["cd"], ["p"]),
        helper.make_node("QuantizeLinear", ["p", "p_s", "p_z"], ["pq"]),
        helper.make_node("DequantizeLinear", ["pq", "p_s", "p_z"], ["pd"]),
        helper.make_node("Flatten", ["pd"], ["f"]),
        helper.make_node("QuantizeLinear", ["f", "p_s", "p_z"], ["fq"]),
        helper.make_node("DequantizeLinear", ["fq", "p_s", "p_z"], ["fd"]),
        helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"]),
        helper.make_node("DequantizeLinear", ["b_q", "b_s", "b_z"], ["b"]),
        helper.make_node("Gemm", ["fd", "w", "b"], ["y"], transB=1),
        helper.make_node("QuantizeLinear", ["y", "o_s", "o_z"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "o_s", "o_z"], ["output"]),
    ]
    g = helper.make_graph(nodes, "gap_fc", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 16, 7, 7])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    tfl = edgelite.convert(m)
    assert [op for op in op_names(tfl) if op not in ("QUANTIZE", "DEQUANTIZE")] == [
        "CONV_2D", "SUM", "MUL", "RESHAPE", "FULLY_CONNECTED"]
    mm = read_model(tfl)
    sg = mm.subgraphs[0]
    fc = next(op for op in sg.operators if mm.opcode_name(op) == "FULLY_CONNECTED")
    np.testing.assert_array_equal(mm.tensor_data(sg.tensors[fc.inputs[1]]), w)  # ORT's weights
    np.testing.assert_array_equal(mm.tensor_data(sg.tensors[fc.inputs[2]]), b)  # ... and bias, unchanged
    # The pooled integers themselves: ONNX Runtime's (its QuantizeLinear output "pq")
    # against edgelite's tensor "p" (the MUL's output, named after the ONNX value).
    m.graph.output.append(helper.make_tensor_value_info("pq", TensorProto.INT8, [1, 16, 1, 1]))
    sess = ort_qdq_session(m)
    it = edgelite.Interpreter(model_content=tfl, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    pooled = next(d["index"] for d in it.get_tensor_details() if d["name"] == "p")
    for seed in range(6):
        x, q = _levels_input(x_s, 3, (1, 16, 7, 7), seed)
        ref, ref_pooled = sess.run(None, {"input": x})
        it.set_tensor(it.get_input_details()[0]["index"], np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
        it.invoke()
        exact = (q.reshape(16, -1) - 3).sum(-1) * (np.float64(x_s) / np.float64(p_s) / 49)
        ties = _near_tie(exact, 1e-4)
        np.testing.assert_array_equal(it.get_tensor(pooled).ravel()[~ties], ref_pooled.ravel()[~ties])
        assert _steps(it.get_tensor(it.get_output_details()[0]["index"]), ref, o_s).max() <= 1


# -- HardSigmoid / HardSwish -----------------------------------------------------------------------


def _exhaustive_unary(op, x_params, y_params, act_dtype=np.int8, attrs=None):
    """edgelite vs ONNX Runtime on all 256 input levels: (steps, exact float64 result in y steps)."""
    off = 128 if act_dtype == np.uint8 else 0
    m = _unary_qdq_model(op, (1, 256), (x_params[0], x_params[1] + off), (y_params[0], y_params[1] + off),
                         act_dtype, attrs)
    tfl = edgelite.convert(m, qdq="import")  # no weights: "auto" would not call it a QDQ model
    q = np.arange(-128, 128)
    x = (np.float32(x_params[0]) * (q - x_params[1]).astype(np.float32)).reshape(1, 256)
    ref = _ort(m, x)
    got = _tflite(tfl, x)
    np.testing.assert_array_equal(got, _tflite(tfl, x, "litert"))
    xr = np.float64(np.float32(x_params[0])) * (q - x_params[1])
    if op == "HardSigmoid":
        a, b = (attrs or {}).get("alpha", 0.2), (attrs or {}).get("beta", 0.5)
        yr = np.clip(np.float64(np.float32(a)) * xr + np.float64(np.float32(b)), 0.0, 1.0)
    else:
        yr = xr * np.clip(xr + 3.0, 0.0, 6.0) / 6.0
    return _steps(got, ref, y_params[0]).ravel(), yr / np.float64(np.float32(y_params[0])), tfl


@pytest.mark.parametrize("act_dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("alpha", [1.0 / 6.0, 0.2])
@pytest.mark.parametrize("y_params", [(1.0 / 255, -128), (0.0041, -80)])
def test_hard_sigmoid_equals_onnxruntime(act_dtype, alpha, y_params):
    """One rounding straight into the HardSigmoid's parameters (the ADD before the clamp takes them)."""
    steps, exact, tfl = _exhaustive_unary("HardSigmoid", (0.0437, 9), y_params, act_dtype, {"alpha": alpha, "beta": 0.5})
    assert [op for op in op_names(tfl) if op not in ("QUANTIZE", "DEQUANTIZE")] == ["MUL", "ADD", "RELU_0_TO_1"]
    t = read_model(tfl).subgraphs[0].tensors
    shifted = next(x for x in t if x.name.endswith("_shifted"))
    assert np.isclose(shifted.quantization.scale[0], y_params[0]) and shifted.quantization.zero_point[0] == y_params[1]
    ties = _near_tie(exact, 1e-3)
    assert steps.max() <= 1 and not np.any(steps[~ties]), np.flatnonzero(steps)


@pytest.mark.parametrize("x_params,y_params", [((0.0247, 9), (0.0128, -99)), ((0.0026, -2), (0.0013, -16)),
                                               ((0.05, 30), (0.031, -110))])
def test_hard_swish_within_one_step(x_params, y_params):
    """LiteRT's int8 HARD_SWISH is a fixed-point approximation: a step away from ONNX Runtime's
    float HardSwish on a few of the 256 levels (measured 0.4% of a MobileNetV3's activations)."""
    steps, _, tfl = _exhaustive_unary("HardSwish", x_params, y_params)
    assert "HARD_SWISH" in op_names(tfl)
    assert steps.max() <= 1


# -- property --------------------------------------------------------------------------------------

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:
    given = None


if given is not None:

    @settings(max_examples=25, deadline=None)
    @given(act_dtype=st.sampled_from([np.int8, np.uint8]), h=st.integers(1, 9), w=st.integers(2, 9),
           c=st.integers(1, 12), x_scale=st.floats(1e-3, 0.2), x_zp=st.integers(-128, 127),
           y_ratio=st.floats(0.05, 2.0), y_zp=st.integers(-128, 127), seed=st.integers(0, 99))
    def test_global_pool_property(act_dtype, h, w, c, x_scale, x_zp, y_ratio, y_zp, seed):
        """Any shape and parameters: ONNX Runtime's integers except on exact ties (then one step)."""
        _check_global_pool(act_dtype, (1, c, h, w), (x_scale, x_zp), (x_scale * y_ratio, y_zp), seed)

    @settings(max_examples=25, deadline=None)
    @given(x_scale=st.floats(2e-3, 0.1), x_zp=st.integers(-128, 127), y_scale=st.floats(1.0 / 255, 0.02),
           y_zp=st.integers(-128, 0), alpha=st.floats(0.05, 0.5), beta=st.floats(0.0, 1.0))
    def test_hard_sigmoid_property(x_scale, x_zp, y_scale, y_zp, alpha, beta):
        steps, exact, _ = _exhaustive_unary("HardSigmoid", (x_scale, x_zp), (y_scale, y_zp), np.int8,
                                            {"alpha": alpha, "beta": beta})
        ties = _near_tie(exact, 1e-3)
        assert steps.max() <= 1 and not np.any(steps[~ties])


# -- the known limit: LiteRT's double rounding in CONV_2D -------------------------------------------


def _resnet18_case():
    """ResNet18 (QInt8 activations, per-channel weights), calibration seed 2, the input that reaches two steps."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = np.random.default_rng(2)
    calib = iter([{"input": rng.standard_normal((1, 3, 96, 96)).astype(np.float32)} for _ in range(8)])

    class Reader(CalibrationDataReader):
        def get_next(self):
            return next(calib, None)

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r18.onnx")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            quantize_static(os.path.join(MODELS, "resnet18.onnx"), out, Reader(), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
        m = onnx.load(out)
    x = np.random.default_rng(102).standard_normal((3, 1, 3, 96, 96)).astype(np.float32)[2]
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    last = next(n for n in m.graph.node if n.output[0] == m.graph.output[0].name)
    return m, x, float(inits[last.input[1]])


@pytest.fixture(scope="module")
def resnet18_case():
    return _resnet18_case()


@pytest.mark.xfail(strict=True, reason="LiteRT's CONV_2D rounds acc * M twice (SaturatingRoundingDoublingHighMul, "
                   "then a rounding right shift): 0.05-0.25% of each layer's outputs end one step above ONNX Runtime's "
                   "single float rounding; through 20 layers these steps can add up to two output steps")
def test_resnet18_double_rounding_case_within_one_step(resnet18_case):
    m, x, scale = resnet18_case
    tfl = edgelite.convert(m)
    assert _steps(_tflite(tfl, x), _ort(m, x), scale).max() <= 1


def test_resnet18_double_rounding_case_is_one_step_with_single_rounding(resnet18_case, monkeypatch):
    """The same model and input with TFLite's single-rounding arithmetic (TFLITE_SINGLE_ROUNDING builds):
    within one step, so the second step above comes from the double rounding alone."""
    m, x, scale = resnet18_case
    tfl = edgelite.convert(m)
    litert_bits = _tflite(tfl, x, "litert")
    np.testing.assert_array_equal(_tflite(tfl, x), litert_bits)  # default: LiteRT's arithmetic
    monkeypatch.setattr(fp, "SINGLE_ROUNDING", True)
    assert _steps(_tflite(tfl, x), _ort(m, x), scale).max() <= 1
