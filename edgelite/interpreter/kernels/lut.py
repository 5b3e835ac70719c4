"""Lookup tables of the 8-bit quantized activation kernels (LiteRT ``LUTPopulate``).

An 8-bit input has only 256 possible values, so LiteRT evaluates LOGISTIC, TANH,
ELU and GELU on int8/uint8 tensors by tabulating the float function once in
``prepare`` and indexing the table with the raw byte in ``eval``. The table is
filled exactly as LiteRT fills it, in float32:

    dequantized = in_scale * (q - in_zp)            (float32)
    transformed = f(dequantized)                    (float32 function)
    out = clamp((int) (round(transformed * (1 / out_scale)) + out_zp))

``round`` is C's half-away-from-zero. The float32 transcendental functions are
computed in double and rounded to float32, which is what a correctly rounded libm
gives (glibc's ``expf``/``tanhf``/``erfcf`` are within a hair of that); the tests
compare every table against LiteRT.

The 256 entries are indexed by the input's bit pattern (``x.view(uint8)``), so one
``np.take`` maps any int8 or uint8 tensor.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.lut import populate_lut_8bit, logistic_f32, apply_lut_8bit
    >>> table = populate_lut_8bit(logistic_f32, 0.1, 0, 1 / 256, -128, np.int8)
    >>> out = np.empty(3, np.int8)
    >>> apply_lut_8bit(table, np.array([-128, 0, 127], np.int8), out)
    >>> out.tolist()
    [-128, 0, 127]
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

f32 = np.float32


def _f32_of(fn: Callable[[float], float]) -> Callable[[np.float32], np.float32]:
    """A float32 function from a double one: the double result rounded to float32."""

    def g(x: np.float32) -> np.float32:
        return f32(fn(float(x)))

    return g


expf = _f32_of(math.exp)
tanhf = _f32_of(math.tanh)
expm1f = _f32_of(math.expm1)
erfcf = _f32_of(math.erfc)


def logistic_f32(x: np.float32) -> np.float32:
    """``1.0f / (1.0f + std::exp(-x))`` in float32 steps."""
    return f32(1.0) / (f32(1.0) + expf(-x))


def tanh_f32(x: np.float32) -> np.float32:
    return tanhf(x)


def elu_f32(x: np.float32) -> np.float32:
    """ELU with alpha 1: ``x < 0 ? expm1(x) : x``."""
    return expm1f(x) if x < 0 else x


_SQRT1_2_F = f32(-math.sqrt(0.5))  # static_cast<float>(-M_SQRT1_2)
_SQRT_2_OVER_PI_F = f32((2.0 / math.sqrt(math.pi)) * math.sqrt(0.5))  # float(M_2_SQRTPI * M_SQRT1_2)


def gelu_f32(x: np.float32) -> np.float32:
    """Exact GELU as LiteRT tabulates it: ``0.5f * x * erfc(x * -M_SQRT1_2)``."""
    return (f32(0.5) * x) * erfcf(x * _SQRT1_2_F)


def gelu_approx_f32(x: np.float32) -> np.float32:
    """tanh-approximated GELU: ``0.5f*x*(1 + tanh(sqrt(2/pi) * (x + 0.044715f*x*x*x)))``."""
    inner = x + ((f32(0.044715) * x) * x) * x
    return (f32(0.5) * x) * (f32(1.0) + tanhf(_SQRT_2_OVER_PI_F * inner))


def _round_half_away(v: np.float32) -> np.float32:
    return f32(math.copysign(math.floor(abs(float(v)) + 0.5), float(v)))


def populate_lut_8bit(
    transform: Callable[[np.float32], np.float32],
    in_scale: float,
    in_zp: int,
    out_scale: float,
    out_zp: int,
    dtype,
) -> np.ndarray:
    """The 256-entry table of ``transform`` for an int8 or uint8 tensor.

    Args:
        transform: float32 -> float32 function (``logistic_f32``, ``tanh_f32``...).
        in_scale, in_zp: the input's quantization.
        out_scale, out_zp: the output's quantization.
        dtype: ``np.int8`` or ``np.uint8`` (input and output share it).

    Returns:
        A ``dtype`` array of 256 entries, indexed by the input's bit pattern.
    """
    dtype = np.dtype(dtype)
    info = np.iinfo(dtype)
    table = np.zeros(256, dtype=dtype)
    inverse_scale = f32(1.0) / f32(out_scale)
    s_in = f32(in_scale)
    for val in range(int(info.min), int(info.max) + 1):
        dequantized = s_in * f32(val - in_zp)
        transformed = f32(transform(dequantized))
        rescaled = _round_half_away(transformed * inverse_scale)
        if not np.isfinite(rescaled):
            quantized = info.max if rescaled > 0 else info.min
        else:
            quantized = int(f32(rescaled + f32(out_zp)))
        table[val & 0xFF] = min(max(quantized, int(info.min)), int(info.max))
    return table


def apply_lut_8bit(table: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = table[byte(x[i])]`` for int8/uint8 ``x`` (no allocation)."""
    np.take(table, x.view(np.uint8), out=out, mode="clip")  # "clip": no index-check buffer
