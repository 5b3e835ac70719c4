"""Quantization parameters every runtime accepts (``edgelite.quantize.legal``).

Degenerate calibrated ranges, all-zero or tiny weight channels and biases that would
saturate must give files that LiteRT's built-in kernels *and* its default XNNPACK path
load and run (checked in a child process: XNNPACK failures can abort the process);
parameters that were given and break a runtime's limits fail with a typed error naming
the operator; no numpy warning escapes a conversion.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgelite.errors import QuantizationError
from edgelite.quantize import quantize_model
from edgelite.quantize.legal import (
    NEAR_ZERO_RANGE, XNN_CONV_REQUANT_MAX, XNN_CONV_REQUANT_MIN, expand_tiny_range, runtime_limit_violations,
)
from edgelite.quantize.spec import INT8_OPS
from edgelite.schema import read_model
from edgelite.schema.fb.Padding import Padding as P
from tests.quantize.fixture_data import TWINS, calibration_images, fixture_bytes
from tests.quantize.single_ops import POSITIVE_INPUTS, _model, build, opt

litert = pytest.importorskip("ai_edge_litert.interpreter")
from tests.litert_child import assert_run_in_xnnpack, xnnpack_failures  # noqa: E402

F = np.float32


def _conv(w: np.ndarray, b: np.ndarray | None, fc: bool = False) -> bytes:
    if fc:
        return _model("FULLY_CONNECTED", [(1, w.shape[0])], opt("FullyConnectedOptions"), x_shape=(1, w.shape[1]),
                      extra=[w, b])
    o = opt("Conv2DOptions", padding=P.SAME, strideW=1, strideH=1, dilationWFactor=1, dilationHFactor=1)
    return _model("CONV_2D", [(1, 8, 8, w.shape[0])], o, extra=[w, b])


def _quantize(model: bytes, cal, **kw) -> tuple[bytes, list[str]]:
    """Quantized bytes and the warnings raised; a numpy RuntimeWarning fails the test."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        warnings.simplefilter("error", RuntimeWarning)
        q = quantize_model(model, "int8", calibration=cal, bias_correction=False, **kw)
    return q, [str(r.message) for r in rec]


def _requant_scales(q: bytes) -> list[np.ndarray]:
    """input scale x weight scale / output scale of every int8 CONV_2D / FC, in float32."""
    m = read_model(q)
    sg = m.subgraphs[0]
    out = []
    for op in sg.operators:
        if m.opcode_name(op) in ("CONV_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D"):
            s_in = np.float32(sg.tensors[op.inputs[0]].quantization.scale[0])
            s_w = np.asarray(sg.tensors[op.inputs[1]].quantization.scale, F)
            s_out = np.float32(sg.tensors[op.outputs[0]].quantization.scale[0])
            out.append(s_in * s_w / s_out)
    return out


def _builtin(q: bytes, x: np.ndarray) -> np.ndarray:
    it = litert.Interpreter(model_content=q,
                            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


# -- hand-checkable --------------------------------------------------------------------------


def test_tiny_ranges_widen_like_litert_mlir_quantizer():
    assert expand_tiny_range(0.0, 0.0) == (-NEAR_ZERO_RANGE / 2, NEAR_ZERO_RANGE / 2)
    assert expand_tiny_range(0.0, 2e-7) == (-NEAR_ZERO_RANGE / 2, NEAR_ZERO_RANGE / 2)
    assert expand_tiny_range(-1.0, 3.0) == (-1.0, 3.0)


def test_dead_conv_output_warns_names_the_tensor_and_runs_in_xnnpack():
    """All-zero weights and bias: the output is constant 0 (the issue's squeeze-excite case)."""
    rng = np.random.default_rng(0)
    w = np.zeros((6, 3, 3, 4), F)
    q, warned = _quantize(_conv(w, np.zeros(6, F)), rng.normal(size=(8, 1, 8, 8, 4)).astype(F))
    assert any("empty calibrated range" in m and "'out0'" in m for m in warned), warned
    for r in _requant_scales(q):
        assert np.all(r < XNN_CONV_REQUANT_MAX) and np.all(r >= XNN_CONV_REQUANT_MIN)
    assert not runtime_limit_violations(read_model(q))
    assert_run_in_xnnpack({"dead_conv": q})


def test_zero_and_tiny_weight_channels_keep_their_bias():
    """A zero (or denormal-small) weight channel must not saturate its int32 bias: its
    output is the bias, as in the float model (it used to come out as about 0)."""
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.3, (6, 3, 3, 4)).astype(F)
    w[2] = 0.0
    w[4] = 1e-37
    b = np.array([0.1, -0.2, 0.5, 0.0, -0.4, 0.3], F)
    cal = rng.normal(size=(8, 1, 8, 8, 4)).astype(F)
    q, _ = _quantize(_conv(w, b), cal)
    m = read_model(q)
    sg = m.subgraphs[0]
    conv = next(op for op in sg.operators if m.opcode_name(op) == "CONV_2D")
    s_w = np.asarray(sg.tensors[conv.inputs[1]].quantization.scale)
    assert s_w[2] == pytest.approx(max(np.delete(s_w, [2, 4])))  # zero channel: an ordinary scale
    out = _builtin(q, cal[0])
    step = float(sg.tensors[sg.outputs[0]].quantization.scale[0]) if sg.tensors[sg.outputs[0]].type != 0 else 0.01
    np.testing.assert_allclose(out[..., 2], 0.5, atol=2 * step)
    np.testing.assert_allclose(out[..., 4], -0.4, atol=2 * step)
    assert_run_in_xnnpack({"zero_channels": q})


@pytest.mark.parametrize("op,ranges", [
    ("CONV_2D", {"x": (0.02, 0), "out0": (1e-11, 0)}),
    ("FULLY_CONNECTED", {"x": (0.02, 0), "out0": (1e-11, 0)}),
    ("ADD", {"x": (0.02, 0), "y": (0.02, 0), "out0": (1e-11, 0)}),
    ("HARD_SWISH", {"x": (0.02, 0), "out0": (1e-11, 0)}),
])
def test_given_parameters_a_runtime_refuses_fail_with_a_typed_error(op, ranges):
    """fixed_ranges (as a QDQ model gives them) are not re-chosen: the conversion fails,
    naming the operator, instead of writing a file that crashes LiteRT."""
    with pytest.raises(QuantizationError, match=rf"#\d+ {op} \(output"):
        quantize_model(build(op), "int8", fixed_ranges=ranges, bias_correction=False)


def test_calibrated_tiny_ranges_are_fixed_not_refused():
    """The same ops with calibration data that makes their outputs constant: fixed."""
    x = np.zeros((4, 1, 8, 8, 4), F)
    models = {}
    for op in ("ADD", "SUB", "HARD_SWISH", "MUL", "LEAKY_RELU", "AVERAGE_POOL_2D", "MEAN"):
        f = build(op)
        names = [f"{t.name}" for t in read_model(f).subgraphs[0].tensors]
        cal = {"x": x} if "y" not in names else {"x": x, "y": x}
        if op == "AVERAGE_POOL_2D":
            cal = {"x": x}
        models[op], _ = _quantize(f, [{k: v[i] for k, v in cal.items()} for i in range(4)])
    assert not xnnpack_failures(models)


# -- every int8 file the quantizer tests write -------------------------------------------------


def _single_op_calibration(model: bytes, n: int = 4, positive: bool = False) -> list[dict]:
    """Random-normal samples per input; ``positive``: |N(0, 1)| + 0.1, for the ops in
    ``single_ops.POSITIVE_INPUTS`` (LiteRT's int8 RSQRT refuses a negative input range)."""
    sg = read_model(model).subgraphs[0]
    rng = np.random.default_rng(5)
    out = []
    for _ in range(n):
        feed = {}
        for i in sg.inputs:
            t = sg.tensors[i]
            x = rng.normal(size=t.shape)
            feed[t.name] = (np.abs(x) + 0.1 if positive else x).astype(t.numpy_dtype)
        out.append(feed)
    return out


def test_every_single_op_int8_model_runs_in_xnnpack():
    models = {}
    for op in INT8_OPS:
        f = build(op)
        models[op], _ = _quantize(f, _single_op_calibration(f, positive=op in POSITIVE_INPUTS))
    assert_run_in_xnnpack(models)


FIXTURES = [n for n in TWINS if fixture_bytes(n) is not None]


@pytest.mark.skipif(not FIXTURES, reason="TensorFlow-made fixtures not present (tests/fixtures)")
def test_fixture_int8_models_run_in_xnnpack():
    models = {}
    for name in FIXTURES:
        f = fixture_bytes(name)
        m = read_model(f)
        x = m.subgraphs[0].tensors[m.subgraphs[0].inputs[0]]
        models[name], _ = _quantize(f, calibration_images(x.shape, 8, TWINS[name][1]))
        twin = fixture_bytes(TWINS[name][0])
        if twin is not None:
            models[TWINS[name][0]] = twin  # TFLite's own int8 twin, as a control
    assert_run_in_xnnpack(models)


# -- properties: channels made constant or dead by the calibration set -------------------------


@st.composite
def _dead_channel_case(draw):
    cout = draw(st.integers(2, 6))
    fc = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    cin = 4
    w = (rng.normal(0, 0.3, (cout, cin)) if fc else rng.normal(0, 0.3, (cout, 3, 3, cin))).astype(F)
    b = rng.normal(0, 0.1, cout).astype(F)
    dead = draw(st.lists(st.integers(0, cout - 1), max_size=cout, unique=True))
    for c in dead:
        kind = draw(st.sampled_from(["zero", "zero_and_no_bias", "tiny", "huge_bias"]))
        w[c] = 0.0 if kind != "tiny" else F(draw(st.sampled_from([1e-37, 1e-30, 1e-20])))
        b[c] = {"zero": b[c], "zero_and_no_bias": 0.0, "tiny": b[c], "huge_bias": 1e3}[kind]
    data = draw(st.sampled_from(["normal", "constant", "zeros", "tiny"]))
    shape = (1, cin) if fc else (1, 8, 8, cin)
    n = 4
    if data == "normal":
        cal = rng.normal(size=(n,) + shape)
    elif data == "constant":
        cal = np.full((n,) + shape, draw(st.floats(-3, 3)))
    elif data == "zeros":
        cal = np.zeros((n,) + shape)
    else:
        cal = rng.normal(size=(n,) + shape) * 1e-9
    if draw(st.booleans()):
        b = b * 0.0
        w = w * 0.0  # the whole layer is dead
    return _conv(w, b, fc=fc), cal.astype(F)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_dead_channel_case())
def test_dead_or_constant_channels_give_legal_parameters(case):
    model, cal = case
    q, _ = _quantize(model, cal)  # no numpy RuntimeWarning (an error here)
    assert not runtime_limit_violations(read_model(q))
    for r in _requant_scales(q):
        assert np.all(np.isfinite(r)) and np.all(r < XNN_CONV_REQUANT_MAX) and np.all(r >= XNN_CONV_REQUANT_MIN)
    m = read_model(q)
    for t in m.subgraphs[0].tensors:
        if t.quantization is not None and t.quantization.is_quantized:
            s = np.asarray(t.quantization.scale)
            assert np.all(np.isfinite(s)) and np.all(s > 0) and np.all(s >= np.finfo(F).tiny), t.name
        if t.type == 2 and m.tensor_data(t) is not None:  # int32 bias: never saturated
            d = np.asarray(m.tensor_data(t), np.int64)
            assert np.all(np.abs(d) <= 2**30 * 1.001), t.name  # the middle half of int32, never saturated


def test_dead_or_constant_channel_models_run_in_xnnpack():
    """A fixed handful of the property's cases, in LiteRT's default path (one child)."""
    models = {}
    for seed, (kind, data) in enumerate([("zero_and_no_bias", "zeros"), ("tiny", "constant"),
                                         ("huge_bias", "normal"), ("zero", "tiny")]):
        rng = np.random.default_rng(seed)
        for fc in (False, True):
            w = (rng.normal(0, 0.3, (5, 4)) if fc else rng.normal(0, 0.3, (5, 3, 3, 4))).astype(F)
            b = rng.normal(0, 0.1, 5).astype(F)
            w[1] = 1e-37 if kind == "tiny" else 0.0
            b[1] = {"zero_and_no_bias": 0.0, "huge_bias": 1e3}.get(kind, b[1])
            shape = (4, 1, 4) if fc else (4, 1, 8, 8, 4)
            cal = {"zeros": np.zeros(shape), "constant": np.full(shape, 0.7),
                   "normal": rng.normal(size=shape), "tiny": rng.normal(size=shape) * 1e-9}[data].astype(F)
            models[f"{kind}-{data}-{'fc' if fc else 'conv'}"], _ = _quantize(_conv(w, b, fc), cal)
    assert_run_in_xnnpack(models)


def test_quant_report_flags_degenerate_ranges():
    from edgelite.quantize.report import compare_models

    rng = np.random.default_rng(0)
    f = _conv(np.zeros((6, 3, 3, 4), F), np.zeros(6, F))
    cal = rng.normal(size=(4, 1, 8, 8, 4)).astype(F)
    q, _ = _quantize(f, cal)
    rep = compare_models(f, q, cal, backend="litert")
    flagged = {s.name for s in rep.layers if s.degenerate}
    assert flagged == {"out0"}
    assert "degenerate (nearly empty) float range: out0" in rep.to_table()
    assert '"degenerate": true' in rep.to_json()


def test_lookup_tables_overflow_like_c_without_numpy_warnings():
    """LOGISTIC/TANH/ELU tables where float32 exp overflows (input steps of 10: |x| up to
    1280, past double exp's 709 too): inf as C's expf gives it, no warning, no OverflowError."""
    from edgelite.interpreter.compute.lut import elu_f32, logistic_f32, populate_lut_8bit, tanh_f32

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lg = populate_lut_8bit(logistic_f32, 10.0, 0, 1 / 256, -128, np.int8)
        populate_lut_8bit(tanh_f32, 10.0, 0, 1 / 128, 0, np.int8)
        el = populate_lut_8bit(elu_f32, 10.0, 0, 0.5, 0, np.int8)
        populate_lut_8bit(logistic_f32, 0.02, 0, 1e-40, -128, np.int8)  # 1 / scale is inf in float32
    assert lg[0] == 0 and lg[127] == 127 and lg[128] == -128  # byte 128 is q = -128: sigmoid(-1280) = 0
    assert el[127] == 127 and el[-1] == -2  # x = -10: expm1 = -1 -> -2 steps of 0.5


def test_a_wide_logistic_converts_and_runs_without_warnings():
    cal = (np.random.default_rng(0).normal(size=(4, 1, 8, 8, 4)) * 500).astype(F)
    q, warned = _quantize(build("LOGISTIC"), cal, fixed_range_outputs="int8")
    assert not [w for w in warned if "overflow" in w]
    import edgelite

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        it = edgelite.Interpreter(model_content=q)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], cal[0])
        it.invoke()
    np.testing.assert_array_equal(it.get_tensor(it.get_output_details()[0]["index"]), _builtin(q, cal[0]))
