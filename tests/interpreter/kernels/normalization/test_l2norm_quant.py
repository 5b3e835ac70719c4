"""Quantized L2_NORMALIZATION (int8, uint8) and its fixed-point inverse square root."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, make_context, random_q, run_edgelite
import edgelite.interpreter.kernels.normalization.l2norm_quant as l2q  # noqa: F401  (registers the kernel)
from edgelite.errors import ShapeError
from edgelite.interpreter.compute.gemmlowp import inv_sqrt_quantized_multiplier_exp, saturating_rounding_multiply_by_pot
from edgelite.interpreter.kernels.base import select_kernel
from edgelite.schema.fb.L2NormOptions import L2NormOptionsT


def l2_spec(shape, dt, zp, qout=None, act=0):
    o = L2NormOptionsT()
    o.fusedActivationFunction = act
    qo = qout or (1 / 128, 128 if dt == np.uint8 else 0)
    return Spec("L2_NORMALIZATION", [TSpec(shape, dt, (0.05, zp))], [TSpec(shape, dt, qo)], o, version=2)


def test_inv_sqrt_close_to_the_real_value():
    v = np.array([2, 3, 25, 1000, 65025, 1 << 28, (1 << 29) + 5, (1 << 31) - 1])
    q, shift = inv_sqrt_quantized_multiplier_exp(v, reverse_shift=-1)
    approx = q.astype(np.float64) * np.exp2(shift.astype(np.float64) - 31)
    np.testing.assert_allclose(approx, 1 / np.sqrt(v), rtol=2e-6)


def test_inv_sqrt_of_zero_and_one_is_the_largest_multiplier():
    q, shift = inv_sqrt_quantized_multiplier_exp(np.array([0, 1]), reverse_shift=-1)
    assert q.tolist() == [2**31 - 1, 2**31 - 1] and shift.tolist() == [0, 0]


def test_saturating_multiply_by_pot():
    assert saturating_rounding_multiply_by_pot(np.array([3, -3, 1 << 28, -(1 << 28) - 1]), 3).tolist() == [
        24, -24, 2**31 - 1, -(2**31)]
    assert saturating_rounding_multiply_by_pot(np.array([5, -5]), -1).tolist() == [3, -3]


def test_hand_case_3_4_5_triangle():
    # (3, 4) / 5 = (0.6, 0.8) -> 76.8, 102.4 in units of 1/128 -> 77, 102
    out = run_edgelite(l2_spec((1, 2), np.int8, 0), [np.array([[3, 4]], np.int8)])[0]
    assert out.tolist() == [[77, 102]]
    out = run_edgelite(l2_spec((1, 2), np.uint8, 128), [np.array([[131, 124]], np.uint8)])[0]
    assert out.tolist() == [[128 + 77, 128 - 102]]


def test_zero_row_gives_zero_point():
    out = run_edgelite(l2_spec((2, 3), np.int8, -5), [np.full((2, 3), -5, np.int8)])[0]
    assert (out == 0).all()


@pytest.mark.parametrize("dt", [np.int8, np.uint8])
def test_against_litert(dt):
    rng = np.random.default_rng(3)
    for shape in [(1, 8), (4, 3, 16), (2, 2, 2, 5), (7,), (3, 1)]:
        zp = int(rng.integers(-20, 20)) + (128 if dt == np.uint8 else 0)
        x = random_q(rng, shape, dt)
        check(l2_spec(shape, dt, zp), [x])
        check(l2_spec(shape, dt, zp), [np.full(shape, zp, dt)])  # all-zero rows


def test_rejects_wrong_output_quantization_and_activation():
    with pytest.raises(ShapeError):
        ctx = make_context(l2_spec((1, 4), np.int8, 0, qout=(1 / 256, 0)))
        select_kernel(ctx).prepare(ctx)
    with pytest.raises(ShapeError):
        ctx = make_context(l2_spec((1, 4), np.int8, 0, act=1))
        select_kernel(ctx).prepare(ctx)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(dt=st.sampled_from([np.int8, np.uint8]), shape=st.lists(st.integers(1, 40), min_size=1, max_size=3),
       zp=st.integers(-128, 127), spread=st.integers(1, 128), seed=st.integers(0, 2**31))
def test_property_matches_litert(dt, shape, zp, spread, seed):
    if dt == np.uint8:
        zp += 128
    info = np.iinfo(dt)
    rng = np.random.default_rng(seed)
    x = np.clip(zp + rng.integers(-spread, spread + 1, size=shape), info.min, info.max).astype(dt)
    check(l2_spec(tuple(shape), dt, zp), [x])
