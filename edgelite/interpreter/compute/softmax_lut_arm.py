"""8-bit SOFTMAX as LiteRT's aarch64 builds compute it (``SoftmaxInt8LUT``).

LiteRT compiled for aarch64 with clang defines ``TFLITE_SOFTMAX_USE_UINT16_LUT``: its
int8 -> int8 and uint8 -> uint8 SOFTMAX then run ``optimized_ops::SoftmaxInt8LUT``
instead of the float-table ``optimized_ops::Softmax`` of x86 builds, and the outputs
differ by one step on about 0.1-0.2% of elements (measured on ai-edge-litert 2.3's
aarch64 wheel under qemu). The LUT form, in integers after the table:

* a 256-entry uint16 table: ``t[v] = min(65535, (int)(float32(expf(float32(in_scale *
  beta) * (v - 255)) * 65535) + 0.5))``;
* per row, on the inputs read as uint8 (int8 ``x`` becomes ``x + 128``): ``e_j =
  t[u_j + 255 - max(u)]``, ``sum = sum_j e_j`` (integer);
* ``inv = 1.0f / (float32(sum) * out_scale)`` in float32, turned into a quantized
  multiplier ``(q, shift)`` as every LiteRT multiplier is;
* ``out_j = clamp(MultiplyByQuantizedMultiplier(e_j, q, shift) + out_zp)``: the NEON
  ``vqrdmulh`` + ``vrshl`` form (``fixedpoint.ROUND_DOUBLE_UP``; ``e_j >= 0``, so it
  equals gemmlowp's form that LiteRT's scalar tail uses).

``platform_rounding`` decides when this form is used (on ARM, or with
``EDGELITE_INT8_ROUNDING=arm``).

Example:
    >>> import numpy as np
    >>> t = uint16_exp_table(0.1, 1.0)
    >>> int(t[255]), int(t[254])  # exp(0) and exp(-0.1), scaled by 65535
    (65535, 59299)
    >>> out = np.empty((1, 3), np.int8)
    >>> softmax_rows(np.array([[10, 0, -10]], np.int8), t, 1 / 256, -128, -128, 127, out)
    >>> out.tolist()
    [[42, -65, -105]]
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute import lut
from edgelite.interpreter.compute.rounding import round_half_away

f32 = np.float32


def uint16_exp_table(input_scale: float, beta: float) -> np.ndarray:
    """``PopulateSoftmaxUInt8LookupTable``: the 256 uint16 exponentials (as int64)."""
    scale = f32(f32(input_scale) * f32(beta))
    table = np.empty(256, np.int64)
    for v in range(256):
        e = lut.expf(f32(scale * f32(v - 255)))
        table[v] = min(65535, int(float(f32(e * f32(65535))) + 0.5))
    return table


def _quantize_multipliers(reals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``fixedpoint.quantize_multiplier`` over positive float64 values, vectorized."""
    frac, shift = np.frexp(reals)
    q = round_half_away(frac * float(1 << 31)).astype(np.int64)
    full = q == (1 << 31)
    q = np.where(full, q // 2, q)
    shift = shift.astype(np.int64) + full
    tiny = shift < -31
    return np.where(tiny, 0, q), np.where(tiny, 0, shift)


def softmax_rows(x: np.ndarray, table: np.ndarray, out_scale: float, out_zp: int, lo: int, hi: int,
                 out: np.ndarray) -> None:
    """``SoftmaxInt8LUT`` over the rows of 2-D ``x`` (int8 or uint8), written into ``out``."""
    u = x.astype(np.int64) + (128 if x.dtype == np.int8 else 0)
    e = table[u + (255 - u.max(axis=1, keepdims=True))]
    total = e.sum(axis=1)
    inv = f32(1.0) / (total.astype(np.float32) * f32(out_scale))
    q, shift = _quantize_multipliers(inv.astype(np.float64))
    scaled = fp.multiply_by_quantized_multiplier(e, q[:, None], shift[:, None], mode=fp.ROUND_DOUBLE_UP)
    out[...] = np.clip(scaled + out_zp, lo, hi)


__all__ = ["uint16_exp_table", "softmax_rows"]
