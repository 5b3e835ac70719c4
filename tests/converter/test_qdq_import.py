"""QDQ import: ONNX QuantizeLinear/DequantizeLinear models convert to int8 with their own parameters.

Hand-made QDQ graphs first (parameters checked tensor by tensor, uint8 -> int8 zero
point mapping, QAT-style weights, what ``qdq="off"``/``"auto"`` leave alone), then the
acceptance check: ONNX Runtime's ``quantize_static`` (QDQ, per-channel and per-tensor,
int8 and uint8 activations) on the PyTorch-exported MobileNetV2 / MobileNetV3-Small /
ResNet18, whose edgelite int8 conversion must agree with ONNX Runtime's own run of the
QDQ model within one output step (|diff| <= 1 x output scale), plus a hypothesis
property over random parameters of a small QDQ conv net.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
litert = pytest.importorskip("ai_edge_litert.interpreter")
from onnx import TensorProto, helper, numpy_helper

from tests.converter.helpers import op_names, open_interpreter, ort_qdq_session
from tests.litert_child import assert_run_in_xnnpack

import edgelite
from edgelite.schema import read_model

MODELS = os.path.join(os.path.dirname(__file__), "models")
INT8, UINT8, FLOAT32 = 9, 3, 0  # TensorType codes


def _run_tflite(tfl: bytes, xs, interp: str = "edgelite"):
    it = open_interpreter(tfl, interp)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    res = []
    for x in xs:
        it.set_tensor(inp["index"], x)
        it.invoke()
        res.append(it.get_tensor(out["index"]))
    return res


def _run_ort(model, xs, name="input"):
    """ONNX Runtime's run of the QDQ graph as written (see ``ort_qdq_session``: no fused
    integer kernels, so the oracle does not depend on the CPU's int8 instructions)."""
    if isinstance(model, str):
        with open(model, "rb") as f:
            model = f.read()
    sess = ort_qdq_session(model)
    return [sess.run(None, {name: x})[0] for x in xs]


def _steps(ref, got, scale: float) -> np.ndarray:
    """|difference| in output quantization steps, per element."""
    return np.abs(np.concatenate([g.ravel() for g in got]) - np.concatenate([r.ravel() for r in ref])) / scale


def _tensors(tfl: bytes) -> dict:
    sg = read_model(tfl).subgraphs[0]
    return {t.name: t for t in sg.tensors}


# -- a small hand-made QDQ model ---------------------------------------------------------


def qdq_conv_model(act_dtype=np.int8, x_params=(0.02, 3), y_params=(0.05, -10), out_params=(0.04, 5),
                   w_scales=None, seed=0, qat_weights=False, per_channel=True):
    """x -> Q/DQ -> Conv(DQ(int8 w), DQ(int32 b)) + Relu -> Q/DQ -> GlobalAveragePool -> Q/DQ -> out.

    Activations in ``act_dtype`` (int8 or uint8); ``qat_weights``: float weights with
    QuantizeLinear -> DequantizeLinear (as PyTorch QAT exports them).
    """
    rng = np.random.default_rng(seed)
    cout, cin = 6, 3
    w_scales = np.asarray(w_scales if w_scales is not None else rng.uniform(0.002, 0.01, cout), np.float32)
    if not per_channel:
        w_scales = w_scales[:1]
    wq = rng.integers(-127, 128, (cout, cin, 3, 3)).astype(np.int8)
    b_scale = (np.float32(x_params[0]) * w_scales).astype(np.float32)
    bq = rng.integers(-2000, 2000, cout).astype(np.int32)
    inits = [
        numpy_helper.from_array(np.array(w_scales if per_channel else w_scales[0], np.float32), "w_s"),
        numpy_helper.from_array(np.zeros(cout if per_channel else (), np.int8), "w_z"),
        numpy_helper.from_array(np.array(b_scale if per_channel else np.full(cout, b_scale[0]), np.float32), "b_s"),
        numpy_helper.from_array(np.zeros(cout, np.int32), "b_z"),
        numpy_helper.from_array(bq, "b_q"),
    ]
    for name, (s, z) in (("x", x_params), ("y", y_params), ("o", out_params)):
        inits.append(numpy_helper.from_array(np.array(s, np.float32), f"{name}_s"))
        inits.append(numpy_helper.from_array(np.array(z, act_dtype), f"{name}_z"))
    nodes = []
    if qat_weights:
        wf = (wq.astype(np.float32) * _bcast(w_scales, 4)).astype(np.float32)
        inits.append(numpy_helper.from_array(wf, "w_f"))
        nodes.append(helper.make_node("QuantizeLinear", ["w_f", "w_s", "w_z"], ["w_q"], axis=0))
    else:
        inits.append(numpy_helper.from_array(wq, "w_q"))
    nodes += [
        helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"], axis=0),
        helper.make_node("DequantizeLinear", ["b_q", "b_s", "b_z"], ["b"], axis=0),
        helper.make_node("QuantizeLinear", ["input", "x_s", "x_z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "x_s", "x_z"], ["xd"]),
        helper.make_node("Conv", ["xd", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"]),
        helper.make_node("QuantizeLinear", ["y", "y_s", "y_z"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "y_s", "y_z"], ["yd"]),
        helper.make_node("GlobalAveragePool", ["yd"], ["p"]),
        helper.make_node("QuantizeLinear", ["p", "o_s", "o_z"], ["pq"]),
        helper.make_node("DequantizeLinear", ["pq", "o_s", "o_z"], ["output"]),
    ]
    g = helper.make_graph(
        nodes, "qdq", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, cin, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, cout, 1, 1])], inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m, wq, w_scales


def _bcast(v, ndim):
    return np.asarray(v).reshape((-1,) + (1,) * (ndim - 1))


def _nhwc(xs):
    return [x.transpose(0, 2, 3, 1).copy() for x in xs]


def _random_inputs(n, shape, seed=1, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * scale).astype(np.float32) for _ in range(n)]


def test_hand_made_int8_parameters_are_kept():
    m, wq, w_scales = qdq_conv_model()
    tfl = edgelite.convert(m)
    assert op_names(tfl)[0] == "QUANTIZE" and op_names(tfl)[-1] == "DEQUANTIZE" and "TRANSPOSE" not in op_names(tfl)
    t = _tensors(tfl)
    x = t["input_int8"]
    assert x.type == INT8 and np.isclose(x.quantization.scale[0], 0.02) and x.quantization.zero_point[0] == 3
    # the Relu is fused into the conv, whose output carries y's parameters
    conv_out = next(v for k, v in t.items() if v.type == INT8 and np.isclose(v.quantization.scale[0], 0.05))
    assert conv_out.quantization.zero_point[0] == -10
    m_ = read_model(tfl)
    conv = next(op for op in m_.subgraphs[0].operators if m_.opcode_name(op) == "CONV_2D")
    filt = m_.subgraphs[0].tensors[conv.inputs[1]]
    np.testing.assert_array_equal(m_.tensor_data(filt), wq.transpose(0, 2, 3, 1))  # the same integers
    np.testing.assert_array_equal(filt.quantization.scale, w_scales)
    assert filt.quantization.quantized_dimension == 0


@pytest.mark.parametrize("act_dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("qat", [False, True])
def test_hand_made_matches_onnxruntime(act_dtype, qat):
    zp = (lambda z: z + 128) if act_dtype == np.uint8 else (lambda z: z)
    m, _, _ = qdq_conv_model(act_dtype, (0.02, zp(3)), (0.05, zp(-10)), (0.04, zp(5)), qat_weights=qat)
    tfl = edgelite.convert(m)
    t = _tensors(tfl)
    # uint8 zero points arrive as the same real values in int8: zp - 128
    assert t["input_int8"].quantization.zero_point[0] == 3
    xs = _random_inputs(6, (1, 3, 8, 8))
    ref = _run_ort(m, xs)
    got = _run_tflite(tfl, _nhwc(xs))
    assert np.max(_steps(ref, [g.reshape(r.shape) for g, r in zip(got, ref)], 0.04)) <= 1.0 + 1e-4


def test_per_tensor_weights():
    m, wq, w_scales = qdq_conv_model(per_channel=False)
    tfl = edgelite.convert(m)
    m_ = read_model(tfl)
    conv = next(op for op in m_.subgraphs[0].operators if m_.opcode_name(op) == "CONV_2D")
    filt = m_.subgraphs[0].tensors[conv.inputs[1]]
    assert len(filt.quantization.scale) == 1 and np.isclose(filt.quantization.scale[0], w_scales[0])
    np.testing.assert_array_equal(m_.tensor_data(filt), wq.transpose(0, 2, 3, 1))
    xs = _random_inputs(4, (1, 3, 8, 8))
    got = _run_tflite(tfl, _nhwc(xs))
    ref = _run_ort(m, xs)
    assert np.max(_steps(ref, [g.reshape(r.shape) for g, r in zip(got, ref)], 0.04)) <= 1.0 + 1e-4


def test_qdq_off_keeps_a_float_model():
    m, _, _ = qdq_conv_model()
    tfl = edgelite.convert(m, qdq="off")
    assert all(t.type != INT8 for t in read_model(tfl).subgraphs[0].tensors if t.name == "input")
    assert "QUANTIZE" not in op_names(tfl) and "ROUND" in op_names(tfl)  # fake quantization as float ops
    xs = _random_inputs(2, (1, 3, 8, 8))
    ref = _run_ort(m, xs)
    nchw = tuple(read_model(tfl).subgraphs[0].tensors[0].shape) == (1, 3, 8, 8)  # Q/DQ first: no NHWC input
    got = _run_tflite(tfl, xs if nchw else _nhwc(xs), "litert")
    assert np.max(_steps(ref, [g.reshape(r.shape) for g, r in zip(got, ref)], 0.04)) <= 1.0 + 1e-4


def test_auto_leaves_a_lone_pair_alone():
    """No quantized weights: a Q -> DQ round trip (conformance-style) stays float arithmetic."""
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"]),
        helper.make_node("Relu", ["d"], ["y"]),
    ]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.array(0.1, np.float32), "s"), numpy_helper.from_array(np.array(0, np.int8), "z")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    tfl = edgelite.convert(m)
    assert all(t.type == FLOAT32 for t in read_model(tfl).subgraphs[0].tensors if t.name in ("x", "y"))
    x = np.array([[0.04, 0.05, -0.3, 12.9]], np.float32)
    np.testing.assert_allclose(_run_tflite(tfl, [x])[0], _run_ort(m, [x], "x")[0])
    forced = edgelite.convert(m, qdq="import")
    assert read_model(forced).subgraphs[0].tensors[0].type == FLOAT32  # io stays float32 ...
    assert "QUANTIZE" in op_names(forced)  # ... around an int8 graph


def test_conflicting_pairs_are_reported():
    m, _, _ = qdq_conv_model()
    # a second consumer of y quantizes it with other parameters
    extra = [
        helper.make_node("QuantizeLinear", ["y", "o_s", "o_z"], ["yq2"]),
        helper.make_node("DequantizeLinear", ["yq2", "o_s", "o_z"], ["yd2"]),
        helper.make_node("GlobalMaxPool", ["yd2"], ["out2"]),
    ]
    m.graph.node.extend(extra)
    m.graph.output.append(helper.make_tensor_value_info("out2", TensorProto.FLOAT, [1, 6, 1, 1]))
    with pytest.warns(UserWarning, match="quantized twice"):
        edgelite.convert(m)


def test_matmul_and_gemm_weights_per_output_channel(tmp_path):
    """ORT quantizes MatMul weights along axis 1 and Gemm(transB) ones along axis 0: both land on dim 0."""
    rng = np.random.default_rng(0)
    w1, b1 = rng.standard_normal((16, 10)).astype(np.float32), rng.standard_normal(10).astype(np.float32)
    w2 = rng.standard_normal((16, 10)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "B"], ["h2"]),
        helper.make_node("Relu", ["h2"], ["h3"]), helper.make_node("Gemm", ["h3", "W2"], ["y"], transB=1),
    ]
    g = helper.make_graph(
        nodes, "fc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
        [numpy_helper.from_array(w1, "W"), numpy_helper.from_array(b1, "B"), numpy_helper.from_array(w2, "W2")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    src = str(tmp_path / "fc.onnx")
    onnx.save(m, src)
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    calib = iter([{"x": rng.standard_normal((1, 16)).astype(np.float32)} for _ in range(16)])

    class Reader(CalibrationDataReader):
        def get_next(self):
            return next(calib, None)

    qdq = str(tmp_path / "fc_qdq.onnx")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        quantize_static(src, qdq, Reader(), quant_format=QuantFormat.QDQ, per_channel=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tfl = edgelite.convert(qdq)
    m_ = read_model(tfl)
    sg = m_.subgraphs[0]
    fcs = [op for op in sg.operators if m_.opcode_name(op) == "FULLY_CONNECTED"]
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(qdq).graph.initializer}
    np.testing.assert_array_equal(m_.tensor_data(sg.tensors[fcs[0].inputs[1]]), inits["W_quantized"].T)
    np.testing.assert_array_equal(m_.tensor_data(sg.tensors[fcs[1].inputs[1]]), inits["W2_quantized"])
    assert len(sg.tensors[fcs[0].inputs[1]].quantization.scale) == 10
    xs = [rng.standard_normal((1, 16)).astype(np.float32) for _ in range(10)]
    ref = _run_ort(qdq, xs, "x")
    out_scale = float(inits[next(n for n in onnx.load(qdq).graph.node if n.output[0] == "y").input[1]])
    assert np.max(np.rint(_steps(ref, _run_tflite(tfl, xs), out_scale))) <= 1


# -- ONNX Runtime quantize_static models ---------------------------------------------------


def _ort_qdq(name: str, tmp, activation_type: str, per_channel: bool, calib) -> str:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calib)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {"input": x}

    out = os.path.join(tmp, f"{name}_{activation_type}_{per_channel}.onnx")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        quantize_static(
            os.path.join(MODELS, f"{name}.onnx"), out, Reader(), quant_format=QuantFormat.QDQ,
            per_channel=per_channel, activation_type=getattr(QuantType, activation_type),
            weight_type=QuantType.QInt8,
        )
    return out


def _output_scale(qdq_path: str) -> float:
    m = onnx.load(qdq_path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    last = next(n for n in m.graph.node if n.output[0] == m.graph.output[0].name)
    assert last.op_type == "DequantizeLinear"
    return float(inits[last.input[1]])


# Every combination the brief names: three networks, int8 and uint8 activations,
# per-channel and per-tensor (quantize_static's default) QInt8 weights, each calibrated
# on two random data sets. The two-step limit of LiteRT's double rounding is measured
# over many more data sets in docs/converter.md and pinned in test_qdq_arithmetic.py.
CASES = [
    (name, act, per_channel, calib_seed)
    for calib_seed in (11, 3)
    for name in ("mobilenet_v2", "resnet18", "mobilenet_v3_small")
    for act in ("QInt8", "QUInt8")
    for per_channel in (True, False)
]

# Filled by the acceptance test, printed once at the end (the figures in docs/).
LSB_STATS: dict = {}


@pytest.fixture(scope="module")
def ort_models(tmp_path_factory):
    """QDQ models made on first use (``case -> path``)."""
    tmp = str(tmp_path_factory.mktemp("qdq"))
    made: dict = {}

    def get(case):
        if case not in made:
            name, act, per_channel, seed = case
            calib = _random_inputs(8, (1, 3, 96, 96), seed=seed)
            folder = os.path.join(tmp, str(seed))
            os.makedirs(folder, exist_ok=True)
            made[case] = _ort_qdq(name, folder, act, per_channel, calib)
        return made[case]

    return get


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_onnxruntime_qdq_within_one_step(ort_models, case):
    path = ort_models(case)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing stays float, no parameter is re-derived
        tfl = edgelite.convert(path)
    ops = op_names(tfl)
    assert ops.count("QUANTIZE") == 1 and ops.count("DEQUANTIZE") == 1 and "TRANSPOSE" not in ops
    assert "MEAN" not in ops  # global pools: SUM + MUL(1/n), ONNX Runtime's single rounding
    m = read_model(tfl)
    sg = m.subgraphs[0]
    for op in sg.operators:
        if m.opcode_name(op) not in ("QUANTIZE", "DEQUANTIZE"):
            assert all(sg.tensors[o].type == INT8 for o in op.outputs), m.opcode_name(op)
    # the weights and biases are ONNX Runtime's own integers
    onnx_m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in onnx_m.graph.initializer}
    first_w = next(v for k, v in inits.items() if k.endswith("_quantized") and v.dtype == np.int8 and v.ndim == 4)
    conv = next(op for op in sg.operators if m.opcode_name(op) == "CONV_2D")
    np.testing.assert_array_equal(m.tensor_data(sg.tensors[conv.inputs[1]]), first_w.transpose(0, 2, 3, 1))
    ort_biases = {v.tobytes() for v in inits.values() if v.dtype == np.int32}
    for op in sg.operators:
        if m.opcode_name(op) in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and op.inputs[2] >= 0:
            assert np.asarray(m.tensor_data(sg.tensors[op.inputs[2]]), np.int32).tobytes() in ort_biases

    xs = _random_inputs(12, (1, 3, 96, 96), seed=5)
    ref = _run_ort(path, xs)
    got = _run_tflite(tfl, _nhwc(xs))
    scale = _output_scale(path)
    steps = np.rint(_steps(ref, got, scale))
    LSB_STATS[case] = (float(np.mean(steps == 0)), float(np.mean(steps == 1)), int(steps.max()))
    assert steps.max() <= 1
    # LiteRT runs the same model to the same bits as edgelite
    for a, b in zip(got, _run_tflite(tfl, _nhwc(xs[:3]), "litert")):
        np.testing.assert_array_equal(a, b)
    # and its default path (XNNPACK, in a child process: it may abort) loads and runs it
    assert_run_in_xnnpack({"-".join(map(str, case)): tfl})


def test_report_lsb_statistics(capsys):
    """Prints the agreement figures (fraction of outputs equal / one step apart)."""
    if not LSB_STATS:
        pytest.skip("run together with test_onnxruntime_qdq_within_one_step")
    with capsys.disabled():
        for case, (eq, one, mx) in LSB_STATS.items():
            print(f"\nQDQ {case}: {eq:.1%} equal, {one:.1%} one step apart, max {mx} step(s)")
    assert all(mx <= 1 for _, _, mx in LSB_STATS.values())


# -- property -------------------------------------------------------------------------------


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # the property test skips; the rest of the module still runs
    given = settings = st = None


def _property(f):
    if given is None:
        return pytest.mark.skip(reason="needs hypothesis")(lambda: None)
    return settings(max_examples=12, deadline=None)(given(
        act_dtype=st.sampled_from([np.int8, np.uint8]),
        x_scale=st.floats(0.005, 0.05), x_zp=st.integers(-40, 40),
        y_scale=st.floats(0.01, 0.2), y_zp=st.integers(-128, 0),
        o_scale=st.floats(0.01, 0.2), o_zp=st.integers(-128, 20),
        seed=st.integers(0, 1000),
    )(f))


@_property
def test_random_parameters_within_one_step(act_dtype, x_scale, x_zp, y_scale, y_zp, o_scale, o_zp, seed):
    off = 128 if act_dtype == np.uint8 else 0
    m, _, _ = qdq_conv_model(act_dtype, (x_scale, x_zp + off), (y_scale, y_zp + off), (o_scale, o_zp + off), seed=seed)
    tfl = edgelite.convert(m)
    xs = _random_inputs(3, (1, 3, 8, 8), seed=seed, scale=x_scale * 60)
    ref = _run_ort(m, xs)
    got = _run_tflite(tfl, _nhwc(xs))
    assert np.max(np.rint(_steps(ref, [g.reshape(r.shape) for g, r in zip(got, ref)], np.float32(o_scale)))) <= 1
