"""Quantized RSQRT (int8) and ABS (int8, int16) against LiteRT."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, random_q, run_edgelite, run_litert
import edgelite.interpreter.kernels.elementwise.unary_quant as uq  # noqa: F401  (registers the kernels)
from edgelite.errors import EdgeliteError
from edgelite.interpreter.kernels.elementwise.unary_quant import rsqrt_int8_table


def spec(op, shape, dt, qin, qout):
    return Spec(op, [TSpec(shape, dt, qin)], [TSpec(shape, dt, qout)], version=2)


def test_rsqrt_table_by_hand():
    # s_in 0.25: x = 4 -> 1.0 -> 1.0 = 16 units of 1/16; x = 16 -> 4.0 -> 0.5 = 8 units; x = 0 -> 127
    t = rsqrt_int8_table(0.25, 0, 1.0 / 16, 0)
    assert (int(t[128 + 4]), int(t[128 + 16]), int(t[128])) == (16, 8, 127)


def test_abs_by_hand():
    out = run_edgelite(spec("ABS", (4,), np.int8, (0.5, 2), (0.5, -1)), [np.array([2, 5, -3, -128], np.int8)])[0]
    assert out.tolist() == [-1, 2, 4, 127]  # |x - 2| - 1, clamped


def test_rsqrt_negative_input_fails_like_litert():
    s = spec("RSQRT", (3,), np.int8, (0.1, 0), (0.1, 0))
    x = np.array([1, -1, 4], np.int8)
    with pytest.raises(Exception):
        run_litert(s, [x])
    with pytest.raises(EdgeliteError):
        run_edgelite(s, [x])


def test_rsqrt_every_int8_value_against_litert():
    for qin, qout in [((0.02, -128), (0.05, -100)), ((0.5, 0), (1 / 64, -128)), ((0.001, -10), (0.3, 3))]:
        x = np.arange(qin[1], 128, dtype=np.int64).astype(np.int8).reshape(1, -1)
        check(spec("RSQRT", x.shape, np.int8, qin, qout), [x])


@pytest.mark.parametrize("dt", [np.int8, np.int16])
def test_abs_against_litert(dt):
    rng = np.random.default_rng(5)
    for same_scale in (True, False):
        zi = 0 if dt == np.int16 else int(rng.integers(-100, 100))
        zo = 0 if dt == np.int16 else int(rng.integers(-100, 100))
        si = float(rng.uniform(0.001, 0.3))
        so = si if same_scale else float(rng.uniform(0.001, 0.3))
        check(spec("ABS", (2, 3, 50), dt, (si, zi), (so, zo)), [random_q(rng, (2, 3, 50), dt)])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(op=st.sampled_from(["RSQRT", "ABS"]), si=st.floats(1e-3, 1.0), so=st.floats(1e-3, 1.0),
       zi=st.integers(-128, 127), zo=st.integers(-128, 127), n=st.integers(1, 64), seed=st.integers(0, 2**31))
def test_property_int8_matches_litert(op, si, so, zi, zo, n, seed):
    x = random_q(np.random.default_rng(seed), (n,), np.int8)
    if op == "RSQRT":
        x = np.maximum(x, zi).astype(np.int8)
    check(spec(op, (n,), np.int8, (si, zi), (so, zo)), [x])
