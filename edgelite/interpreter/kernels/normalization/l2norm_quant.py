"""Quantized L2_NORMALIZATION (int8, uint8) over the last axis, bit-exact with LiteRT.

The output quantization is fixed: scale 1/128 with zero point 0 (int8) or 128 (uint8).
Per row of the last axis (LiteRT's ``reference_integer_ops::L2Normalization`` for int8,
``optimized_ops::L2Normalization`` for uint8):

1. ``acc = sum((x - zp_in)**2)`` in int32;
2. ``(q, shift) = GetInvSqrtQuantizedMultiplierExp(acc, -1)`` (a fixed-point
   ``1 / sqrt(acc)``, see :func:`edgelite.interpreter.compute.gemmlowp.inv_sqrt_quantized_multiplier_exp`);
3. int8: ``out = clamp(MultiplyByQuantizedMultiplier(x - zp_in, q, shift + 7))``;
   uint8: ``out = clamp(128 + RoundingDivideByPOT(SRDHM(128 (x - zp_in), q), -shift))``.

The input scale does not enter: ``x / |x|`` is scale-free. No fused activation.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.normalization.l2norm_quant import l2norm_int8_rows
    >>> l2norm_int8_rows(np.array([[3, 4]], np.int8), 0).tolist()  # (0.6, 0.8) * 128
    [[77, 102]]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute.gemmlowp import inv_sqrt_quantized_multiplier_exp
from edgelite.interpreter.kernels.base import INT8, Kernel, OpContext, register
from edgelite.interpreter.kernels.elementwise.elementwise_quant import quant_params

_TYPES = (np.dtype(np.int8), np.dtype(np.uint8))
ACT_NONE = 0


def _row_inv_sqrt(diff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    acc = fp._wrap_int32((diff * diff).sum(axis=-1, keepdims=True))  # LiteRT's int32 accumulator
    return inv_sqrt_quantized_multiplier_exp(acc, reverse_shift=-1)


def l2norm_int8_rows(x: np.ndarray, zero_point: int, mode: int | None = None) -> np.ndarray:
    """int8 L2 normalization of the rows (last axis) of ``x``; output scale 1/128, zp 0."""
    diff = x.astype(np.int64) - zero_point
    q, shift = _row_inv_sqrt(diff)
    if mode is None:
        mode = fp.default_mode()
    out = fp.multiply_by_quantized_multiplier(diff, q, shift + 7, mode=mode)
    return np.clip(out, -128, 127).astype(np.int8)


def l2norm_uint8_rows(x: np.ndarray, zero_point: int) -> np.ndarray:
    """uint8 L2 normalization of the rows (last axis) of ``x``; output scale 1/128, zp 128."""
    diff = x.astype(np.int64) - zero_point
    q, shift = _row_inv_sqrt(diff)
    # MultiplyByQuantizedMultiplierSmallerThanOneExp: the shift is never positive here
    scaled = fp.rounding_divide_by_pot(fp.saturating_rounding_doubling_high_mul(128 * diff, q), -shift)
    return np.clip(128 + scaled, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class L2NormQuantParams:
    zero_point: int
    uint8: bool


@register("L2_NORMALIZATION", priority=INT8)
class QuantizedL2Normalization(Kernel):
    """int8/uint8 L2_NORMALIZATION over the last axis (output scale 1/128)."""

    def accepts(self, ctx: OpContext) -> bool:
        if not ctx.inputs or ctx.inputs[0] is None or not ctx.outputs:
            return False
        a, o = ctx.inputs[0], ctx.outputs[0]
        return (np.dtype(a.dtype) in _TYPES and np.dtype(o.dtype) == np.dtype(a.dtype)
                and a.quant is not None and o.quant is not None)

    def prepare(self, ctx: OpContext) -> L2NormQuantParams:
        a, o = ctx.input(0), ctx.outputs[0]
        if a.shape is None or len(a.shape) < 1:
            raise ctx.fail("input must have at least one dimension")
        act = int(getattr(ctx.options, "fusedActivationFunction", ACT_NONE) or 0) if ctx.options is not None else 0
        if act != ACT_NONE:
            raise ctx.fail("L2_NORMALIZATION takes no fused activation")
        uint8 = np.dtype(a.dtype) == np.uint8
        s_out, z_out = quant_params(o)
        if float(s_out) != 1.0 / 128.0 or z_out != (128 if uint8 else 0):
            raise ctx.fail(f"output quantization must be scale 1/128, zero_point {128 if uint8 else 0}; "
                           f"got ({s_out}, {z_out})")
        ctx.set_output_shape(0, a.shape)
        return L2NormQuantParams(quant_params(a)[1], uint8)

    def eval(self, p: L2NormQuantParams, inputs, outputs) -> None:
        x = inputs[0]
        if x.size == 0:
            return
        fn = l2norm_uint8_rows if p.uint8 else l2norm_int8_rows
        outputs[0][...] = fn(x, p.zero_point)
