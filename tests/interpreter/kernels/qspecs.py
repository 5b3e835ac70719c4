"""Random single-operator specs for the quantized conv-like kernels' tests.

Built on ``quant_harness`` (``Spec``/``TSpec``); each builder takes a numpy
``Generator`` and the geometry, draws scales and zero points, and returns
``(spec, feeds)``.
"""

from __future__ import annotations

import numpy as np

from tests.interpreter.kernels.quant_harness import Spec, TSpec  # noqa: F401  (re-exported for the tests)

from edgelite.interpreter.compute.conv_geometry import window_geometry


def act_quant(rng, dtype):
    """(scale, zero_point) for an activation of ``dtype`` (int16: zero point 0)."""
    info = np.iinfo(dtype)
    zp = 0 if np.dtype(dtype) == np.int16 else int(rng.integers(info.min, info.max + 1))
    return np.float32(rng.uniform(0.005, 0.2)), zp


def weights(rng, shape, wdtype, channels: int, axis: int, per_channel: bool):
    """Weights and their quant spec: int8 symmetric (per channel on ``axis``) or uint8 asymmetric."""
    if np.dtype(wdtype) == np.uint8:
        w = rng.integers(0, 256, shape).astype(np.uint8)
        return w, (np.float32(rng.uniform(0.001, 0.03)), int(rng.integers(0, 256)))
    w = rng.integers(-127, 128, shape).astype(np.int8)
    n = channels if per_channel else 1
    scales = rng.uniform(0.0005, 0.03, n).astype(np.float32)
    return w, (scales, np.zeros(n, np.int64), axis)


def bias_for(rng, x_scale, wq, channels: int, bdtype, span: int = 30000):
    scales = (np.float32(x_scale) * np.atleast_1d(np.asarray(wq[0], np.float32))).astype(np.float32)
    b = rng.integers(-span, span, channels).astype(bdtype)
    return TSpec((channels,), bdtype, (scales, np.zeros(scales.size, np.int64), 0), b, True)


def random_input(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def out_hw(h, w, kh, kw, sh, sw, dh, dw, pad):
    return window_geometry(h, kh, sh, dh, pad).out_size, window_geometry(w, kw, sw, dw, pad).out_size
