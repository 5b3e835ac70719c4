"""Accuracy passes of the int8 quantizer: global-pool form choice and bias correction.

* ``global_pool``: its model of LiteRT's integer arithmetic (multiplier, double-rounding
  MBQM, the global-pool and integer MEAN kernels) against edgelite's fixed-point module
  and against LiteRT itself, bit for bit; the chosen form runs bit-identically in both.
* ``bias_correction``: the expected output shift against LiteRT running the float layer
  with float and with dequantized weights; with the option on, the mean output error of
  each channel shrinks, and the model stays deterministic and bit-exact.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgelite.quantize import quantize_model
from edgelite.quantize import global_pool as gp
from edgelite.quantize.bias_correction import expected_output_shift
from edgelite.schema import read_model
from edgelite.schema.builder import ModelBuilder
from tests.quantize.litert_util import litert, run_litert
from tests.quantize.single_ops import opt

fp = pytest.importorskip("edgelite.interpreter.compute.fixedpoint")


# -- LiteRT arithmetic ------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-6, 50.0), st.integers(-(2**24), 2**24), st.integers(0, 2**30))
def test_multiplier_and_mbqm_match_fixedpoint(real, x0, seed):
    assert gp._quantize_multiplier(real) == fp.quantize_multiplier(real, False)
    q, shift = gp._quantize_multiplier(real)
    x = np.random.default_rng(seed).integers(-(2**20), 2**20, 200)
    x[0] = x0 if abs(x0 * real) < 2**30 else 0
    np.testing.assert_array_equal(gp._mbqm(x, q, shift), fp.multiply_by_quantized_multiplier(x, q, shift, mode=fp.ROUND_DOUBLE))
    np.testing.assert_array_equal(gp._mbqm(x, q, shift, ties_up=True),
                                  fp.multiply_by_quantized_multiplier(x, q, shift, mode=fp.ROUND_DOUBLE_UP))


def _int8_mean(shape, in_q, out_q, keep_dims: bool) -> bytes:
    b = ModelBuilder()
    x = b.add_input("x", shape, np.int8, quant=in_q)
    axes = b.add_constant("axes", np.array([1, 2], np.int32))
    out_shape = (shape[0], 1, 1, shape[3]) if keep_dims else (shape[0], shape[3])
    y = b.add_tensor("y", out_shape, np.int8, quant=out_q)
    b.add_operator("MEAN", [x, axes], [y], opt("ReducerOptions", keepDims=keep_dims), version=2)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("in_q,out_q", [((0.00411, -128), (0.0035548, -128)), ((0.02, -5), (0.011, -100)),
                                        ((0.0017, 2), (0.0015, -3)), ((0.05, 7), (0.05, 7))])
@pytest.mark.parametrize("keep_dims", [True, False])
def test_mean_outputs_match_litert(in_q, out_q, keep_dims):
    """The simulated kernels give LiteRT's bytes: 16 SIMD-block channels + 4 scalar ones."""
    shape = (1, 3, 3, 20)
    rng = np.random.default_rng(3)
    model = _int8_mean(shape, in_q, out_q, keep_dims)
    it = litert.Interpreter(model_content=model, num_threads=1,
                            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    for _ in range(20):
        x = rng.integers(-128, 128, shape).astype(np.int8)
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        got = it.get_tensor(it.get_output_details()[0]["index"]).reshape(-1)
        sums = x.astype(np.int64).sum(axis=(1, 2)).reshape(-1) - 9 * in_q[1]
        if keep_dims:
            want = np.concatenate([gp.global_pool_outputs(*in_q, *out_q, 9, sums[:16], True),
                                   gp.global_pool_outputs(*in_q, *out_q, 9, sums[16:], False)])
        else:
            want = gp.integer_mean_outputs(in_q[0], *out_q, 9, sums)
        np.testing.assert_array_equal(got, want)


def test_zero_point_term_made_exact():
    s, zp = gp.global_pool_output_params(0.00411, -128, 0.00355, -128)
    assert zp == -128 and s >= np.float32(0.00355)
    assert float(np.float32(np.float32(-128 * np.float32(0.00411)) / np.float32(s))) == -148.0
    # nothing to fix when the input zero point is 0
    assert gp.global_pool_output_params(0.1, 0, 0.05, 3) == (float(np.float32(0.05)), 3)


def test_choice_is_the_least_error_form():
    """Hand case: a 3x3 pool of ReLU outputs whose zero-point term rounds badly."""
    form, scale = gp.choose_global_pool(0.00411, -128, 0.003554823, -128, 9, 64)
    sums = np.arange(0, 2296)
    exact = np.float32(0.00411) * sums / 9.0

    def mse(out, s):
        return np.mean((np.float32(s) * (out + 128.0) - exact) ** 2)

    keep = mse(gp.global_pool_outputs(0.00411, -128, 0.003554823, -128, 9, sums, True), 0.003554823)
    integer = mse(gp.integer_mean_outputs(0.00411, 0.003554823, -128, 9, sums), 0.003554823)
    assert form == "integer" and integer < keep
    assert gp.choose_global_pool(0.00411, -128, 0.003554823, -128, 9, 64, allow_integer=False)[0] == "keep"


def _pool_model(c: int = 24) -> bytes:
    """x -> CONV 1x1 (+RELU) -> MEAN keep_dims {1,2} -> CONV 1x1: a squeeze-excite stem."""
    rng = np.random.default_rng(0)
    b = ModelBuilder()
    x = b.add_input("x", (1, 3, 3, 8), np.float32)
    w1 = b.add_constant("w1", rng.normal(0, 0.4, (c, 1, 1, 8)).astype(np.float32))
    b1 = b.add_constant("b1", rng.normal(0.3, 0.2, c).astype(np.float32))
    h = b.add_tensor("h", (1, 3, 3, c), np.float32)
    b.add_operator("CONV_2D", [x, w1, b1], [h], opt("Conv2DOptions", padding=1, strideH=1, strideW=1,
                                                     fusedActivationFunction=1))
    axes = b.add_constant("axes", np.array([1, 2], np.int32))
    p = b.add_tensor("pooled", (1, 1, 1, c), np.float32)
    b.add_operator("MEAN", [h, axes], [p], opt("ReducerOptions", keepDims=True))
    w2 = b.add_constant("w2", rng.normal(0, 0.3, (4, 1, 1, c)).astype(np.float32))
    b2 = b.add_constant("b2", np.zeros(4, np.float32))
    y = b.add_tensor("y", (1, 1, 1, 4), np.float32)
    b.add_operator("CONV_2D", [p, w2, b2], [y], opt("Conv2DOptions", padding=1, strideH=1, strideW=1))
    b.mark_output(y)
    return b.build()


def test_quantized_pool_runs_bit_exact_in_edgelite_and_litert():
    edgelite = pytest.importorskip("edgelite")
    f = _pool_model()
    data = np.random.default_rng(1).normal(size=(16, 1, 3, 3, 8)).astype(np.float32)
    q = quantize_model(f, "int8", calibration=data, backend="litert")
    m = read_model(q)
    ops = [m.opcode_name(op) for op in m.subgraphs[0].operators]
    assert "MEAN" in ops
    assert ops.count("RESHAPE") in (0, 1)  # the integer form adds exactly one
    assert q == quantize_model(f, "int8", calibration=data, backend="litert")
    feeds = [{"x": d} for d in data[:6]]
    ours = edgelite.Interpreter(model_content=q)
    ours.allocate_tensors()
    for feed, ref in zip(feeds, run_litert(q, feeds)):
        ours.set_tensor(ours.get_input_details()[0]["index"], feed["x"])
        ours.invoke()
        np.testing.assert_array_equal(ours.get_tensor(ours.get_output_details()[0]["index"]), ref[0])


# -- bias correction -------------------------------------------------------------------------


def _layer_model(op: str, x_shape, w: np.ndarray, options, out_shape) -> bytes:
    b = ModelBuilder()
    x = b.add_input("x", x_shape, np.float32)
    wt = b.add_constant("w", w.astype(np.float32))
    n_out = w.shape[0] if op != "DEPTHWISE_CONV_2D" else w.shape[3]
    bias = b.add_constant("b", np.zeros(n_out, np.float32))
    y = b.add_tensor("y", out_shape, np.float32)
    b.add_operator(op, [x, wt, bias], [y], options)
    b.mark_output(y)
    return b.build()


_CASES = [
    ("CONV_2D", (1, 7, 6, 3), (4, 3, 3, 3), dict(padding=0, strideH=2, strideW=2), (1, 4, 3, 4)),
    ("CONV_2D", (1, 7, 6, 3), (4, 3, 3, 3), dict(padding=1, strideH=1, strideW=1), (1, 5, 4, 4)),
    ("CONV_2D", (1, 8, 8, 2), (3, 3, 3, 2), dict(padding=0, strideH=1, strideW=1, dilationHFactor=2,
                                                 dilationWFactor=2), (1, 8, 8, 3)),
    ("DEPTHWISE_CONV_2D", (1, 7, 6, 3), (1, 3, 3, 6), dict(padding=0, strideH=2, strideW=2, depthMultiplier=2),
     (1, 4, 3, 6)),
    ("FULLY_CONNECTED", (1, 5), (3, 5), None, (1, 3)),
]


@pytest.mark.parametrize("op,x_shape,w_shape,opts,out_shape", _CASES)
def test_expected_shift_matches_litert(op, x_shape, w_shape, opts, out_shape):
    rng = np.random.default_rng(5)
    w = rng.normal(size=w_shape).astype(np.float32)
    wq = (w + rng.normal(0, 0.02, w_shape)).astype(np.float32)
    mean_x = rng.uniform(0.0, 2.0, x_shape).astype(np.float32)
    name = {"CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions"}.get(op)
    options = opt(name, **opts) if name else opt("FullyConnectedOptions")
    feeds = [{"x": mean_x}]
    y = run_litert(_layer_model(op, x_shape, w, options, out_shape), feeds)[0][0]
    yq = run_litert(_layer_model(op, x_shape, wq, options, out_shape), feeds)[0][0]
    want = (yq.astype(np.float64) - y).reshape(-1, out_shape[-1]).mean(axis=0)
    got = expected_output_shift(op, options, mean_x.astype(np.float64), w, wq)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _relu_stack() -> bytes:
    """Depthwise 3x3 then pointwise conv on positive inputs: weight rounding biases the outputs."""
    rng = np.random.default_rng(2)
    b = ModelBuilder()
    x = b.add_input("x", (1, 8, 8, 16), np.float32)
    dw = b.add_constant("dw", rng.normal(0, 0.5, (1, 3, 3, 16)).astype(np.float32))
    dwb = b.add_constant("dwb", np.zeros(16, np.float32))
    h = b.add_tensor("h", (1, 8, 8, 16), np.float32)
    b.add_operator("DEPTHWISE_CONV_2D", [x, dw, dwb], [h],
                   opt("DepthwiseConv2DOptions", padding=0, strideH=1, strideW=1, depthMultiplier=1))
    pw = b.add_constant("pw", rng.normal(0, 0.3, (8, 1, 1, 16)).astype(np.float32))
    pwb = b.add_constant("pwb", np.zeros(8, np.float32))
    y = b.add_tensor("y", (1, 8, 8, 8), np.float32)
    b.add_operator("CONV_2D", [h, pw, pwb], [y], opt("Conv2DOptions", padding=0, strideH=1, strideW=1))
    b.mark_output(y)
    return b.build()


def test_bias_correction_reduces_the_mean_error_per_channel():
    f = _relu_stack()
    rng = np.random.default_rng(4)
    data = rng.uniform(0.0, 3.0, (24, 1, 8, 8, 16)).astype(np.float32)  # positive mean, as after a ReLU
    test = [{"x": d} for d in rng.uniform(0.0, 3.0, (12, 1, 8, 8, 16)).astype(np.float32)]
    ref = np.array([r[0] for r in run_litert(f, test)], np.float64)
    bias_err = {}
    for on in (False, True):
        q = quantize_model(f, "int8", calibration=data, bias_correction=on, backend="litert")
        got = np.array([r[0] for r in run_litert(q, test)], np.float64)
        bias_err[on] = np.mean(((got - ref).reshape(-1, 8).mean(axis=0)) ** 2)
        if on:
            assert q == quantize_model(f, "int8", calibration=data, bias_correction=True, backend="litert")
    assert bias_err[True] < 0.5 * bias_err[False], bias_err


def test_bias_correction_leaves_given_weights_alone():
    """QDQ-style weights (a float constant annotated with its scales) keep their bias."""
    from edgelite.schema import write_model

    f = _relu_stack()
    m = read_model(f)
    sg = m.subgraphs[0]
    w = next(t for t in sg.tensors if t.name == "pw")
    data = m.tensor_data(w)
    scales = (np.abs(data).reshape(8, -1).max(axis=1) / 127).astype(np.float32)
    from edgelite.schema.model import QuantizationParameters

    w.quantization = QuantizationParameters(scale=scales, zero_point=np.zeros(8, np.int64), quantized_dimension=0)
    f2 = write_model(m)
    cal = np.random.default_rng(4).uniform(0.0, 3.0, (8, 1, 8, 8, 16)).astype(np.float32)

    def pw_bias(model):
        mm = read_model(model)
        s = mm.subgraphs[0]
        conv = next(op for op in s.operators if mm.opcode_name(op) == "CONV_2D")
        return mm.tensor_data(s.tensors[conv.inputs[2]])

    on = quantize_model(f2, "int8", calibration=cal, bias_correction=True, backend="litert")
    off = quantize_model(f2, "int8", calibration=cal, bias_correction=False, backend="litert")
    np.testing.assert_array_equal(pw_bias(on), pw_bias(off))
