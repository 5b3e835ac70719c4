"""DEQUANTIZE, as LiteRT: activations, and constant weights.

* DEQUANTIZE int8/uint8/int16 activations -> float32: in the vectorized part
  ``q * scale - zp * scale`` (two float32 products and a difference, the wheel's
  vectorized form), and for the ``size % 8`` trailing elements the scalar
  ``float(double(scale) * (q - zp))``; the two differ in the last bit now and then,
  so edgelite follows the same split (measured against LiteRT). This kernel
  (``DequantizeActivation``) takes only non-constant inputs.
* Constant weights: float16 -> float32, and int8 -> float32 with a per-tensor or
  per-channel scale (``real = scale * (q - zero_point)``) (``ConstantWeightDequantize``).
  Models written with float16 or dynamic-range weight compression store weights like
  this and dequantize them once: the float32 result is computed in ``prepare`` and
  ``eval`` only copies it. float16 inputs are accepted constant or not.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, QuantInfo, TensorInfo
    >>> from edgelite.interpreter.kernels.quantization.dequantize import ConstantWeightDequantize
    >>> q = QuantInfo(np.array([0.5, 2.0], np.float32), np.zeros(2, np.int64), quantized_dimension=0)
    >>> w = TensorInfo(0, "w", (2, 2), np.dtype(np.int8), 9, quant=q, data=np.array([[1, 2], [3, 4]], np.int8))
    >>> ctx = OpContext("DEQUANTIZE", 0, 1, None, None, None, [w], [TensorInfo(1, "y", None, np.dtype(np.float32), 0)])
    >>> k = ConstantWeightDequantize(); p = k.prepare(ctx); out = np.empty((2, 2), np.float32)
    >>> k.eval(p, [w.data], [out]); out.tolist()
    [[0.5, 1.0], [6.0, 8.0]]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import bound
from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.kernels.base import INT8, Kernel, OpContext, QuantInfo, register
from edgelite.interpreter.kernels.elementwise.elementwise_quant import is_quantized, quant_params

F32 = np.dtype(np.float32)


def dequantize_int8(q: np.ndarray, quant: QuantInfo) -> np.ndarray:
    """``scale * (q - zero_point)`` in float32, broadcasting per-channel parameters
    along ``quant.quantized_dimension``."""
    scale = quant.scale.astype(np.float32)
    zp = quant.zero_point.astype(np.int32)
    if quant.per_channel:
        shape = [1] * q.ndim
        shape[quant.quantized_dimension] = scale.size
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return ((q.astype(np.int32) - zp).astype(np.float32) * scale).astype(np.float32)


@dataclass(frozen=True)
class DequantizeParams:
    value: np.ndarray | None  # precomputed result for a constant input


@register("DEQUANTIZE")
class ConstantWeightDequantize(Kernel):
    """float16 (any) or constant int8 input -> float32 output."""

    def accepts(self, ctx: OpContext) -> bool:
        x = ctx.optional_input(0)
        if x is None or ctx.outputs[0].dtype != np.float32:
            return False
        if x.dtype == np.float16:
            return True
        return x.dtype == np.int8 and x.is_constant and x.quant is not None and x.quant.scale.size > 0

    def prepare(self, ctx: OpContext) -> DequantizeParams:
        x = ctx.input(0)
        ctx.set_output_shape(0, x.shape)
        if x.dtype == np.int8:
            q = x.quant
            d = q.quantized_dimension
            if q.per_channel and (not 0 <= d < len(x.shape) or x.shape[d] != q.scale.size):
                raise ctx.fail(
                    f"{q.scale.size} scales along dimension {d} of weight shape {x.shape}"
                )
            return DequantizeParams(dequantize_int8(np.asarray(x.data).reshape(x.shape), q))
        if x.is_constant:
            return DequantizeParams(np.asarray(x.data, np.float32).reshape(x.shape))
        return DequantizeParams(None)

    def eval(self, params: DequantizeParams, inputs, outputs):
        np.copyto(outputs[0], params.value if params.value is not None else inputs[0], casting="unsafe")


@dataclass(frozen=True)
class ActivationDequantizeParams:
    scale: float
    zp: int


@register("DEQUANTIZE", priority=INT8)
class DequantizeActivation(Kernel):
    """Non-constant int8/uint8/int16 -> float32: ``q * scale - zp * scale`` in float32."""

    def accepts(self, ctx: OpContext) -> bool:
        if not ctx.inputs or not ctx.outputs:
            return False
        a = ctx.inputs[0]
        return (
            is_quantized(a)
            and not a.is_constant
            and not a.quant.per_channel
            and np.dtype(ctx.outputs[0].dtype) == F32
        )

    def prepare(self, ctx: OpContext) -> ActivationDequantizeParams:
        a = ctx.input(0)
        ctx.set_output_shape(0, a.shape)
        s, z = quant_params(a)
        return ActivationDequantizeParams(s, z)

    def eval(self, p: ActivationDequantizeParams, inputs, outputs) -> None:
        x = inputs[0].reshape(-1)
        out = outputs[0].reshape(-1)
        n = x.shape[0] - x.shape[0] % 8
        s = np.float32(p.scale)
        np.multiply(x[:n], s, out=out[:n], dtype=np.float32)
        out[:n] -= np.float32(p.zp) * s
        out[n:] = (x[n:].astype(np.float64) - p.zp) * float(p.scale)

    def eval_jit(self, p: ActivationDequantizeParams, inputs, outputs) -> None:
        # One pass instead of four numpy calls: most of this op's time on small models.
        s = np.float32(p.scale)
        x = inputs[0].reshape(-1)
        _dequantize_kernel(x, outputs[0].reshape(-1), x.shape[0] - x.shape[0] % 8, s, np.float32(p.zp) * s,
                           float(p.scale), p.zp)

    def bind(self, p: ActivationDequantizeParams, inputs, outputs):
        """``eval_jit`` as one prepared call (``compute.bound``)."""
        if not bound.contiguous(inputs[0], outputs[0]):
            return None
        s = np.float32(p.scale)
        x = inputs[0].reshape(-1)
        return [(_dequantize_kernel, (x, outputs[0].reshape(-1), x.shape[0] - x.shape[0] % 8, s,
                                      np.float32(p.zp) * s, float(p.scale), p.zp))]


@njit
def _dequantize_kernel(x, out, n_vec, s, zs, scale, zp):
    """LiteRT's optimized Dequantize, as ``eval``: the first ``n_vec`` elements (its SIMD
    part, multiples of 8) as float32 ``q * s - zs`` with ``zs = float32(zp) * s``; the
    rest as ``float32((q - zp) * scale)`` in float64."""
    for i in range(n_vec):
        out[i] = np.float32(x[i]) * s - zs
    for i in range(n_vec, x.shape[0]):
        out[i] = np.float32((np.float64(x[i]) - zp) * scale)
