"""compute.dynamic_range: the fused scale / bias / clamp pass of the hybrid kernels."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.compute import dynamic_range as hc


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("lo,hi", [(-np.inf, np.inf), (0.0, 6.0), (-1.0, 1.0)])
def test_scale_bias_act_equals_scale_int32_then_float_epilogue(per_channel, bias, lo, hi):
    rng = np.random.default_rng(1)
    acc = rng.integers(-(2**31), 2**31 - 1, (9, 13), endpoint=True).astype(np.int32)
    acc[0, :3] = (0, -(2**31), 2**31 - 1)
    row = np.array([np.float32(3.7e-5)], np.float32)
    col = rng.uniform(1e-3, 2e-2, 13).astype(np.float32) if per_channel else None
    b = rng.standard_normal(13).astype(np.float32) if bias else None
    want = np.empty(acc.shape, np.float32)
    hc.scale_int32(acc, row, col, want)
    hc.float_epilogue(want, b, lo, hi)
    got = np.empty(acc.shape, np.float32)
    hc.scale_bias_act(acc, row, col, b, lo, hi, got)
    np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32))
