"""Quantized RSQRT (int8), ABS (int8, int16) and EXP (int8), bit-exact with LiteRT's
``elementwise.cc`` and ``exp.cc``.

* RSQRT int8 (the ``1 / sqrt(variance + eps)`` of a quantized layer norm): for
  ``v = x - zp_in`` (LiteRT fails on ``v < 0``), ``v == 0`` gives 127; otherwise
  ``(q, s) = GetInvSqrtQuantizedMultiplierExp(v, -1)``, ``d = MBQM(1, q, s + 20)`` (a
  Q20 ``1 / sqrt(v)``), ``out = clamp(MBQM(d, M, shift - 20) + zp_out)`` where ``(M,
  shift)`` quantizes ``1 / (sqrt(s_in) s_out)`` (square root and product in float32,
  the reciprocal in double). Computed once per int8 value into a 256-entry table.
* ABS int8/int16: ``v = |x - zp_in|``; when the scales differ, ``MBQM(v, s_in / s_out)``;
  then ``+ zp_out`` and clamp.
* EXP int8: a 256-entry table filled as LiteRT's ``LUTPopulate<int8_t>`` fills it
  (``expf`` of the float32 dequantized value, requantized with C's ``round``).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.elementwise.unary_quant import rsqrt_int8_table
    >>> t = rsqrt_int8_table(0.25, 0, 1.0 / 16, 0)   # x = 4 * 0.25 = 1.0 -> 1 / 1 = 16 / 16
    >>> int(t[4 + 128])
    16
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.errors import EdgeliteError
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute.gemmlowp import inv_sqrt_quantized_multiplier_exp
from edgelite.interpreter.compute import lut
from edgelite.interpreter.kernels.activations.activations_quant import _LutKernel
from edgelite.interpreter.kernels.base import INT8, Kernel, OpContext, register
from edgelite.interpreter.kernels.elementwise.elementwise_quant import dtype_range, quant_params, unary_quant_params

f32 = np.float32
_SHIFT = 20  # LiteRT keeps the inverse square root in Q20 between the two rescales


def rsqrt_int8_table(s_in: float, zp_in: int, s_out: float, zp_out: int) -> np.ndarray:
    """Output for each int8 input ``-128..127`` (index ``x + 128``); negatives -> 127 too.

    LiteRT refuses a negative ``x - zp_in`` at run time; the kernel checks that
    separately, so the table entries for those inputs are never used.
    """
    real = 1.0 / float(f32(np.sqrt(f32(s_in))) * f32(s_out))
    mult, shift = fp.quantize_multiplier(real)
    v = np.arange(-128, 128, dtype=np.int64) - zp_in
    pos = v > 0
    q, s = inv_sqrt_quantized_multiplier_exp(np.where(pos, v, 2), reverse_shift=-1)
    d = fp.multiply_by_quantized_multiplier(np.ones_like(v), q, s + _SHIFT)
    out = fp.multiply_by_quantized_multiplier(d, mult, shift - _SHIFT) + zp_out
    return np.where(pos, np.clip(out, -128, 127), 127).astype(np.int8)


@dataclass(frozen=True)
class RsqrtParams:
    table: np.ndarray
    zp_in: int


def _same_type_quantized(ctx: OpContext, dtypes) -> bool:
    if not ctx.inputs or ctx.inputs[0] is None or not ctx.outputs:
        return False
    a, o = ctx.inputs[0], ctx.outputs[0]
    return (np.dtype(a.dtype) in dtypes and np.dtype(o.dtype) == np.dtype(a.dtype)
            and a.quant is not None and o.quant is not None and not a.quant.per_channel)


@register("RSQRT", priority=INT8)
class QuantizedRsqrt(Kernel):
    """int8 RSQRT through a 256-entry table of LiteRT's fixed-point formula."""

    def accepts(self, ctx: OpContext) -> bool:
        return _same_type_quantized(ctx, (np.dtype(np.int8),))

    def prepare(self, ctx: OpContext) -> RsqrtParams:
        a, o = ctx.input(0), ctx.outputs[0]
        ctx.set_output_shape(0, a.shape)
        s_in, z_in = quant_params(a)
        s_out, z_out = quant_params(o)
        return RsqrtParams(rsqrt_int8_table(s_in, z_in, s_out, z_out), z_in)

    def eval(self, p: RsqrtParams, inputs, outputs) -> None:
        x = inputs[0]
        if x.size and int(x.min()) < p.zp_in:
            # LiteRT: "Rsqrt is only defined for positive values" (invoke fails)
            raise EdgeliteError("RSQRT: an input is below the input zero point (a negative real value)")
        outputs[0][...] = p.table[x.astype(np.int64) + 128]


@dataclass(frozen=True)
class AbsParams:
    zp_in: int
    zp_out: int
    rescale: bool
    mult: int
    shift: int
    qmin: int
    qmax: int


@register("ABS", priority=INT8)
class QuantizedAbs(Kernel):
    """int8/int16 ABS with requantization to the output scale."""

    def accepts(self, ctx: OpContext) -> bool:
        return _same_type_quantized(ctx, (np.dtype(np.int8), np.dtype(np.int16)))

    def prepare(self, ctx: OpContext) -> AbsParams:
        a = ctx.input(0)
        s_in, z_in, s_out, z_out = unary_quant_params(ctx)
        mult, shift = fp.quantize_multiplier(float(s_in) / float(s_out))
        lo, hi = dtype_range(a.dtype)
        return AbsParams(z_in, z_out, s_in != s_out, mult, shift, lo, hi)

    def eval(self, p: AbsParams, inputs, outputs) -> None:
        v = np.abs(inputs[0].astype(np.int64) - p.zp_in)
        if p.rescale:
            v = fp.multiply_by_quantized_multiplier(v, p.mult, p.shift)
        outputs[0][...] = np.clip(v + p.zp_out, p.qmin, p.qmax)


@register("EXP", priority=INT8)
class QuantizedExp(_LutKernel):
    """int8 EXP through a lookup table (LiteRT's ``exp.cc``; it has no uint8 EXP)."""

    dtypes = (np.dtype(np.int8),)

    def transform(self, ctx):
        return lut.expf
