"""Comparisons of quantized tensors with different parameters, against LiteRT."""

import numpy as np
import pytest

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, random_q, run_edgelite

OPS = ["EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"]


def test_rescaled_equal_by_hand():
    # 4 * 0.25 == 2 * 0.5 although the stored integers differ
    spec = Spec("EQUAL", [TSpec((2,), np.int8, (0.25, 0)), TSpec((2,), np.int8, (0.5, 0))], [TSpec((2,), np.bool_)])
    out = run_edgelite(spec, [np.array([4, 4], np.int8), np.array([2, 3], np.int8)])[0]
    assert out.tolist() == [True, False]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int16])
def test_against_litert(op, dt):
    rng = np.random.default_rng(len(op) + dt(0).itemsize)
    for same in (False, True):
        zp = (lambda: 0) if dt == np.int16 else (lambda: int(rng.integers(-30, 30)) + (128 if dt == np.uint8 else 0))
        q1 = (float(rng.uniform(0.01, 0.2)), zp())
        q2 = q1 if same else (float(rng.uniform(0.01, 0.2)), zp())
        a, b = random_q(rng, (2, 3, 4), dt), random_q(rng, (1, 3, 1), dt)
        a[0, 0, :] = b[0, 0, 0]  # some exact ties
        spec = Spec(op, [TSpec((2, 3, 4), dt, q1), TSpec((1, 3, 1), dt, q2)], [TSpec((2, 3, 4), np.bool_)])
        check(spec, [a, b])
