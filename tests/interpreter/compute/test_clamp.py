"""The float clamp of fused activations keeps -0.0 and NaN as LiteRT's std::max / std::min do,
on every CPU: numpy's np.clip where it does (x86), masked copies elsewhere (its NEON loops
turn -0.0 into +0.0 in vector lanes: found under aarch64 emulation)."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.compute import float_gemm


def _litert_clamp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``std::min(std::max(x, lo), hi)`` element by element: max(a, b) = a < b ? b : a."""
    out = x.copy()
    for i, v in enumerate(x):
        v = np.float32(lo) if v < lo else v
        out[i] = np.float32(hi) if hi < v else v
    return out


@pytest.mark.parametrize("numpy_clip", [True, False], ids=["np.clip", "masked copies"])
@pytest.mark.parametrize("lo, hi", [(0.0, 6.0), (0.0, np.inf), (-1.0, 1.0), (-np.inf, 0.0)])
def test_clamp_keeps_negative_zero_and_nan(monkeypatch, numpy_clip, lo, hi):
    if numpy_clip and not float_gemm._clip_keeps_negative_zero():
        pytest.skip("this numpy's clip turns -0.0 into +0.0: the masked copies serve here")
    monkeypatch.setattr(float_gemm, "_CLIP_IS_LITERT", numpy_clip)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(203).astype(np.float32) * 4
    x[::7] = -0.0
    x[3::11] = 0.0
    x[5::13] = np.nan
    x[1::17] = np.inf
    x[2::19] = -np.inf
    for start in (0, 1, 3):  # vector lanes and scalar heads / tails
        got = x[start:].copy()
        float_gemm.clamp_inplace(got, lo, hi)
        want = _litert_clamp(x[start:], lo, hi)
        assert got.view(np.int32).tolist() == want.view(np.int32).tolist() or (
            np.array_equal(np.isnan(got), np.isnan(want))
            and got[~np.isnan(got)].view(np.int32).tolist() == want[~np.isnan(want)].view(np.int32).tolist())
