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
    >>> from edgelite.interpreter.compute.lut import populate_lut_8bit, logistic_f32, apply_lut_8bit
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

from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.compute.lut_vec import lut_run
from edgelite.interpreter.compute.rounding import round_half_away, round_half_away_scalar

f32 = np.float32


_F32_MAX = float(np.finfo(np.float32).max)


def _f32_of(fn: Callable[[float], float], overflows_above: float = math.inf) -> Callable[[np.float32], np.float32]:
    """A float32 function from a double one: the double result rounded to float32.

    A result beyond float32's range becomes +-inf, as C's ``expf`` returns it (numpy
    would warn about the cast; ``math.exp`` raises past 709 in double): arguments above
    ``overflows_above`` give +inf without calling ``fn``.
    """

    def g(x: np.float32) -> np.float32:
        v = float(x)
        if v > overflows_above:
            return f32(math.inf)
        r = fn(v)
        if abs(r) > _F32_MAX:  # rounds to +-inf in float32 (C semantics, no numpy warning)
            return f32(math.copysign(math.inf, r))
        return f32(r)

    return g


expf = _f32_of(math.exp, overflows_above=709.0)
tanhf = _f32_of(math.tanh)
expm1f = _f32_of(math.expm1, overflows_above=709.0)
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
    return f32(round_half_away_scalar(float(v)))  # (inf and NaN pass through)


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
    with np.errstate(over="ignore", divide="ignore"):
        inverse_scale = f32(1.0) / f32(out_scale)
    s_in = f32(in_scale)
    # float32 products may overflow to inf as they do in C; the non-finite branch below
    # saturates them, so numpy's warning would only be noise.
    with np.errstate(over="ignore", invalid="ignore"):
        return _fill_8bit(table, transform, s_in, in_zp, inverse_scale, out_zp, info)


def _fill_8bit(table, transform, s_in, in_zp, inverse_scale, out_zp, info) -> np.ndarray:
    # The float32 steps of LUTPopulate on all codes at once (numpy float32 arithmetic
    # rounds as C's float does); only ``transform`` runs per code, as the scalar
    # function it is. A model with many activations pays this at allocation.
    vals = np.arange(int(info.min), int(info.max) + 1, dtype=np.int64)
    dequantized = s_in * (vals - in_zp).astype(np.float32)
    transformed = np.array([transform(d) for d in dequantized], dtype=np.float32)
    rescaled = round_half_away(transformed * inverse_scale).astype(np.float32)
    finite = np.isfinite(rescaled)
    # C's (int) truncates toward zero; clamping first keeps huge floats in range
    shifted = np.where(finite, rescaled + f32(out_zp), f32(0.0))
    quantized = np.trunc(np.clip(shifted, float(info.min), float(info.max))).astype(np.int64)
    quantized = np.where(finite, quantized, np.where(rescaled > 0, int(info.max), int(info.min)))
    table[vals & 0xFF] = quantized.astype(table.dtype)
    return table


def apply_lut_8bit(table: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = table[byte(x[i])]`` for int8/uint8 ``x``."""
    np.take(table, x.view(np.uint8), out=out, mode="clip")  # "clip": no index-check buffer


@njit
def _lut_8bit_kernel(table, xb, out):
    """out[i] = table[xb[i]] (``xb``: the input's bytes, so every index is in 0..255;
    ``table``: 256 entries, checked by the callers). The whole 64-byte blocks go to
    :func:`lut_vec.lut_run` (AVX-512 VBMI, where the CPU has it), the rest here."""
    done = lut_run(table, xb, out)
    for i in range(done, xb.shape[0]):
        out[i] = table[xb[i]]


def apply_lut_8bit_jit(table: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """:func:`apply_lut_8bit` in Numba: numpy's ``take`` widens the byte indices to a
    temporary int64 array first (several times slower on large activations)."""
    if table.shape[0] != 256:  # the kernel indexes by byte without bounds checks
        raise ValueError("an 8-bit lookup table has 256 entries")
    _lut_8bit_kernel(table, x.reshape(-1).view(np.uint8), out.reshape(-1))


def apply_lut_8bit_runs(tables: np.ndarray, run: int, bulk: int, x: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = tables[0 if i % run < bulk else 1][byte(x[i])]`` for int8/uint8 ``x``:
    two 256-entry tables [2, 256], the first for the leading ``bulk`` elements of every
    ``run`` (the SIMD elements of a LiteRT kernel's loop, see ``SimdLayout``), the
    second for the rest of the run."""
    xb = x.reshape(-1).view(np.uint8)
    simd = (np.arange(xb.shape[0], dtype=np.int64) % max(run, 1)) < bulk
    np.copyto(out.reshape(-1), np.where(simd, tables[0].take(xb), tables[1].take(xb)))


@njit
def _lut_8bit_runs_kernel(tables, run, bulk, xb, out):
    """Numba twin of ``apply_lut_8bit_runs`` (``xb``: the input's bytes, ``out`` flat):
    each run of ``run`` elements reads row 0 for its first ``bulk`` elements, row 1 after.
    Each part is ``_lut_8bit_kernel`` on slices: indexing ``out[s + i]`` directly (a
    possibly negative index to wrap) made the loop twice as slow (measured)."""
    n = xb.shape[0]
    step = max(run, 1)
    for s in range(0, n, step):
        e = min(s + step, n)
        m = min(s + bulk, e)
        _lut_8bit_kernel(tables[0], xb[s:m], out[s:m])
        _lut_8bit_kernel(tables[1], xb[m:e], out[m:e])


def apply_lut_8bit_runs_jit(tables: np.ndarray, run: int, bulk: int, x: np.ndarray, out: np.ndarray) -> None:
    """:func:`apply_lut_8bit_runs` in Numba (one pass, no index temporaries)."""
    if tables.shape != (2, 256):  # the kernel indexes by byte without bounds checks
        raise ValueError("two 8-bit lookup tables of 256 entries each")
    _lut_8bit_runs_kernel(tables, run, bulk, x.reshape(-1).view(np.uint8), out.reshape(-1))


# --------------------------------------------------------------------------------------
# int16 tables: LiteRT's 513-entry interpolated LUTs and the Q0.16 sigmoid table
# --------------------------------------------------------------------------------------


def populate_lut_int16(transform: Callable[[float], float], in_scale: float, in_zp: int,
                       out_scale: float, out_zp: int) -> np.ndarray:
    """LiteRT's 513-entry int16 table (``LUTPopulate<int16_t>`` with double math).

    Entry ``i`` samples ``transform`` at the ``i``-th of 512 steps across the input
    range, biased by half the interpolation error at the step's midpoint; entry 512
    is the value at the range's end. Read with :func:`lut_lookup_int16`.
    """
    input_min = in_scale * (-32768 - in_zp)
    input_max = in_scale * (32767 - in_zp)
    output_min = out_scale * (-32768 - out_zp)
    output_max = out_scale * (32767 - out_zp)
    nb_steps = 512
    step = (input_max - input_min) / nb_steps
    half_step = step / 2
    inv = 65536.0 / (output_max - output_min)
    rnd = round_half_away_scalar
    table = np.zeros(513, np.int16)
    for i in range(nb_steps):
        val = transform(input_min + i * step)
        val_mid = transform(input_min + i * step + half_step)
        val_next = transform(input_min + (i + 1) * step)
        sample = rnd(val * inv)
        mid_interp = rnd((val_next * inv + rnd(val * inv)) / 2)
        mid_val = rnd(val_mid * inv)
        bias = rnd((mid_interp - mid_val) / 2)
        table[i] = int(min(max(sample - bias, -32768.0), 32767.0))
    table[nb_steps] = int(min(max(rnd(transform(input_max) * inv), -32768.0), 32767.0))
    return table


def lut_lookup_int16(value: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Linear interpolation in a 513-entry table for int16 ``value`` (int64 arrays).

    ``index = 256 + (value >> 7)``, ``offset = value & 0x7f``;
    ``base + ((slope * offset + 64) >> 7)``, wrapped to int16 as LiteRT's cast does.
    """
    v = np.asarray(value, np.int64)
    index = 256 + (v >> 7)
    offset = v & 0x7F
    t = table.astype(np.int64)
    base = t[index]
    # int16_t slope = lut[index + 1] - lut[index]  (wraps to int16)
    slope = ((t[index + 1] - base + 32768) & 0xFFFF) - 32768
    r = base + ((slope * offset + 64) >> 7)
    return ((r + 32768) & 0xFFFF) - 32768


# sigmoid(i / 24) in unsigned Q0.16, i in [0, 256): the constant table LiteRT's int16
# LOGISTIC and TANH interpolate in (tanh(x) = 2 sigmoid(2x) - 1). Its entries are not
# all round(65536 sigmoid(i / 24)) (a few are one higher), so the values are LiteRT's.
SIGMOID_TABLE_UINT16 = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
], dtype=np.int64)
