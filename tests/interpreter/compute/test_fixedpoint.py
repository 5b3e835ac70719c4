"""edgelite.interpreter.compute.fixedpoint against exact Python-integer definitions.

The references below are written from the *mathematical* meaning of each operation
(round half up, round half away from zero, two's-complement wrap), not from the bit
tricks the module uses, so a wrong nudge or mask shows up here.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from edgelite.interpreter.compute import fixedpoint as fp

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
int32s = st.integers(I32_MIN, I32_MAX)
EDGES = [I32_MIN, I32_MIN + 1, -(1 << 30), -3, -2, -1, 0, 1, 2, 3, (1 << 30), I32_MAX - 1, I32_MAX]


def wrap32(v: int) -> int:
    return ((v + (1 << 31)) % (1 << 32)) - (1 << 31)


def round_half_up(fr: Fraction) -> int:
    return math.floor(fr + Fraction(1, 2))


def round_half_away(fr: Fraction) -> int:
    r = math.floor(abs(fr) + Fraction(1, 2))
    return r if fr >= 0 else -r


def ref_srdhm(a: int, b: int) -> int:
    if a == b == I32_MIN:
        return I32_MAX
    return round_half_up(Fraction(a * b, 1 << 31))


def ref_rdbpot(x: int, e: int) -> int:
    return round_half_away(Fraction(x, 1 << e))


def ref_mbqm_double(x: int, q: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return ref_rdbpot(ref_srdhm(wrap32(x * (1 << left)), q), right)


def ref_mbqm_single(x: int, q: int, shift: int) -> int:
    return wrap32(round_half_up(Fraction(x * q, 1 << (31 - shift))))


def ref_mbqm_int64(x: int, q: int, shift: int) -> int:
    reduced = (q + (1 << 15)) // (1 << 16) if q < 0x7FFF0000 else 0x7FFF
    return wrap32(round_half_up(Fraction(x * reduced, 1 << (15 - shift))))


def ref_quantize_multiplier(m: float, single: bool) -> tuple[int, int]:
    if m == 0.0:
        return 0, 0
    exact = Fraction(m)
    shift = 0
    while abs(exact) / Fraction(2) ** shift >= 1:
        shift += 1
    while abs(exact) / Fraction(2) ** shift < Fraction(1, 2):
        shift -= 1
    q = round_half_away(exact / Fraction(2) ** shift * (1 << 31))
    if q == 1 << 31:
        q, shift = q // 2, shift + 1
    if shift < -31:
        q, shift = 0, 0
    if single and shift > 30:
        q, shift = I32_MAX, 30
    return q, shift


# ---------------------------------------------------------------- hand-checked cases


def test_hand_checked_values():
    # 0.75 = 0.75 * 2^0 -> q = 0.75 * 2^31
    assert fp.quantize_multiplier(0.75) == (3 << 29, 0)
    assert fp.quantize_multiplier(1.0) == (1 << 30, 1)
    assert fp.quantize_multiplier(2.0**-40) == (0, 0)  # flushed
    # SRDHM rounds half up: 3 * 2^30 / 2^31 = 1.5 -> 2 ; -1.5 -> -1
    assert fp.saturating_rounding_doubling_high_mul(np.array([3, -3]), 1 << 30).tolist() == [2, -1]
    assert int(fp.saturating_rounding_doubling_high_mul(I32_MIN, I32_MIN)) == I32_MAX
    # RDBPOT rounds half away from zero
    assert fp.rounding_divide_by_pot(np.array([1, -1, 3, -3, 7]), np.array([1, 1, 1, 1, 2])).tolist() == [1, -1, 2, -2, 2]
    # x * 0.5 with q = 2^30, shift 0: double rounding: srdhm(5, 2^30) = 2.5 -> 3
    assert int(fp.multiply_by_quantized_multiplier(5, 1 << 30, 0, single_rounding=False)) == 3
    assert int(fp.multiply_by_quantized_multiplier(-5, 1 << 30, 0, single_rounding=False)) == -2
    assert int(fp.multiply_by_quantized_multiplier(-5, 1 << 30, 0, single_rounding=True)) == -2
    # where the two forms differ: x=-3, M=0.25 (q=2^30, shift=-1): exact -0.75
    # double: srdhm(-3, 2^30) = -1.5 -> -1, then -1/2 = -0.5 -> -1 (away from zero)
    # single: round_half_up(-0.75) = -1 ; x = -1: double -> srdhm=-0.5->0 -> 0; single: -0.25 -> 0
    assert int(fp.multiply_by_quantized_multiplier(-3, 1 << 30, -1, single_rounding=False)) == -1
    # x = 6, M = 0.125 (q=2^30, shift=-2): 0.75 -> 1 both ways; x = -6: -0.75 -> -1 both ways
    # x = 2, q = 2^30+1, shift=-2 gives 0.2500000001: both round to 0.
    # a true difference: x=-5, q=2^30, shift=-1 -> exact -1.25: double: srdhm=-2.5->-2, -2/2=-1; single -1.
    # x=5, q=3<<29 (0.75), shift=-1 -> exact 1.875: double: srdhm(5,.75)=3.75->4, 4/2=2 ; single 2
    # x=1, q=3<<29, shift=-1 -> 0.375: double: srdhm=0.75->1, 1/2=0.5->1 ; single: 0.375 -> 0
    assert int(fp.multiply_by_quantized_multiplier(1, 3 << 29, -1, single_rounding=False)) == 1
    assert int(fp.multiply_by_quantized_multiplier(1, 3 << 29, -1, single_rounding=True)) == 0


# ---------------------------------------------------------------- vectorized vs reference


def _random_int32(rng, n):
    vals = rng.integers(I32_MIN, I32_MAX, size=n, dtype=np.int64, endpoint=True)
    small = rng.integers(-70000, 70000, size=n, dtype=np.int64)
    return np.concatenate([vals, small, np.array(EDGES, dtype=np.int64)])


def test_srdhm_matches_reference_on_many_values():
    rng = np.random.default_rng(0)
    a = _random_int32(rng, 3000)
    b = np.concatenate([_random_int32(rng, 3000)[: a.size - len(EDGES)], np.array(EDGES[::-1], np.int64)])
    got = fp.saturating_rounding_doubling_high_mul(a, b)
    want = [ref_srdhm(int(x), int(y)) for x, y in zip(a, b)]
    assert got.tolist() == want
    # every edge pair
    ea = np.repeat(np.array(EDGES, np.int64), len(EDGES))
    eb = np.tile(np.array(EDGES, np.int64), len(EDGES))
    assert fp.saturating_rounding_doubling_high_mul(ea, eb).tolist() == [ref_srdhm(int(x), int(y)) for x, y in zip(ea, eb)]


def test_rdbpot_exhaustive_small_range_all_exponents():
    x = np.arange(-4096, 4097, dtype=np.int64)
    for e in range(0, 32):
        got = fp.rounding_divide_by_pot(x, e)
        assert got.tolist() == [ref_rdbpot(int(v), e) for v in x], e
    big = np.array(EDGES, dtype=np.int64)
    for e in range(0, 32):
        assert fp.rounding_divide_by_pot(big, e).tolist() == [ref_rdbpot(int(v), e) for v in big]


@pytest.mark.parametrize("single", [False, True])
def test_mbqm_matches_reference_every_shift(single):
    rng = np.random.default_rng(1 + single)
    x = np.concatenate([rng.integers(-(1 << 20), 1 << 20, 400), rng.integers(-300, 300, 200), [0, 1, -1]]).astype(np.int64)
    ref = ref_mbqm_single if single else ref_mbqm_double
    for shift in range(-31, 31 if single else 8):
        q = rng.integers(1 << 30, (1 << 31) - 1, x.size, endpoint=True)
        got = fp.multiply_by_quantized_multiplier(x, q, shift, single_rounding=single)
        want = [ref(int(a), int(b), shift) for a, b in zip(x, q)]
        assert got.tolist() == want, shift


@pytest.mark.parametrize("single", [False, True])
def test_mbqm_per_channel_broadcast(single):
    rng = np.random.default_rng(7)
    acc = rng.integers(-(1 << 22), 1 << 22, (5, 4, 6))
    reals = rng.uniform(1e-5, 0.9, 6)
    q, s = fp.quantize_multiplier_array(reals, single_rounding=single)
    got = fp.multiply_by_quantized_multiplier(acc, q, s, single_rounding=single)
    ref = ref_mbqm_single if single else ref_mbqm_double
    want = np.array([ref(int(v), int(q[i % 6]), int(s[i % 6])) for i, v in enumerate(acc.reshape(-1))]).reshape(acc.shape)
    assert np.array_equal(got, want)
    # and the result is the rounded real product (within one unit)
    assert np.all(np.abs(got - acc * reals) <= 1.0)


def test_mbqm_int64_matches_reference():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.integers(-(1 << 47), (1 << 47) - 1, 500), rng.integers(-1000, 1000, 100)])
    for shift in range(-31, 8):
        q = rng.integers(1 << 30, (1 << 31) - 1, x.size, endpoint=True)
        q[:3] = [0x7FFF0000, 0x7FFEFFFF, (1 << 31) - 1]
        got = fp.multiply_by_quantized_multiplier_int64(x, q, shift)
        assert got.tolist() == [ref_mbqm_int64(int(a), int(b), shift) for a, b in zip(x, q)]


# ---------------------------------------------------------------- quantize_multiplier


@settings(max_examples=400, deadline=None)
@given(st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False), st.booleans())
def test_quantize_multiplier_matches_exact(m, single):
    assert fp.quantize_multiplier(m, single_rounding=single) == ref_quantize_multiplier(m, single)


def test_quantize_multiplier_edges():
    nearly_one = math.nextafter(1.0, 0.0)  # f*2^31 rounds to 2^31 -> (2^30, shift+1)
    assert fp.quantize_multiplier(nearly_one) == (1 << 30, 1)
    for m in [2.0**-31, 2.0**-32, 2.0**-31.5, 2.0**31, 2.0**40, 3.0e-10, float(np.float32(0.1) * np.float32(0.02) / np.float32(0.3))]:
        for single in (False, True):
            assert fp.quantize_multiplier(m, single) == ref_quantize_multiplier(m, single)
    assert fp.quantize_multiplier(2.0**40, single_rounding=True) == (I32_MAX, 30)
    assert fp.quantize_multiplier(2.0**40, single_rounding=False) == (1 << 30, 41)


def test_quantize_multiplier_array_is_elementwise():
    reals = [0.0, 1e-3, 0.3, 1.7, 2.0**-33]
    q, s = fp.quantize_multiplier_array(reals)
    assert q.dtype == np.int32 and s.dtype == np.int32
    assert list(zip(q.tolist(), s.tolist())) == [fp.quantize_multiplier(r) for r in reals]


# ---------------------------------------------------------------- scalar (Numba) versions


@settings(max_examples=300, deadline=None)
@given(int32s, int32s)
def test_scalar_srdhm(a, b):
    assert int(fp.srdhm_scalar(a, b)) == ref_srdhm(a, b)


@settings(max_examples=300, deadline=None)
@given(int32s, st.integers(0, 31))
def test_scalar_rdbpot(x, e):
    assert int(fp.rdbpot_scalar(x, e)) == ref_rdbpot(x, e)


@settings(max_examples=400, deadline=None)
@given(st.integers(-(1 << 26), 1 << 26), st.integers(0, I32_MAX), st.integers(-31, 7), st.booleans())
def test_scalar_mbqm(x, q, shift, single):
    want = ref_mbqm_single(x, q, shift) if single else ref_mbqm_double(x, q, shift)
    assert int(fp.mbqm_scalar(x, q, shift, single)) == want
    vec = fp.multiply_by_quantized_multiplier(np.array([x]), q, shift, single_rounding=single)
    assert int(vec[0]) == want


@settings(max_examples=300, deadline=None)
@given(st.integers(-(1 << 47), (1 << 47) - 1), st.integers(0, I32_MAX), st.integers(-31, 7))
def test_scalar_mbqm_int64(x, q, shift):
    assert int(fp.mbqm_int64_scalar(x, q, shift)) == ref_mbqm_int64(x, q, shift)


def test_scalar_edges_all_pairs():
    for a in EDGES:
        for b in EDGES:
            assert int(fp.srdhm_scalar(a, b)) == ref_srdhm(a, b)
        for e in (0, 1, 2, 30, 31):
            assert int(fp.rdbpot_scalar(a, e)) == ref_rdbpot(a, e)
        for shift in (-31, -5, 0, 3):
            assert int(fp.mbqm_double_scalar(a, I32_MAX, shift)) == ref_mbqm_double(a, I32_MAX, shift)


def test_default_switch_is_used(monkeypatch):
    x = np.array([1])
    monkeypatch.setattr(fp, "SINGLE_ROUNDING", True)
    assert int(fp.multiply_by_quantized_multiplier(x, 3 << 29, -1)[0]) == 0
    monkeypatch.setattr(fp, "SINGLE_ROUNDING", False)
    assert int(fp.multiply_by_quantized_multiplier(x, 3 << 29, -1)[0]) == 1


# ---------------------------------------------------------------- the measured GEMM form


def ref_mbqm_double_up(x: int, q: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return round_half_up(Fraction(ref_srdhm(wrap32(x * (1 << left)), q), 1 << right))


def test_double_up_mode_vectorized_and_scalar():
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.integers(-(1 << 22), 1 << 22, 300), np.arange(-40, 40)]).astype(np.int64)
    for shift in range(-31, 8):
        q = rng.integers(1 << 30, (1 << 31) - 1, x.size, endpoint=True)
        got = fp.multiply_by_quantized_multiplier(x, q, shift, mode=fp.ROUND_DOUBLE_UP)
        want = [ref_mbqm_double_up(int(a), int(b), shift) for a, b in zip(x, q)]
        assert got.tolist() == want
        assert [int(fp.mbqm_scalar(int(a), int(b), shift, fp.ROUND_DOUBLE_UP)) for a, b in zip(x[:50], q[:50])] == want[:50]
    # it differs from gemmlowp's form exactly on negative ties of the second rounding:
    # x=-3, M=0.375 (q=3<<29, shift=-1): srdhm = -2.25 -> -2, then -2/2 = -1 both ways;
    # x=-1, q=3<<29, shift=-1: srdhm(-1, .75) = -0.75 -> -1, then -0.5: away -> -1, up -> 0
    assert int(fp.multiply_by_quantized_multiplier(-1, 3 << 29, -1, mode=fp.ROUND_DOUBLE)) == -1
    assert int(fp.multiply_by_quantized_multiplier(-1, 3 << 29, -1, mode=fp.ROUND_DOUBLE_UP)) == 0


def test_quantized_activation_range():
    # RELU6 on scale 0.05, zp -128: 6/0.05 = 120 -> -8
    assert fp.quantized_activation_range(3, 0.05, -128, np.int8) == (-128, -8)
    assert fp.quantized_activation_range(1, 0.1, 3, np.int8) == (3, 127)
    assert fp.quantized_activation_range(0, 0.1, 3, np.uint8) == (0, 255)
    # RELU_N1_TO_1 with scale 0.4: 1/0.4 = 2.5 -> 3 (ties away), -2.5 -> -3
    assert fp.quantized_activation_range(2, 0.4, 0, np.int8) == (-3, 3)
    assert fp.quantized_activation_range(3, 1e-4, 0, np.int16) == (0, 32767)
    with pytest.raises(Exception):
        fp.quantized_activation_range(4, 0.1, 0, np.int8)
