"""Rounding half away from zero: exact, checked against rational arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, strategies as st

from edgelite.interpreter.compute.rounding import round_half_away, round_half_away_scalar


def _exact(v: float) -> float:
    f = Fraction(v)
    a = abs(f)
    r = math.floor(a) + (1 if a - math.floor(a) >= Fraction(1, 2) else 0)
    return float(math.copysign(r, v))


def test_ties_go_away_from_zero_and_near_halves_do_not():
    v = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999999999999994, -0.49999999999999994])
    assert round_half_away(v).tolist() == [-3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 0.0, -0.0]


def test_inf_and_nan_pass_through():
    out = round_half_away(np.array([np.inf, -np.inf, np.nan]))
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2])


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_scalar_and_array_forms_are_exact(v):
    assert round_half_away_scalar(v) == _exact(v)
    assert float(round_half_away(np.array([v]))[0]) == _exact(v)


@given(st.floats(allow_nan=False, allow_infinity=False, width=32, min_value=-1e6, max_value=1e6))
def test_float32_values(v):
    assert round_half_away_scalar(float(np.float32(v))) == _exact(float(np.float32(v)))


def test_scalar_inf_and_nan_pass_through():
    assert round_half_away_scalar(float("inf")) == float("inf")
    assert round_half_away_scalar(float("-inf")) == float("-inf")
    assert math.isnan(round_half_away_scalar(float("nan")))
