"""QUANTIZE / DEQUANTIZE (activations) against LiteRT, bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, random_q, run_edgelite

I8, U8, I16 = np.int8, np.uint8, np.int16


def _zp(rng, dt):
    return 0 if dt == I16 else int(rng.integers(-30, 30)) + (128 if dt == U8 else 0)


def test_quantize_by_hand():
    spec = Spec("QUANTIZE", [TSpec((5,), np.float32)], [TSpec((5,), I8, (0.5, 1))])
    out = run_edgelite(spec, [np.array([0.0, 0.25, 0.75, 100.0, -1.0], np.float32)])[0]
    # fewer than 8 elements: LiteRT's scalar loop, round half away from zero:
    # x / 0.5 = 0, 0.5, 1.5, 200, -2 -> 0, 1, 2, clamp, -2; + 1
    assert out.tolist() == [1, 2, 3, 127, -1]


def test_quantize_vector_part_rounds_half_to_even_by_hand():
    spec = Spec("QUANTIZE", [TSpec((8,), np.float32)], [TSpec((8,), I8, (0.5, 0))])
    x = np.array([0.25, 0.75, 1.25, -0.25, -0.75, 0, 1, 2], np.float32)  # 0.5 1.5 2.5 -0.5 -1.5 0 2 4
    assert run_edgelite(spec, [x])[0].tolist() == [0, 2, 2, 0, -2, 0, 2, 4]


def test_dequantize_by_hand():
    spec = Spec("DEQUANTIZE", [TSpec((3,), U8, (0.5, 128))], [TSpec((3,), np.float32)])
    assert run_edgelite(spec, [np.array([128, 130, 0], U8)])[0].tolist() == [0.0, 1.0, -64.0]


@pytest.mark.parametrize("dt", [I8, U8, I16])
@pytest.mark.parametrize("n", [7, 16, 77, 150, 1000])
def test_float_quantize_and_dequantize_against_litert(dt, n):
    rng = np.random.default_rng(n)
    for _ in range(3):
        q = (float(rng.uniform(0.001, 0.2)), _zp(rng, dt))
        x = (rng.standard_normal(n) * q[0] * 60).astype(np.float32)
        x[: n // 4] = ((rng.integers(-60, 60, n // 4) + 0.5) * np.float32(q[0])).astype(np.float32)  # near ties
        check(Spec("QUANTIZE", [TSpec((n,), np.float32)], [TSpec((n,), dt, q)]), [x])
        check(Spec("DEQUANTIZE", [TSpec((n,), dt, q)], [TSpec((n,), np.float32)]), [random_q(rng, (n,), dt)])


@pytest.mark.parametrize("pair", [(I8, I8), (I8, U8), (U8, I8), (U8, U8), (I16, I8), (I16, I16)])
@pytest.mark.parametrize("n", [5, 48, 150])
def test_requantize_against_litert(pair, n):
    a, b = pair
    rng = np.random.default_rng(n + 3 * a(0).itemsize + b(0).itemsize)
    for _ in range(6):  # ratios above and below 1/2 (the half-up vector path shows below)
        qa = (float(rng.uniform(0.001, 0.2)), _zp(rng, a))
        qb = (float(rng.uniform(0.001, 0.2)), _zp(rng, b))
        check(Spec("QUANTIZE", [TSpec((n,), a, qa)], [TSpec((n,), b, qb)]), [random_q(rng, (n,), a)])


def test_per_channel_quantize_against_litert():
    rng = np.random.default_rng(9)
    scales = rng.uniform(0.01, 0.1, 4)
    zps = rng.integers(-5, 5, 4)
    x = (rng.standard_normal((3, 4)) * 3).astype(np.float32)
    check(Spec("QUANTIZE", [TSpec((3, 4), np.float32)], [TSpec((3, 4), I8, (scales, zps, 1))]), [x])


@settings(max_examples=30, deadline=None, derandomize=True)
@given(n=st.integers(1, 70), s_in=st.floats(0.001, 1.0), s_out=st.floats(0.001, 1.0),
       z_in=st.integers(-128, 127), z_out=st.integers(-128, 127), seed=st.integers(0, 2**31))
def test_property_int8_requantize(n, s_in, s_out, z_in, z_out, seed):
    rng = np.random.default_rng(seed)
    check(Spec("QUANTIZE", [TSpec((n,), I8, (s_in, z_in))], [TSpec((n,), I8, (s_out, z_out))]),
          [random_q(rng, (n,), I8)])


@pytest.mark.parametrize("dt", [I8, U8, I16])
@pytest.mark.parametrize("n", [16, 7, 23])
def test_quantize_non_finite_and_out_of_int32_like_litert(dt, n):
    # x86's float -> int32 conversion gives INT32_MIN for NaN and out-of-range
    # values, and the zero point is added in int32: inf can land on either end
    vals = np.array([np.inf, -np.inf, np.nan, 1e30, -1e30, 3e9, -3e9, 1.0e8, -107374182.4, 0.0, 1.0, -1.0],
                    np.float32)
    rng = np.random.default_rng(n)
    x = rng.choice(vals, n).astype(np.float32)
    for zp in ([-5, 7] if dt == I8 else [0] if dt == I16 else [0, 200]):
        spec = Spec("QUANTIZE", [TSpec((n,), np.float32)], [TSpec((n,), dt, (0.05, zp))])
        check(spec, [x])



@pytest.mark.parametrize("dt", [I8, U8, I16])
@pytest.mark.parametrize("n", [0, 1, 7, 8, 10, 77, 1000])
def test_dequantize_jit_is_bit_identical_to_reference(dt, n):
    from edgelite.interpreter.kernels.quantization.dequantize import ActivationDequantizeParams, DequantizeActivation

    rng = np.random.default_rng(n + dt(0).itemsize)
    k = DequantizeActivation()
    for _ in range(5):
        p = ActivationDequantizeParams(float(rng.uniform(1e-4, 0.3)), _zp(rng, dt))
        q = random_q(rng, (1, n), dt)
        ref, jit = np.empty((1, n), np.float32), np.empty((1, n), np.float32)
        k.eval(p, [q], [ref])
        k.eval_jit(p, [q], [jit])
        np.testing.assert_array_equal(jit.view(np.uint32), ref.view(np.uint32))
