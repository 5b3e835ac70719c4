"""Quantization arithmetic: hand-checked cases and properties."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edgelite.quantize.numerics import (
    activation_params,
    dequantize,
    quantize_array,
    quantize_bias,
    sqnr_db,
    symmetric_weights,
)


def test_activation_params_by_hand():
    scale, zp = activation_params(0.0, 6.0)
    assert np.isclose(scale, 6.0 / 255) and zp == -128
    scale, zp = activation_params(-2.0, 2.0)
    assert np.isclose(scale, 4.0 / 255) and zp == 0  # -128 + 63.75 rounds to 0? no: -0.5 -> 0
    scale, zp = activation_params(1.0, 3.0)  # widened to include 0
    assert np.isclose(scale, 3.0 / 255) and zp == -128
    scale, zp = activation_params(-3.0, 1.0, bits=16)
    assert np.isclose(scale, 3.0 / 32767) and zp == 0
    scale, zp = activation_params(0.0, 0.0)
    assert scale > 0 and -128 <= zp <= 127


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e3, 0), st.floats(0, 1e3))
def test_activation_params_cover_range_and_zero(lo, hi):
    scale, zp = activation_params(lo, hi)
    assert -128 <= zp <= 127 and scale > 0
    # 0.0 is exact; the range ends are within one step of representable values.
    assert scale * (zp - zp) == 0.0
    assert scale * (-128 - zp) <= lo + scale
    assert scale * (127 - zp) >= hi - scale


def test_symmetric_weights_per_channel():
    w = np.array([[[[1.0, -2.0]]], [[[0.5, 0.25]]], [[[0.0, 0.0]]]], np.float32)  # (3, 1, 1, 2)
    q, scales = symmetric_weights(w, 0)
    np.testing.assert_allclose(scales, [2 / 127, 0.5 / 127, 1.0], rtol=1e-6)
    assert q[0].ravel().tolist() == [64, -127]
    assert q[1].ravel().tolist() == [127, 64]
    assert q[2].ravel().tolist() == [0, 0]
    q, scales = symmetric_weights(w, None)
    assert scales.shape == (1,) and np.abs(q).max() == 127


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_symmetric_weights_error_bound(c, k, seed):
    w = np.random.default_rng(seed).normal(0, 1, (c, k)).astype(np.float32)
    q, scales = symmetric_weights(w, 0)
    back = dequantize(q, scales, np.zeros(c, np.int64), 0)
    assert np.all(np.abs(back - w) <= scales[:, None] / 2 + 1e-6)
    assert q.dtype == np.int8 and q.min() >= -127


def test_bias_scale_is_input_times_weight():
    q, scales = quantize_bias(np.array([1.0, -0.5]), 0.1, np.array([0.01, 0.02]))
    np.testing.assert_allclose(scales, [0.001, 0.002], rtol=1e-6)
    assert q.tolist() == [1000, -250] and q.dtype == np.int32
    q64, _ = quantize_bias(np.array([1.0]), 0.1, np.array([0.01]), bits=64)
    assert q64.dtype == np.int64


def test_quantize_array_rounds_half_to_even_and_clips():
    q = quantize_array(np.array([0.5, 1.5, 2.5, 1000.0, -1000.0]), np.array([1.0]), np.array([0]), None, -128, 127)
    assert q.tolist() == [0, 2, 2, 127, -128]


def test_sqnr():
    a = np.ones(100)
    assert sqnr_db(a, a) == float("inf")
    assert np.isclose(sqnr_db(a, a * 1.1), 20.0)
