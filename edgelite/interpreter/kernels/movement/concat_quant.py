"""Quantized CONCATENATION (int8 / uint8 / int16), as LiteRT's ``concatenation.cc``.

* uint8: an input whose scale and zero point equal the output's is copied; another
  is rescaled as ``ConcatenationWithScaling`` does, in float32:
``q_out = round(q_in * (s_in / s_out) - zp_in * (s_in / s_out)) + zp_out``, clamped
  (``scale = s_in * (1 / s_out)``, ``bias = -zp_in * scale``).
* int8: every input must share the output's scale and zero point (LiteRT refuses
  the model otherwise); the values are copied.
* int16: the stored values are copied whatever the inputs' quantization (what
  LiteRT does; differing scales are not rescaled).

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> [type(k).__name__ for k in kernels_for("CONCATENATION") if "Quant" in type(k).__name__]
    ['QuantizedConcatenation']
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.kernels.base import INT8, Kernel, OpContext, register
from edgelite.interpreter.kernels.elementwise.elementwise_quant import activation_range, dtype_range, is_quantized, quant_params

f32 = np.float32


@dataclass(frozen=True)
class ConcatParams:
    axis: int
    # per input: None (copy) or (scale, bias) float32 for the rescale
    rescale: tuple
    out_zp: int
    qmin: int
    qmax: int
    bounds: tuple[int, ...]


@register("CONCATENATION", priority=INT8)
class QuantizedConcatenation(Kernel):
    """Concatenate quantized tensors along ``axis``, requantizing inputs whose parameters differ."""

    def accepts(self, ctx: OpContext) -> bool:
        if not ctx.inputs or not ctx.outputs:
            return False
        o = ctx.outputs[0]
        return is_quantized(o) and all(is_quantized(t) and t.dtype == o.dtype for t in ctx.inputs)

    def prepare(self, ctx: OpContext) -> ConcatParams:
        o = ctx.outputs[0]
        shapes = [tuple(t.shape) for t in ctx.inputs]
        rank = len(shapes[0])
        axis = int(getattr(ctx.options, "axis", 0)) if ctx.options is not None else 0
        axis = axis + rank if axis < 0 else axis
        if not 0 <= axis < max(rank, 1):
            raise ctx.fail(f"axis out of range for rank {rank}")
        for s in shapes:
            if len(s) != rank or any(s[d] != shapes[0][d] for d in range(rank) if d != axis):
                raise ctx.fail(f"input shapes {shapes} differ outside axis {axis}")
        out_shape = list(shapes[0])
        out_shape[axis] = sum(s[axis] for s in shapes)
        ctx.set_output_shape(0, out_shape)
        s_out, z_out = quant_params(o)
        inv = f32(1.0) / f32(s_out)
        rescale = []
        kind = np.dtype(o.dtype)
        for t in ctx.inputs:
            s, z = quant_params(t)
            if (s == s_out and z == z_out) or kind == np.int16:
                rescale.append(None)
            elif kind == np.int8:
                raise ctx.fail("int8 inputs must share the output's scale and zero_point")
            else:
                scale = f32(f32(s) * inv)
                rescale.append((scale, f32(f32(-z) * scale)))
        act = int(getattr(ctx.options, "fusedActivationFunction", 0) or 0) if ctx.options is not None else 0
        qmin, qmax = activation_range(ctx, act, o) if act else dtype_range(o.dtype)
        bounds = tuple(np.cumsum([0] + [s[axis] for s in shapes]).tolist())
        return ConcatParams(axis, tuple(rescale), z_out, qmin, qmax, bounds)

    def eval(self, p: ConcatParams, inputs, outputs) -> None:
        out = outputs[0]
        for k, (x, rs) in enumerate(zip(inputs, p.rescale)):
            idx = [slice(None)] * out.ndim
            idx[p.axis] = slice(p.bounds[k], p.bounds[k + 1])
            dst = out[tuple(idx)]
            if rs is None:
                dst[...] = x
            else:
                v = x.astype(np.float32) * rs[0] + rs[1]
                r = np.sign(v) * np.floor(np.abs(v) + f32(0.5))  # TfLiteRound
                dst[...] = np.clip(r.astype(np.int64) + p.out_zp, p.qmin, p.qmax)
