"""int8 EXP (a LiteRT ``LUTPopulate`` table) against LiteRT, bit for bit, reference and
Numba kernels; the worked example of docs/architecture.md's "adding an operator"."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.compute.lut import expf
from edgelite.interpreter.kernels.base import kernels_for
from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, random_q, run_edgelite

ALL_INT8 = np.arange(-128, 128).astype(np.int8)


def _spec(s_in, zp_in, s_out, zp_out, n=256):
    return Spec("EXP", [TSpec((n,), np.int8, (s_in, zp_in))], [TSpec((n,), np.int8, (s_out, zp_out))])


def test_exp_by_hand():
    # x = 0 (at the zero point) -> exp(0) = 1 -> 10 steps of 0.1 above zp -20 = -10
    spec = _spec(0.05, 3, 0.1, -20, n=3)
    out = run_edgelite(spec, [np.array([3, -128, 127], np.int8)])[0]
    assert out[0] == -10
    assert out[1] == -20  # exp(-6.55) = 0.0014 rounds to 0 steps
    assert out[2] == 127  # exp(6.2) = 493 saturates


def test_the_int8_kernel_comes_before_the_float_one():
    assert [type(k).__name__ for k in kernels_for("EXP")] == ["QuantizedExp", "Unary"]


def test_expf_overflows_to_inf_like_c():
    assert expf(np.float32(100.0)) == np.inf and expf(np.float32(-200.0)) == 0.0
    assert expf(np.float32(1.0)) == np.float32(np.e)


@pytest.mark.parametrize("s_in, zp_in, s_out, zp_out", [
    (0.05, 0, 0.1, -128),      # typical: output covers [0, 25]
    (0.02, -30, 0.01, -100),
    (0.1, 10, 0.5, -128),
    (1.0, 0, 1e30, -128),      # huge inputs: expf overflows to inf, saturates
    (0.25, 127, 1 / 256, -128),
])
def test_every_int8_input_against_litert(s_in, zp_in, s_out, zp_out):
    check(_spec(s_in, zp_in, s_out, zp_out), [ALL_INT8])


def test_random_scales_against_litert():
    rng = np.random.default_rng(11)
    for _ in range(6):
        spec = Spec("EXP", [TSpec((2, 3, 5), np.int8, (float(rng.uniform(0.005, 0.1)), int(rng.integers(-60, 60))))],
                    [TSpec((2, 3, 5), np.int8, (float(rng.uniform(0.01, 0.5)), int(rng.integers(-128, -60))))])
        check(spec, [random_q(rng, (2, 3, 5), np.int8)])
