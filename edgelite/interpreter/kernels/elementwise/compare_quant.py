"""Comparisons of quantized tensors (EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER,
GREATER_EQUAL) whose inputs may have different quantization, as LiteRT does.

LiteRT's ``comparisons.cc`` brings both 8-bit inputs to a common fixed-point scale
before comparing: ``v = MBQM((q - zp) << 8, scale)`` for each input, the scale
turned into a multiplier below one (``QuantizeMultiplierSmallerThanOneExp``), so
two reals compare as their quantized values say. int16 inputs are rescaled the same
way for EQUAL / NOT_EQUAL and compared as stored integers for the ordering
comparisons (both as LiteRT does).

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> [type(k).__name__ for k in kernels_for("LESS") if "Quant" in type(k).__name__]
    ['QuantizedCompare']
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.kernels.base import INT8, Kernel, OpContext, register
from edgelite.interpreter.kernels.elementwise.elementwise_quant import broadcast_shape, is_quantized, quant_params

_OPS = {
    "EQUAL": np.equal,
    "NOT_EQUAL": np.not_equal,
    "LESS": np.less,
    "LESS_EQUAL": np.less_equal,
    "GREATER": np.greater,
    "GREATER_EQUAL": np.greater_equal,
}


@dataclass(frozen=True)
class CompareParams:
    fn: object  # the numpy comparison of ``_OPS``
    out_shape: tuple[int, ...]
    rescale: bool
    off1: int
    m1: int
    sh1: int
    off2: int
    m2: int
    sh2: int
    single_rounding: bool


@register("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", priority=INT8)
class QuantizedCompare(Kernel):
    """A comparison of quantized inputs (8-bit ones rescaled to a common scale)."""

    def accepts(self, ctx: OpContext) -> bool:
        if len(ctx.inputs) < 2 or not ctx.outputs:
            return False
        a, b = ctx.inputs[0], ctx.inputs[1]
        return (
            is_quantized(a)
            and is_quantized(b)
            and a.dtype == b.dtype
            and np.dtype(ctx.outputs[0].dtype) == np.bool_
        )

    def prepare(self, ctx: OpContext) -> CompareParams:
        a, b = ctx.input(0), ctx.input(1)
        shape = broadcast_shape(ctx, a.shape, b.shape)
        ctx.set_output_shape(0, shape)
        sr = fp.single_rounding_default()
        fn = _OPS[ctx.op_name]
        if np.dtype(a.dtype).itemsize != 1 and ctx.op_name not in ("EQUAL", "NOT_EQUAL"):
            return CompareParams(fn, shape, False, 0, 0, 0, 0, 0, 0, sr)
        s1, z1 = quant_params(a)
        s2, z2 = quant_params(b)
        if s1 >= 1.0 or s2 >= 1.0:
            raise ctx.fail("LiteRT compares 8-bit inputs only with scales below 1")
        m1, sh1 = fp.quantize_multiplier(s1, sr)
        m2, sh2 = fp.quantize_multiplier(s2, sr)
        return CompareParams(fn, shape, True, -z1, m1, sh1, -z2, m2, sh2, sr)

    def eval(self, p: CompareParams, inputs, outputs) -> None:
        if not p.rescale:
            p.fn(inputs[0], inputs[1], out=outputs[0])
            return
        mbqm = fp.multiply_by_quantized_multiplier
        a = mbqm((inputs[0].astype(np.int64) + p.off1) << 8, p.m1, p.sh1, p.single_rounding)
        b = mbqm((inputs[1].astype(np.int64) + p.off2) << 8, p.m2, p.sh2, p.single_rounding)
        p.fn(a, b, out=outputs[0])
