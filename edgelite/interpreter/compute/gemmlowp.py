"""gemmlowp's fixed-point building blocks that LiteRT's integer kernels use, bit for bit.

A gemmlowp ``FixedPoint<int32, I>`` is an int32 raw value ``r`` meaning ``r * 2**(I -
31)`` (``I`` integer bits). Multiplying two of them is ``SaturatingRoundingDoublingHighMul``
on the raws (the integer bits add up), adding or subtracting works on the raws
(wrapping), and ``Rescale`` / ``SaturatingRoundingMultiplyByPOT`` shift with saturation
(left) or rounding (right). Everything here is vectorized over numpy int64 arrays that
hold int32 values; the basic operations come from :mod:`edgelite.interpreter.compute.fixedpoint`.

Functions:

* :func:`saturating_rounding_multiply_by_pot`: ``x * 2**e`` (saturating) or ``x / 2**-e``
  (rounding half away from zero).
* :func:`inv_sqrt_quantized_multiplier_exp`: LiteRT's ``GetInvSqrtQuantizedMultiplierExp``
  (five Newton-Raphson steps in Q3.28), used by the quantized L2_NORMALIZATION.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute.gemmlowp import inv_sqrt_quantized_multiplier_exp
    >>> q, shift = inv_sqrt_quantized_multiplier_exp(np.array([4, 1 << 20]), reverse_shift=-1)
    >>> (q.tolist(), shift.tolist())  # 1/sqrt(v) ~= q * 2**(shift - 31): 0.5, 2**-10
    ([1073741828, 268435457], [0, -7])
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.compute import fixedpoint as fp

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def saturating_rounding_multiply_by_pot(x, exponent: int) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingMultiplyByPOT<exponent>`` on int32 raws.

    A positive exponent shifts left and saturates to the int32 range (values above
    ``2**(31 - e) - 1`` in magnitude); a negative one is ``RoundingDivideByPOT``.
    """
    x = np.asarray(x, dtype=np.int64)
    if exponent <= 0:
        return fp.rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    shifted = fp._wrap_int32(x << exponent)
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted))


def _mul(a, b) -> np.ndarray:
    """Product of two fixed-point raws (integer bits add up)."""
    return fp.saturating_rounding_doubling_high_mul(a, b)


def inv_sqrt_quantized_multiplier_exp(value, reverse_shift: int) -> tuple[np.ndarray, np.ndarray]:
    """LiteRT's ``GetInvSqrtQuantizedMultiplierExp`` for int32 ``value >= 0`` (vectorized).

    Returns ``(multiplier, shift)`` with ``1 / sqrt(value) ~= multiplier * 2**(s - 31)``,
    ``s`` being ``shift * reverse_shift``. Inputs 0 and 1 give ``(INT32_MAX, 0)``.
    The input is normalized into [2**27, 2**29) by pairs of bits (the right shift, kept
    as ``11`` plus the pairs removed), read as Q3.28 and halved, and ``x = 1`` takes five
    steps ``x = 1.5 x - (v / 2) x**3`` in Q3.28, then ``x * sqrt(2) / 2`` (Q0.31 constant
    1518500250); a negative right shift is folded into the multiplier.
    """
    v = np.asarray(value, dtype=np.int64)
    small = v <= 1
    v = np.where(small, 2, v)  # placeholder for the special case, replaced at the end
    shift = np.full(v.shape, 11, dtype=np.int64)
    big = v >= (1 << 29)  # an int32 needs at most one division by 4 to get below 2**29
    v = np.where(big, v // 4, v)
    shift = shift + big
    clz = 32 - _bit_length(v)
    left_pairs = (clz - 1) // 2 - 1
    shift = shift - left_pairs
    v = v << (2 * left_pairs)
    half_input = fp.rounding_divide_by_pot(v >> 1, 1)
    half_three = (1 << 28) + (1 << 27)  # 1.5 in Q3.28
    x = np.full(v.shape, 1 << 28, dtype=np.int64)  # 1.0 in Q3.28
    for _ in range(5):
        x3 = saturating_rounding_multiply_by_pot(_mul(_mul(x, x), x), 6)  # Q9 -> Q3
        x = saturating_rounding_multiply_by_pot(fp._wrap_int32(_mul(half_three, x) - _mul(half_input, x3)), 3)
    x = _mul(x, 1518500250)  # sqrt(2) / 2 in Q0.31
    neg = shift < 0
    x = np.where(neg, fp._wrap_int32(x << np.where(neg, -shift, 0)), x)
    shift = np.where(neg, 0, shift)
    mult = np.where(small, INT32_MAX, x)
    shift = np.where(small, 0, shift * reverse_shift)
    return mult, shift


def _bit_length(v: np.ndarray) -> np.ndarray:
    """Bit length of positive int64 values below 2**31 (exact, no float rounding)."""
    out = np.zeros(v.shape, dtype=np.int64)
    w = v.copy()
    for step in (16, 8, 4, 2, 1):
        hi = w >= (1 << step)
        out = out + np.where(hi, step, 0)
        w = np.where(hi, w >> step, w)
    return out + (w > 0)
