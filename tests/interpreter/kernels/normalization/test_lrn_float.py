"""LOCAL_RESPONSE_NORMALIZATION: a hand-checked case, then differential tests against LiteRT."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.normalization.lrn_float import lrn_reference
from tests.interpreter.kernels.oracle import compare, run_kernel

pytest.importorskip("ai_edge_litert")


def _options(radius, bias, alpha, beta):
    from edgelite.schema.fb.LocalResponseNormalizationOptions import LocalResponseNormalizationOptionsT

    o = LocalResponseNormalizationOptionsT()
    o.radius, o.bias, o.alpha, o.beta = radius, bias, alpha, beta
    return o


def test_hand_checked():
    # radius 1 over 3 channels: windows {0,1}, {0,1,2}, {1,2}; squares 1, 4, 9.
    x = np.array([1.0, 2.0, 3.0], np.float32).reshape(1, 1, 1, 3)
    (y,) = run_kernel("LOCAL_RESPONSE_NORMALIZATION", [x], options=_options(1, 1.0, 0.5, 1.0))
    expect = np.array([1 / (1 + 0.5 * 5), 2 / (1 + 0.5 * 14), 3 / (1 + 0.5 * 13)], np.float32)
    np.testing.assert_allclose(y.ravel(), expect, rtol=1e-6)


def test_reference_matches_loop():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 2, 7)).astype(np.float32)
    want = np.empty_like(x)
    for c in range(7):
        lo, hi = max(0, c - 2), min(7, c + 3)
        acc = (x[..., lo:hi].astype(np.float64) ** 2).sum(-1)
        want[..., c] = x[..., c] * (0.5 + 0.1 * acc) ** -0.75
    np.testing.assert_allclose(lrn_reference(x, 2, 0.5, 0.1, 0.75), want, rtol=1e-6)


@pytest.mark.parametrize(
    "radius,bias,alpha,beta", [(0, 1.0, 1.0, 0.5), (1, 2.0, 1e-4, 0.75), (2, 1.0, 0.2, 0.5), (20, 9.0, 4.0, 0.5)]
)
def test_matches_litert(radius, bias, alpha, beta):
    rng = np.random.default_rng(radius)
    x = rng.standard_normal((1, 4, 3, 6)).astype(np.float32)
    compare("LOCAL_RESPONSE_NORMALIZATION", [x], options=_options(radius, bias, alpha, beta), rtol=2e-6, atol=1e-6)
