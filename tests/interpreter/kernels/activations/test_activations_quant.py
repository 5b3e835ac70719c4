"""Quantized activations (LUT, RELU family, LEAKY_RELU, PRELU, HARD_SWISH, int16
LOGISTIC/TANH) against LiteRT, bit for bit, reference and Numba kernels."""

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgelite.errors import ShapeError
from edgelite.interpreter.kernels.activations.activations_int16 import (
    gemmlowp_logistic16,
    gemmlowp_tanh16,
)
from edgelite.schema.fb.GeluOptions import GeluOptionsT
from edgelite.schema.fb.LeakyReluOptions import LeakyReluOptionsT
from tests.interpreter.kernels.quant_harness import (
    Spec,
    TSpec,
    check,
    random_q,
    run_edgelite,
    run_litert,
)

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


ALL_INT16 = np.arange(-32768, 32768).astype(np.int16)


def _int16_sigmoid_spec(op, in_scale, out_scale=1 / 32768, n=65536):
    return Spec(op, [TSpec((n,), np.int16, (in_scale, 0))], [TSpec((n,), np.int16, (out_scale, 0))])


def test_int16_gemmlowp_functions_by_hand():
    # Q3.12 in, Q0.15 out: exact at 0, odd/complementary symmetry, close to the real function
    x = ALL_INT16.astype(np.int64)
    lg = gemmlowp_logistic16(x)
    th = gemmlowp_tanh16(x)
    assert lg[x == 0].tolist() == [16384] and th[x == 0].tolist() == [0]
    pos = x > 0
    # logistic(-x) = One() - logistic(x) for every x > 0, One() being 32767
    assert np.all(gemmlowp_logistic16(-x[pos]) + lg[pos] == 32767)
    assert np.array_equal(gemmlowp_tanh16(-x[pos]), -th[pos])
    assert np.abs(lg / 32768 - 1 / (1 + np.exp(-x / 4096))).max() < 3e-4
    assert np.abs(th / 32768 - np.tanh(x / 4096)).max() < 5e-4
    # input_left_shift 1 doubles the input first (saturating at the int16 range)
    th1 = gemmlowp_tanh16(x, 1)
    assert np.abs(th1 / 32768 - np.tanh(np.clip(2 * x, -32768, 32767) / 4096)).max() < 5e-4


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("log2_scale", [-12, -11, -13, -10, -15, -8])
def test_int16_power_of_two_input_scale_exhaustive(op, log2_scale):
    # 2**-12 (both ops) and 2**-11 (TANH) take LiteRT's gemmlowp path, the others the
    # interpolation path; every int16 input, reference and JIT kernels
    check(_int16_sigmoid_spec(op, 2.0 ** log2_scale), [ALL_INT16])


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("scale", [2.0 ** (-12 + 0.0009), 2.0 ** (-12 - 0.0009), 2.0 ** (-11 - 0.0009),
                                   2.0 ** (-12 + 0.0012), 2.0 ** (-11 - 0.0012), 1e-4, 3e-4, 7.7e-4])
def test_int16_near_power_of_two_and_general_scales_exhaustive(op, scale):
    # LiteRT calls a scale a power of two when its log2 is within 1e-3 of an integer
    check(_int16_sigmoid_spec(op, scale), [ALL_INT16])


def test_int16_power_of_two_path_is_not_the_interpolation_path():
    # the two LiteRT paths disagree at 2**-12, so the exhaustive tests above tell them apart
    pot = run_edgelite(_int16_sigmoid_spec("LOGISTIC", 2.0 ** -12), [ALL_INT16])[0]
    interp = run_edgelite(_int16_sigmoid_spec("LOGISTIC", 2.0 ** (-12 + 0.0012)), [ALL_INT16])[0]
    assert (pot != interp).sum() > 1000


@pytest.mark.parametrize("op, out_scale, ok", [("LOGISTIC", (1 + 1e-5) / 32768, False),
                                               ("TANH", (1 + 1e-5) / 32768, True),
                                               ("TANH", (1 + 2e-3) / 32768, False)])
def test_int16_output_scale_checks_match_litert(op, out_scale, ok):
    # LOGISTIC wants exactly 1/32768; TANH a scale whose log2 rounds to -15 (within 1e-3)
    spec = _int16_sigmoid_spec(op, 2.0 ** -12, out_scale, n=8)
    if ok:
        check(spec, [ALL_INT16[::8192]])
        return
    with pytest.raises(ShapeError):
        run_edgelite(spec, [ALL_INT16[::8192]])
    with pytest.raises(RuntimeError):
        run_litert(spec, [ALL_INT16[::8192]])


@settings(max_examples=20, deadline=None, derandomize=True)
@given(op=st.sampled_from(["LOGISTIC", "TANH"]), log2_scale=st.integers(-16, -7),
       jitter=st.sampled_from([0.0, 0.0, 5e-4, -5e-4, 0.3, -0.45]), seed=st.integers(0, 2**31))
def test_property_int16_sigmoid_scales(op, log2_scale, jitter, seed):
    rng = np.random.default_rng(seed)
    x = random_q(rng, (257,), np.int16)
    check(_int16_sigmoid_spec(op, 2.0 ** (log2_scale + jitter), n=257), [x])


@settings(max_examples=30, deadline=None, derandomize=True)
@given(op=st.sampled_from(["RELU", "RELU6", "LEAKY_RELU", "HARD_SWISH", "TANH", "GELU"]),
       dt=st.sampled_from([np.int8, np.uint8]), seed=st.integers(0, 2**31))
def test_property_random_quantization(op, dt, seed):
    rng = np.random.default_rng(seed)
    spec = _spec(op, dt, rng, shape=(37,))
    check(spec, [random_q(rng, (37,), dt)])
