"""Fixed-point arithmetic of LiteRT's integer kernels, bit for bit.

Quantized kernels rescale an int32 accumulator by a real factor ``M`` (for a conv,
``input_scale * weight_scale / output_scale``) without floating point: ``M`` is
stored as an int32 *quantized multiplier* ``q`` in Q0.31 and a power-of-two
``shift`` so that ``M ~= q * 2**(shift - 31)``, and the product is rounded in
integer arithmetic. The order of the roundings decides the last bit, so every
kernel here goes through these functions.

Two forms of ``MultiplyByQuantizedMultiplier`` exist in LiteRT's sources:

* *double rounding* (gemmlowp, LiteRT's default build): shift left by
  ``max(shift, 0)``, ``SaturatingRoundingDoublingHighMul`` (round half up), then
  ``RoundingDivideByPOT`` by ``max(-shift, 0)`` (round half away from zero);
* *single rounding* (``TFLITE_SINGLE_ROUNDING=1``): ``(x * q + 2**(30 - shift)) >>
  (31 - shift)`` in 64 bits, one round-half-up.

``SINGLE_ROUNDING`` below picks the form used when a caller does not say. The
``ai-edge-litert`` 2.3 wheel is a double-rounding build: on exact-tie tests (power of
two scales) its conv and depthwise kernels disagree with the single-rounding form, so
the default is False.

A third form, :data:`ROUND_DOUBLE_UP`, is what that wheel's optimized x86 int8
kernels were *measured* to compute (CONV_2D through its GEMM backend, and
DEPTHWISE_CONV_2D; the kernel tests pin it with tie-heavy cases):
``SaturatingRoundingDoublingHighMul`` as above, then a right shift that rounds ties
toward +infinity (``(v + 2**(e-1)) >> e``) instead of away from zero. It differs from
gemmlowp's form only on negative exact ties of the second step. Kernels name the
form they follow with a ``ROUND_*`` code; :func:`gemm_mode` gives the measured one.

Each operation exists twice: vectorized over numpy arrays (int64 intermediates,
int32-valued results) for reference kernels, and as a scalar function compiled
with :func:`edgelite.interpreter.compute.jit.njit` that JIT kernels call inside
their loops (the scalar ones take the rounding form as an argument, so a compiled
kernel never depends on a module global frozen at compile time).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute import fixedpoint as fp
    >>> q, shift = fp.quantize_multiplier(0.0123)
    >>> (q, shift)
    (1690499128, -6)
    >>> fp.multiply_by_quantized_multiplier(np.array([1000, -1000]), q, shift)
    array([ 12, -12])
"""

from __future__ import annotations

import math

import numpy as np

from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.compute.rounding import round_half_away, round_half_away_scalar

# Which MultiplyByQuantizedMultiplier form callers get by default (see module doc).
SINGLE_ROUNDING: bool = False

# Rounding-form codes (plain ints so Numba kernels can take them as arguments).
ROUND_DOUBLE = 0  # gemmlowp: SRDHM, then RoundingDivideByPOT (ties away from zero)
ROUND_SINGLE = 1  # TFLITE_SINGLE_ROUNDING: one 64-bit round-half-up shift
ROUND_DOUBLE_UP = 2  # SRDHM, then a right shift rounding ties toward +inf (ruy x86)

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def single_rounding_default() -> bool:
    """The module-wide rounding form (``SINGLE_ROUNDING``), read at call time."""
    return bool(SINGLE_ROUNDING)


def _resolve(single_rounding: bool | None) -> bool:
    return single_rounding_default() if single_rounding is None else bool(single_rounding)


def default_mode() -> int:
    """The ``ROUND_*`` code of the module default (``SINGLE_ROUNDING``)."""
    return ROUND_SINGLE if single_rounding_default() else ROUND_DOUBLE


def gemm_mode() -> int:
    """The ``ROUND_*`` code of LiteRT's optimized int8 conv-like kernels.

    ``ROUND_DOUBLE_UP`` (measured on ai-edge-litert 2.3, x86: CONV_2D,
    DEPTHWISE_CONV_2D, FULLY_CONNECTED...), or ``ROUND_SINGLE`` when the module is
    switched to the single-rounding build.
    """
    return ROUND_SINGLE if single_rounding_default() else ROUND_DOUBLE_UP


# --------------------------------------------------------------------------------------
# Real multiplier -> (quantized multiplier, shift)
# --------------------------------------------------------------------------------------


def quantize_multiplier(real_multiplier: float, single_rounding: bool | None = None) -> tuple[int, int]:
    """Turn a real multiplier into LiteRT's ``(int32 multiplier, shift)`` pair.

    ``frexp`` splits ``M = f * 2**shift`` with ``f`` in [0.5, 1); ``q = round(f * 2**31)``
    (half away from zero); ``q == 2**31`` becomes ``2**30`` with ``shift + 1``; shifts
    below -31 flush to ``(0, 0)``. The single-rounding build also saturates shifts above
    30 to ``(2**31 - 1, 30)``.

    Args:
        real_multiplier: the multiplier, a Python float (double precision, as LiteRT).
        single_rounding: rounding form; ``None`` means the module default.

    Returns:
        ``(q, shift)`` as Python ints; ``real ~= q * 2**(shift - 31)``.

    Example:
        >>> quantize_multiplier(0.5)
        (1073741824, 0)
        >>> quantize_multiplier(0.0)
        (0, 0)
    """
    m = float(real_multiplier)
    if m == 0.0:
        return 0, 0
    frac, shift = math.frexp(m)
    # C's std::round: half away from zero (Python's round() is half-to-even).
    scaled = frac * float(1 << 31)  # exact: a power-of-two scaling of a double
    q = int(round_half_away_scalar(scaled))
    if q == (1 << 31):
        q //= 2
        shift += 1
    if shift < -31:
        q, shift = 0, 0
    if _resolve(single_rounding) and shift > 30:
        q, shift = (1 << 31) - 1, 30
    return int(q), int(shift)


def quantize_multiplier_array(real_multipliers, single_rounding: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`quantize_multiplier` over a 1-D array (per-channel multipliers).

    Returns:
        ``(q, shift)``, two int32 arrays of the input's length.

    Example:
        >>> quantize_multiplier_array([0.5, 0.25])
        (array([1073741824, 1073741824], dtype=int32), array([ 0, -1], dtype=int32))
    """
    reals = np.asarray(real_multipliers, dtype=np.float64).reshape(-1)
    if not np.isfinite(reals).all():  # the scalar path raises what it raises for these
        pairs = [quantize_multiplier(float(r), single_rounding) for r in reals]
        return (np.array([p[0] for p in pairs], dtype=np.int32), np.array([p[1] for p in pairs], dtype=np.int32))
    # The same steps as quantize_multiplier, vectorized (a model's per-channel
    # multipliers number in the tens of thousands: this is on the allocate path).
    frac, shift = np.frexp(reals)
    q = round_half_away(frac * float(1 << 31))
    shift = shift.astype(np.int64)
    carry = q == float(1 << 31)
    q[carry] = float(1 << 30)
    shift[carry] += 1
    flush = (shift < -31) | (reals == 0.0)
    q[flush] = 0.0
    shift[flush] = 0
    if _resolve(single_rounding):
        sat = shift > 30
        q[sat] = float((1 << 31) - 1)
        shift[sat] = 30
    return q.astype(np.int32), shift.astype(np.int32)


def quantized_activation_range(activation: int, scale: float, zero_point: int, dtype) -> tuple[int, int]:
    """Clamp bounds of a fused activation on a quantized output (LiteRT
    ``CalculateActivationRangeQuantized``).

    The activation's real bounds are quantized as ``zp + round(f / scale)`` with the
    division in float32 and ties away from zero, then intersected with the dtype's range.
    Codes: 0 NONE, 1 RELU, 2 RELU_N1_TO_1, 3 RELU6; others are refused.

    Example:
        >>> quantized_activation_range(3, 0.05, -128, np.int8)
        (-128, -8)
    """
    info = np.iinfo(dtype)
    qmin, qmax = int(info.min), int(info.max)

    def quantize(f: float) -> int:
        v = float(np.float32(f) / np.float32(scale))
        return int(zero_point) + int(round_half_away_scalar(v))

    if activation == 0:
        return qmin, qmax
    if activation == 1:
        return max(qmin, quantize(0.0)), qmax
    if activation == 3:
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == 2:
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    from edgelite.errors import UnsupportedOperatorError

    raise UnsupportedOperatorError(f"fused activation code {activation} is not supported on a quantized output")


# --------------------------------------------------------------------------------------
# Vectorized numpy versions (int64 intermediates)
# --------------------------------------------------------------------------------------


def _wrap_int32(v: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to the int32 range (kept as int64)."""
    # A C-style cast keeps the low 32 bits: one pass instead of three temporaries.
    return np.asarray(v, dtype=np.int64).astype(np.int32).astype(np.int64)


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """gemmlowp's SaturatingRoundingDoublingHighMul: ``round_half_up(a * b / 2**31)``.

    Both operands are int32-valued; the single overflow case ``a == b == INT32_MIN``
    gives ``INT32_MAX``. Returns int64 arrays holding int32 values.

    Example:
        >>> saturating_rounding_doubling_high_mul(np.array([1 << 30]), 1 << 30)
        array([536870912])
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    s = np.array(a * b, dtype=np.int64, ndmin=1)
    # gemmlowp nudges ab >= 0 by 2**30 and ab < 0 by 1 - 2**30, then divides by 2**31
    # truncating toward zero. For ab < 0 that is ceil((ab + 1 - 2**30) / 2**31) =
    # floor((ab + 2**30) / 2**31): both signs are one floor, an arithmetic shift
    # (in place: this runs on every requantized value of the general reference path).
    s += np.int64(1 << 30)
    s >>= 31
    # Only a == b == INT32_MIN reaches 2**31 (every other product is below 2**62 - 2**30).
    np.minimum(s, np.int64(INT32_MAX), out=s)
    return s.reshape(np.broadcast_shapes(a.shape, b.shape))


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """gemmlowp's RoundingDivideByPOT: ``x / 2**exponent`` rounded half away from zero.

    ``exponent`` (scalar or array) is in [0, 31]. Returns int64 arrays.

    Example:
        >>> rounding_divide_by_pot(np.array([5, -5, 6, -6]), 1)
        array([ 3, -3,  3, -3])
    """
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    # Half away from zero: x >= 0 rounds (x + 2**(e-1)) >> e; x < 0 ties must go down,
    # one less before the floor shift. An exponent of 0 returns x itself.
    half = (np.int64(1) << e) >> 1
    neg = x < 0
    if e.ndim == 0:
        if int(e) == 0:
            return x + 0  # a copy (a numpy scalar for a 0-d x, as the shifts give)
        r = x + half
        r -= neg
    else:
        r = x + half
        r -= neg & (e > 0)
    r >>= e
    return r


def multiply_by_quantized_multiplier(
    x, quantized_multiplier, shift, single_rounding: bool | None = None, *, mode: int | None = None
) -> np.ndarray:
    """LiteRT's MultiplyByQuantizedMultiplier for int32 ``x`` (any broadcastable shapes).

    Args:
        x: int32-valued accumulators (any integer dtype).
        quantized_multiplier: int32 ``q`` (scalar or per-element / per-channel array).
        shift: the exponent from :func:`quantize_multiplier` (same broadcasting).
        single_rounding: rounding form; ``None`` means the module default.
        mode: a ``ROUND_*`` code; overrides ``single_rounding`` when given.

    Returns:
        int64 array of int32-range values, ``~= x * q * 2**(shift - 31)``.

    Example:
        >>> multiply_by_quantized_multiplier(np.array([3]), 1 << 30, 0)
        array([2])
    """
    x = np.asarray(x, dtype=np.int64)
    q = np.asarray(quantized_multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if mode is None:
        mode = ROUND_SINGLE if _resolve(single_rounding) else ROUND_DOUBLE
    if mode == ROUND_SINGLE:
        total = 31 - shift
        r = (x * q + (np.int64(1) << (total - 1))) >> total
        return _wrap_int32(r)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    # C computes x * (1 << left_shift) in int32 (wrapping on overflow).
    xl = _wrap_int32(x if left.ndim == 0 and left == 0 else x << left)
    high = saturating_rounding_doubling_high_mul(xl, q)
    if mode == ROUND_DOUBLE_UP:
        return (high + ((np.int64(1) << right) >> 1)) >> right
    return rounding_divide_by_pot(high, right)


def multiply_by_quantized_multiplier_int64(x, quantized_multiplier, shift) -> np.ndarray:
    """The int64-accumulator MultiplyByQuantizedMultiplier of the 16x8 kernels.

    The multiplier is first reduced to 16 bits (``(q + 2**15) >> 16``, saturating at
    ``0x7FFF``), then ``(x * reduced + 2**(14 - shift)) >> (15 - shift)``; the same in
    both rounding builds. ``|x| < 2**47``.

    Example:
        >>> multiply_by_quantized_multiplier_int64(np.array([1 << 40]), 1 << 30, -20)
        array([524288])
    """
    x = np.asarray(x, dtype=np.int64)
    q = np.asarray(quantized_multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    reduced = np.where(q < 0x7FFF0000, (q + (1 << 15)) >> 16, np.int64(0x7FFF))
    total = 15 - shift
    r = (x * reduced + (np.int64(1) << (total - 1))) >> total
    return _wrap_int32(r)


# --------------------------------------------------------------------------------------
# Scalar versions for Numba kernels (plain Python when Numba is absent)
# --------------------------------------------------------------------------------------


@njit
def srdhm_scalar(a, b):
    """Scalar :func:`saturating_rounding_doubling_high_mul` (int32 values in int64)."""
    a = np.int64(a)
    b = np.int64(b)
    if a == b and a == -2147483648:
        return np.int64(2147483647)
    ab = a * b
    if ab >= 0:
        return (ab + np.int64(1073741824)) >> 31
    return -((-(ab + np.int64(1 - 1073741824))) >> 31)


@njit
def rdbpot_scalar(x, exponent):
    """Scalar :func:`rounding_divide_by_pot`."""
    x = np.int64(x)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = mask >> 1
    if x < 0:
        threshold += 1
    result = x >> exponent
    if remainder > threshold:
        result += 1
    return result


@njit
def wrap_int32_scalar(v):
    """Two's-complement wrap of an int64 to the int32 range."""
    return ((np.int64(v) + np.int64(2147483648)) & np.int64(0xFFFFFFFF)) - np.int64(2147483648)


@njit
def mbqm_double_scalar(x, q, shift):
    """Double-rounding MultiplyByQuantizedMultiplier (LiteRT's default build)."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    xl = wrap_int32_scalar(np.int64(x) << left)
    return rdbpot_scalar(srdhm_scalar(xl, q), right)


@njit
def mbqm_single_scalar(x, q, shift):
    """Single-rounding MultiplyByQuantizedMultiplier (``TFLITE_SINGLE_ROUNDING``)."""
    total = 31 - np.int64(shift)
    r = (np.int64(x) * np.int64(q) + (np.int64(1) << (total - 1))) >> total
    return wrap_int32_scalar(r)


@njit
def mbqm_double_up_scalar(x, q, shift):
    """SRDHM, then a right shift rounding ties toward +inf (``ROUND_DOUBLE_UP``)."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    high = srdhm_scalar(wrap_int32_scalar(np.int64(x) << left), q)
    return (high + ((np.int64(1) << right) >> 1)) >> right


@njit
def mbqm_scalar(x, q, shift, mode):
    """MultiplyByQuantizedMultiplier in the form the ``ROUND_*`` code ``mode`` names.

    ``mode`` may also be a bool (True = single rounding, False = double rounding).
    """
    if mode == 1:
        return mbqm_single_scalar(x, q, shift)
    if mode == 2:
        return mbqm_double_up_scalar(x, q, shift)
    return mbqm_double_scalar(x, q, shift)


@njit
def mbqm_int64_scalar(x, q, shift):
    """Scalar :func:`multiply_by_quantized_multiplier_int64` (16x8 kernels)."""
    q = np.int64(q)
    if q < 0x7FFF0000:
        reduced = (q + np.int64(32768)) >> 16
    else:
        reduced = np.int64(0x7FFF)
    total = 15 - np.int64(shift)
    r = (np.int64(x) * reduced + (np.int64(1) << (total - 1))) >> total
    return wrap_int32_scalar(r)


__all__ = [
    "SINGLE_ROUNDING",
    "ROUND_DOUBLE",
    "ROUND_SINGLE",
    "ROUND_DOUBLE_UP",
    "single_rounding_default",
    "default_mode",
    "gemm_mode",
    "quantized_activation_range",
    "quantize_multiplier",
    "quantize_multiplier_array",
    "saturating_rounding_doubling_high_mul",
    "rounding_divide_by_pot",
    "multiply_by_quantized_multiplier",
    "multiply_by_quantized_multiplier_int64",
    "srdhm_scalar",
    "rdbpot_scalar",
    "wrap_int32_scalar",
    "mbqm_double_scalar",
    "mbqm_single_scalar",
    "mbqm_double_up_scalar",
    "mbqm_scalar",
    "mbqm_int64_scalar",
]
