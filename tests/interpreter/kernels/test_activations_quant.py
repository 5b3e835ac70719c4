"""Quantized activations (LUT, RELU family, LEAKY_RELU, PRELU, HARD_SWISH, int16
LOGISTIC/TANH) against LiteRT, bit for bit, reference and Numba kernels."""

import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, random_q, run_edgelite
from edgelite.errors import UnsupportedOperatorError
from edgelite.schema.fb.GeluOptions import GeluOptionsT
from edgelite.schema.fb.LeakyReluOptions import LeakyReluOptionsT

OPS = ["LOGISTIC", "TANH", "ELU", "GELU", "GELU_APPROX", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1",
       "LEAKY_RELU", "HARD_SWISH", "PRELU"]


def _zp(rng, dt):
    return int(rng.integers(-40, 40)) + (128 if dt == np.uint8 else 0)


def _spec(op, dt, rng, shape=(2, 3, 4, 5)):
    name, opts = op, None
    if op == "GELU_APPROX":
        name, opts = "GELU", GeluOptionsT()
        opts.approximate = True
    elif op == "GELU":
        opts = GeluOptionsT()
    elif op == "LEAKY_RELU":
        opts = LeakyReluOptionsT()
        opts.alpha = float(rng.uniform(0.01, 0.5))
    sin = (float(rng.uniform(0.005, 0.2)), _zp(rng, dt))
    if op == "LOGISTIC":
        sout = (1 / 256, -128 if dt == np.int8 else 0)
    elif op == "TANH":
        sout = (1 / 128, 0 if dt == np.int8 else 128)
    else:
        sout = (float(rng.uniform(0.005, 0.2)), _zp(rng, dt))
    ins = [TSpec(shape, dt, sin)]
    if op == "PRELU":
        a_shape = (1, 1, shape[-1])
        ins.append(TSpec(a_shape, dt, (float(rng.uniform(0.002, 0.02)), _zp(rng, dt)),
                         data=random_q(rng, a_shape, dt), const=True))
    return Spec(name, ins, [TSpec(shape, dt, sout)], opts)


def test_relu_by_hand():
    # same scale, zp -3: values below the zero point clamp to it
    spec = Spec("RELU", [TSpec((4,), np.int8, (0.1, -3))], [TSpec((4,), np.int8, (0.1, -3))])
    out = run_edgelite(spec, [np.array([-10, -3, 0, 50], np.int8)])[0]
    assert out.tolist() == [-3, -3, 0, 50]


def test_logistic_table_by_hand():
    # input 0 at the zero point -> sigmoid(0) = 0.5 -> 128 steps of 1/256 above -128 = 0
    spec = Spec("LOGISTIC", [TSpec((3,), np.int8, (0.1, 5))], [TSpec((3,), np.int8, (1 / 256, -128))])
    out = run_edgelite(spec, [np.array([5, -128, 127], np.int8)])[0]
    assert out.tolist() == [0, -128, 127]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dt", [np.int8, np.uint8])
def test_against_litert(op, dt):
    if op == "ELU" and dt == np.uint8:
        pytest.skip("LiteRT has no uint8 ELU")
    rng = np.random.default_rng(zlib.crc32(f"{op}{dt.__name__}".encode()))
    for _ in range(3):
        spec = _spec(op, dt, rng)
        check(spec, [random_q(rng, (2, 3, 4, 5), dt)])


@pytest.mark.parametrize("op", ["RELU", "RELU6", "LEAKY_RELU"])
def test_int16_against_litert(op):
    rng = np.random.default_rng(3)
    opts = None
    if op == "LEAKY_RELU":
        opts = LeakyReluOptionsT()
        opts.alpha = 0.2
    spec = Spec(op, [TSpec((3, 40), np.int16, (0.001, 0))], [TSpec((3, 40), np.int16, (0.0007, 0))], opts)
    check(spec, [random_q(rng, (3, 40), np.int16)])


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
def test_int16_sigmoid_tanh_against_litert(op):
    rng = np.random.default_rng(4)
    for _ in range(4):
        spec = Spec(op, [TSpec((3, 64), np.int16, (float(rng.uniform(1e-4, 1e-3)), 0))],
                    [TSpec((3, 64), np.int16, (1 / 32768, 0))])
        check(spec, [random_q(rng, (3, 64), np.int16)])


def test_int16_power_of_two_input_scale_is_refused():
    spec = Spec("LOGISTIC", [TSpec((4,), np.int16, (2.0 ** -12, 0))], [TSpec((4,), np.int16, (1 / 32768, 0))])
    with pytest.raises(UnsupportedOperatorError):
        run_edgelite(spec, [np.zeros(4, np.int16)])


@settings(max_examples=30, deadline=None, derandomize=True)
@given(op=st.sampled_from(["RELU", "RELU6", "LEAKY_RELU", "HARD_SWISH", "TANH", "GELU"]),
       dt=st.sampled_from([np.int8, np.uint8]), seed=st.integers(0, 2**31))
def test_property_random_quantization(op, dt, seed):
    rng = np.random.default_rng(seed)
    spec = _spec(op, dt, rng, shape=(37,))
    check(spec, [random_q(rng, (37,), dt)])
