"""Quantized int16 LOGISTIC and TANH (zero points 0), bit-exact with LiteRT.

Follows LiteRT's ``activations.cc``:

* with a power-of-two input scale 2**-12 (TANH also 2**-11): gemmlowp's int16
  fixed-point ``logistic`` / ``tanh`` (LiteRT's ``optimized_ops``), run as a 65536-entry
  table in ``eval_jit``;
* otherwise the table-interpolation kernels of ``reference_integer_ops/logistic.h``
  and ``tanh.h`` (the Q0.16 sigmoid table in :mod:`.lut`).

The int8/uint8 activations are in :mod:`.activations_quant`.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.activations.activations_int16 import gemmlowp_logistic16
    >>> int(gemmlowp_logistic16(np.array([0], np.int64))[0])  # logistic(0) = 0.5 in Q0.15
    16384
"""

from __future__ import annotations

from functools import cache

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute import lut
from edgelite.interpreter.kernels.activations.activations_quant import _srdhm16, _unary_accepts
from edgelite.interpreter.kernels.base import INT16, Kernel, OpContext, register
from edgelite.interpreter.kernels.elementwise.elementwise_quant import unary_quant_params
from edgelite.interpreter.compute.jit import njit


# --------------------------------------------------------------------------------------
# int16 LOGISTIC / TANH, power-of-two input scale: gemmlowp's int16 fixed-point functions
# --------------------------------------------------------------------------------------
# Values are int64 arrays holding int16 raws of gemmlowp ``FixedPoint<int16, I>`` (raw r
# means r * 2**(I - 15)). As in gemmlowp's scalar int16 code, + - and negation wrap to
# int16, products are the int16 SaturatingRoundingDoublingHighMul, and rescaling to
# fewer integer bits is a saturating left shift.

_Q0_ONE = 32767  # FixedPoint<int16, 0>::One() is the largest raw
_Q2_ONE = 1 << 13  # 1.0 with 2 integer bits


def _wrap16(v):
    """Two's-complement wrap of int64 values to the int16 range."""
    return ((v + 32768) & 0xFFFF) - 32768


def _const16(raw32: int) -> int:
    """gemmlowp's 16-bit constant from its 32-bit form: RoundingDivideByPOT(raw32, 16)."""
    return int(fp.rounding_divide_by_pot(np.int64(raw32), 16))


def _sat_shl16(x, e: int):
    """SaturatingRoundingMultiplyByPOT<e> for e > 0 on int16 raws (saturating left shift)."""
    threshold = (1 << (15 - e)) - 1
    return np.where(x > threshold, 32767, np.where(x < -threshold, -32768, x << e))


def _rounding_half_sum16(a, b):
    """(a + b) / 2 rounded half away from zero (C division of ``a + b +- 1`` by 2)."""
    s = a + b
    return np.where(s >= 0, (s + 1) >> 1, -((1 - s) >> 1))


def _exp_on_quarter16(a):
    """exp(a) for a in [-1/4, 0) in Q0.15: Taylor series around -1/8 to the 4th power."""
    x = _wrap16(a + (1 << 12))  # a + 1/8
    x2 = _srdhm16(x, x)
    x3 = _srdhm16(x2, x)
    x4 = _srdhm16(x2, x2)
    x4_over_4 = fp.rounding_divide_by_pot(x4, 2)
    # (x4/4 + x3) / 3 + x2, halved: x^4/24 + x^3/6 + x^2/2
    poly = fp.rounding_divide_by_pot(_wrap16(_srdhm16(_wrap16(x4_over_4 + x3), _const16(715827883)) + x2), 1)
    c = _const16(1895147668)  # exp(-1/8)
    return np.clip(c + _srdhm16(c, _wrap16(x + poly)), -32768, 32767)


# exp(-2**k) for k = -2 .. 4 in Q0.31, as gemmlowp's barrel shifter lists them
_EXP_NEG_POT = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
                (4, 242))


def _exp_on_negative16(a, int_bits: int):
    """exp(a) in Q0.15 for a <= 0 in Q(int_bits).(15 - int_bits) (gemmlowp ``exp_on_negative_values``).

    a = q - r with q in [-1/4, 0) (the low bits) and r a sum of powers of two; exp(q) from the
    series, times exp(-2**k) for every bit k of r. exp(0) is One().
    """
    frac = 15 - int_bits
    quarter = 1 << (frac - 2)
    a_mod = _wrap16((a & (quarter - 1)) - quarter)
    result = _exp_on_quarter16(_sat_shl16(a_mod, int_bits))
    remainder = _wrap16(a_mod - a)
    for k, mult in _EXP_NEG_POT:
        if int_bits > k:
            result = np.where(remainder & (1 << (frac + k)), _srdhm16(result, _const16(mult)), result)
    return np.where(a == 0, _Q0_ONE, result)


def _newton_reciprocal16(a):
    """x ~= 1 / ((a + 1) / 2) in Q2.13 for a in (0, 1): 48/17 - 32/17 d, then 3 Newton steps."""
    half_den = _rounding_half_sum16(a, _Q0_ONE)
    x = _wrap16(_const16(1515870810) + _srdhm16(half_den, _const16(-1010580540)))
    for _ in range(3):
        one_minus = _wrap16(_Q2_ONE - _srdhm16(half_den, x))
        x = _wrap16(x + _sat_shl16(_srdhm16(x, one_minus), 2))
    return x


def gemmlowp_logistic16(x):
    """gemmlowp ``logistic`` from Q3.12 to Q0.15 on int16 raws (vectorized).

    logistic(|x|) = 1 / (1 + exp(-|x|)); negative inputs give ``One() - logistic(|x|)``,
    zero gives exactly 1/2.

    Example:
        >>> gemmlowp_logistic16(np.array([0, 4096, -4096, 32767])).tolist()  # 0, 1, -1, ~8
        [16384, 23952, 8815, 32756]
    """
    a = np.asarray(x, dtype=np.int64)
    positive = a > 0
    abs_a = np.where(positive, a, _wrap16(-a))
    on_positive = _sat_shl16(_newton_reciprocal16(_exp_on_negative16(_wrap16(-abs_a), 3)), 1)  # x / 2 in Q0.15
    return np.where(a == 0, 1 << 14, np.where(positive, on_positive, _wrap16(_Q0_ONE - on_positive)))


def gemmlowp_tanh16(x, input_left_shift: int = 0):
    """gemmlowp ``tanh`` from Q3.12 to Q0.15 on int16 raws, after a saturating doubling
    of the input when ``input_left_shift`` is 1 (LiteRT's input scale 2**-11).

    tanh(|x|) = (1 - exp(-2|x|)) / (1 + exp(-2|x|)), the sign restored afterwards.

    Example:
        >>> gemmlowp_tanh16(np.array([0, 4096, -4096, 32767])).tolist()  # 0, 1, -1, ~8
        [0, 24964, -24964, 32767]
    """
    a = np.asarray(x, dtype=np.int64)
    if input_left_shift:
        a = _sat_shl16(a, input_left_shift)
    negative = a < 0
    n = np.where(negative, a, _wrap16(-a))  # -|a| (wrapping at -32768 as gemmlowp does)
    t = _sat_shl16(_wrap16(_newton_reciprocal16(_exp_on_negative16(n, 4)) - _Q2_ONE), 2)  # ExactMulByPot<1>: Q4.11
    return np.where(a == 0, 0, np.where(negative, _wrap16(-t), t))


@cache
def _pot_table(is_tanh: bool, input_left_shift: int) -> np.ndarray:
    """All 65536 outputs of the power-of-two path, indexed by the input's uint16 bits."""
    x = np.arange(65536, dtype=np.int64)
    x = np.where(x >= 32768, x - 65536, x)
    y = gemmlowp_tanh16(x, input_left_shift) if is_tanh else gemmlowp_logistic16(x)
    table = y.astype(np.int16)
    table.flags.writeable = False
    return table


@njit
def _lookup16_kernel(x, table, out):
    """out[i] = table[x[i]], x the input's int16 values read as uint16."""
    for i in range(x.shape[0]):
        out[i] = table[x[i]]


# --------------------------------------------------------------------------------------
# int16 LOGISTIC / TANH: interpolation in LiteRT's Q0.16 sigmoid table
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Int16SigmoidParams:
    multiplier: int  # 0: power-of-two input scale, gemmlowp's fixed-point path
    left_shift: int
    is_tanh: bool
    table: np.ndarray | None = None  # power-of-two path: every output, by the input's uint16 bits


class _Int16SigmoidBase(Kernel):
    """int16 LOGISTIC/TANH (zero points 0, output scale 2**-15), LiteRT's two paths.

    * Input scale a power of two with ``input_left_shift = 12 + log2(scale)`` equal to 0
      (LOGISTIC, TANH) or 1 (TANH): gemmlowp's int16 fixed-point ``logistic`` / ``tanh``
      on the input read as Q3.12 (doubled, saturating, when the shift is 1), as LiteRT's
      optimized int16 kernels do (``power of two`` is LiteRT's CheckedLog2: log2 within
      1e-3 of an integer).
    * Any other scale: LiteRT rescales the input to 1/(3 * 4096) units (``multiplier =
      scale * 3 * 4096``, doubled with ``left_shift`` up while it stays <= 32767 / 2),
      then interpolates in :data:`.lut.SIGMOID_TABLE_UINT16` (``reference_integer_ops::
      Logistic`` / ``Tanh``).

    ``eval_jit`` runs the power-of-two path as a lookup in a 65536-entry table computed
    once from the reference functions.
    """

    is_tanh = False

    def accepts(self, ctx: OpContext) -> bool:
        return _unary_accepts(ctx, (np.dtype(np.int16),))

    def prepare(self, ctx: OpContext) -> Int16SigmoidParams:
        from edgelite.interpreter.kernels.elementwise.elementwise_quant import _is_pot

        s_in, z_in, s_out, z_out = unary_quant_params(ctx)  # int16 only (accepts)
        pot_out, log_out = _is_pot(s_out)
        if not pot_out or log_out != -15 or (not self.is_tanh and float(s_out) != 1.0 / 32768):
            raise ctx.fail("int16 output scale must be 1/32768")
        pot_in, log_in = _is_pot(s_in)
        shift = (15 - 3) + log_in
        if pot_in and (shift == 0 or (self.is_tanh and shift == 1)):
            return Int16SigmoidParams(0, shift, self.is_tanh, _pot_table(self.is_tanh, shift))
        multiplier = float(s_in) * 4096.0 * 3.0
        left_shift = 0
        while multiplier <= 32767.0 / 2.0 and left_shift <= 30:
            left_shift += 1
            multiplier *= 2.0
        return Int16SigmoidParams(int(multiplier), left_shift, self.is_tanh)

    def eval(self, p: Int16SigmoidParams, inputs, outputs) -> None:
        if p.multiplier == 0:
            x = inputs[0]
            outputs[0][...] = gemmlowp_tanh16(x, p.left_shift) if p.is_tanh else gemmlowp_logistic16(x)
            return
        table = lut.SIGMOID_TABLE_UINT16
        rnd = (1 << (p.left_shift - 1)) if p.left_shift > 0 else 0
        v = (inputs[0].astype(np.int64) * p.multiplier + rnd) >> p.left_shift
        av = np.abs(v)
        if p.is_tanh:
            uh = av >> 8
            ut = av & 0xFF
            idx = np.minimum(uh, 254)
            res = np.where(uh >= 255, 0xFFFF << 8, (table[idx] << 8) + ut * (table[idx + 1] - table[idx]))
            res = np.where(v >= 0, res - (1 << 23) + (1 << 7), -res + (1 << 23) + (1 << 7) - 1)
            outputs[0][...] = res >> 8
        else:
            uh = av >> 9
            ut = av & 0x1FF
            idx = np.minimum(uh, 254)
            res = np.where(uh >= 255, 0x7FFF << 10, (table[idx] << 9) + ut * (table[idx + 1] - table[idx]))
            res = np.where(v >= 0, res + (1 << 9), (1 << 25) - res + (1 << 9) - 1)
            outputs[0][...] = res >> 10

    def eval_jit(self, p: Int16SigmoidParams, inputs, outputs) -> None:
        if p.table is None:
            self.eval(p, inputs, outputs)
        else:
            _lookup16_kernel(inputs[0].reshape(-1).view(np.uint16), p.table, outputs[0].reshape(-1))


@register("LOGISTIC", priority=INT16)
class QuantizedLogisticInt16(_Int16SigmoidBase):
    """int16 LOGISTIC (output scale 1/32768)."""


@register("TANH", priority=INT16)
class QuantizedTanhInt16(_Int16SigmoidBase):
    """int16 TANH (output scale 1/32768)."""

    is_tanh = True
