"""Observers: hand-checked ranges, outlier handling, and the order between them."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import QuantizationError
from edgelite.quantize.observers import make_observer


def _fill(kind, batches, **kw):
    obs = make_observer(kind, **kw)
    for b in batches:
        obs.observe(b)
    if obs.needs_histogram:
        for b in batches:
            obs.observe_histogram(b)
    return obs.range()


def test_minmax_by_hand():
    assert _fill("minmax", [np.array([1.0, 2.0]), np.array([-3.0, 0.5])]) == (-3.0, 2.0)


def test_moving_average_by_hand():
    batches = [np.array([0.0, 10.0]), np.array([-2.0, 20.0]), np.array([0.0, 40.0])]
    # constant 0.5: mean of the first two (weights 1, 1/2), then 0.5 per sample.
    lo, hi = _fill("moving_average", batches, moving_average_constant=0.5)
    assert (lo, hi) == (-0.5, 27.5)
    # constant 0.01: the plain mean of all three.
    lo, hi = _fill("moving_average", batches, moving_average_constant=0.01)
    assert lo == pytest.approx(-2 / 3) and hi == pytest.approx(70 / 3)


def test_nonfinite_values_ignored():
    assert _fill("minmax", [np.array([np.inf, 1.0, -2.0, np.nan])]) == (-2.0, 1.0)


def test_empty_observer_raises():
    with pytest.raises(QuantizationError):
        make_observer("minmax").range()
    with pytest.raises(QuantizationError):
        make_observer("fancy")


@pytest.fixture(scope="module")
def outlier_data():
    rng = np.random.default_rng(0)
    batches = [rng.normal(0, 1, 4096).astype(np.float32) for _ in range(8)]
    batches[3][7] = 60.0  # one outlier
    return batches


# (MSE keeps a lone outlier on purpose: clipping it would cost more squared error
# than the coarser steps do; test_mse_observer_lowers_error_on_heavy_tails covers it.)
@pytest.mark.parametrize("kind", ["percentile", "entropy"])
def test_histogram_observers_clip_outliers(outlier_data, kind):
    lo, hi = _fill(kind, outlier_data)
    full_lo, full_hi = _fill("minmax", outlier_data)
    assert full_hi == pytest.approx(60.0)
    assert hi < 20.0, (kind, lo, hi)  # the outlier is clipped
    assert hi > 2.0 and lo < -2.0  # the body of the distribution is kept
    assert full_lo <= lo


def test_percentile_by_hand():
    x = np.arange(10000, dtype=np.float32)  # uniform 0..9999
    lo, hi = _fill("percentile", [x], percentile=99.0, num_bins=1000)
    assert lo == 0.0
    assert hi == pytest.approx(9900, rel=0.01)


def test_nonnegative_data_keeps_zero_low_end():
    x = np.abs(np.random.default_rng(1).normal(0, 1, 10000)).astype(np.float32)
    for kind in ("percentile", "entropy", "mse"):
        lo, hi = _fill(kind, [x])
        assert lo >= 0.0 and hi > 1.0


@pytest.mark.parametrize("kind", ["minmax", "moving_average", "percentile", "entropy", "mse"])
def test_deterministic(outlier_data, kind):
    assert _fill(kind, outlier_data) == _fill(kind, outlier_data)


def test_mse_observer_lowers_error_on_heavy_tails():
    """On Laplace data the MSE range quantizes with less error than min/max.

    (KL entropy keeps nearly the whole range here: the sparse tail costs it little KL.)
    """
    from edgelite.quantize.numerics import activation_params, dequantize, quantize_array

    x = np.random.default_rng(2).laplace(0, 1, 200000).astype(np.float32)

    def err(lo, hi):
        s, zp = activation_params(lo, hi)
        q = quantize_array(x, np.array([s]), np.array([zp]), None, -128, 127)
        return float(np.mean((dequantize(q, np.array([s]), np.array([zp])) - x) ** 2))

    assert err(*_fill("mse", [x])) < err(*_fill("minmax", [x]))
