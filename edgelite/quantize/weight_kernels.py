"""Numba kernels for the two whole-weight passes of int8 quantization.

Quantizing a model's weights (``numerics.symmetric_weights``) and measuring their
rounding error for bias correction (``bias_correction.weight_error``) each touch every
weight once. Their numpy versions, blocked so that float64 temporaries stay in cache,
still make six passes per block; these kernels make one. They compute element for
element what the numpy versions compute (float64 division by the float64 scale, round
half to even, clip; ``float64(q) * scale - float64(w)``, no fused multiply-add: Numba
compiles without ``fastmath``), so either gives the same bits
(``tests/quantize/test_numerics_blocked.py``).

They are used only once Numba is already loaded (``numerics.weight_kernels()``: as it
is after calibrating a model large enough for the interpreter's JIT kernels): loading
it just for this would cost more than the kernels save on a small model.

Example:
    >>> import numpy as np
    >>> out = np.empty((1, 2, 3), np.int8)
    >>> x = np.array([[[0.5, -1.0, 2.0], [0.25, 0.0, -0.1]]], np.float32)
    >>> _symmetric_kernel(x, np.array([1 / 127, 0.25 / 127]), 127, out)
    >>> out.tolist()
    [[[64, -127, 127], [127, 0, -51]]]
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.compute.jit import njit


@njit
def _symmetric_kernel(x, scales, qmax, out):
    """``out[p, c, k] = clip(rint(float64(x[p, c, k]) / scales[c]), -qmax, qmax)``.

    TFLite's symmetric weight quantization (zero point 0). ``x`` must be finite and
    ``scales`` positive: ``symmetric_weights`` checks both before calling.
    """
    pre, channels, post = x.shape
    hi = np.float64(qmax)
    for p in range(pre):
        for c in range(channels):
            s = scales[c]
            for k in range(post):
                y = np.rint(np.float64(x[p, c, k]) / s)
                if y > hi:
                    y = hi
                elif y < -hi:
                    y = -hi
                out[p, c, k] = y


@njit
def _weight_error_kernel(q, scales, w, out):
    """``out[p, c, k] = float64(q[p, c, k]) * scales[c] - float64(w[p, c, k])``."""
    pre, channels, post = q.shape
    for p in range(pre):
        for c in range(channels):
            s = scales[c]
            for k in range(post):
                out[p, c, k] = np.float64(q[p, c, k]) * s - np.float64(w[p, c, k])
