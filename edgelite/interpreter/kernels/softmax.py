"""Float32 normalisations over the last axis: SOFTMAX (with ``beta``), LOG_SOFTMAX,
L2_NORMALIZATION.

Each is computed in float64 and rounded once to float32 (LiteRT computes in float32;
the two agree to about 1e-6 relative).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.softmax import Softmax
    >>> from edgelite.schema.fb.SoftmaxOptions import SoftmaxOptionsT
    >>> o = SoftmaxOptionsT(); o.beta = 1.0
    >>> t = lambda i: TensorInfo(i, "t", (1, 2) if i == 0 else None, np.dtype(np.float32), 0)
    >>> ctx = OpContext("SOFTMAX", 0, 1, o, None, None, [t(0)], [t(1)])
    >>> k = Softmax(); p = k.prepare(ctx); out = np.empty((1, 2), np.float32)
    >>> k.eval(p, [np.zeros((1, 2), np.float32)], [out]); out.tolist()
    [[0.5, 0.5]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import ACT_NONE, is_quantized, option

_F32 = np.dtype(np.float32)
# TFLite's L2 normalisation divides by max(||x||, 1e-6).
L2_EPSILON = 1e-6


@dataclass(frozen=True)
class SoftmaxParams:
    beta: float


class _LastAxisFloat(Kernel):
    min_rank = 1

    def accepts(self, ctx: OpContext) -> bool:
        x, o = ctx.optional_input(0), ctx.outputs[0]
        return x is not None and x.dtype == _F32 and o.dtype == _F32 and not (is_quantized(x) or is_quantized(o))

    def prepare(self, ctx: OpContext):
        shape = ctx.input(0).shape
        if len(shape) < self.min_rank:
            raise ctx.fail(f"input must have rank >= {self.min_rank}, got shape {shape}")
        ctx.set_output_shape(0, shape)


@register("SOFTMAX")
class Softmax(_LastAxisFloat):
    """``exp(beta * (x - max)) / sum(exp(beta * (x - max)))`` over the last axis."""

    def prepare(self, ctx: OpContext) -> SoftmaxParams:
        super().prepare(ctx)
        return SoftmaxParams(float(np.float32(option(ctx, "beta", 0.0))))

    def eval(self, params: SoftmaxParams, inputs, outputs):
        x = inputs[0].astype(np.float64)
        e = np.exp((x - x.max(axis=-1, keepdims=True)) * params.beta)
        np.copyto(outputs[0], e / e.sum(axis=-1, keepdims=True), casting="unsafe")


@register("LOG_SOFTMAX")
class LogSoftmax(_LastAxisFloat):
    """``(x - max) - log(sum(exp(x - max)))`` over the last axis."""

    def eval(self, params, inputs, outputs):
        x = inputs[0].astype(np.float64)
        s = x - x.max(axis=-1, keepdims=True)
        np.copyto(outputs[0], s - np.log(np.exp(s).sum(axis=-1, keepdims=True)), casting="unsafe")


@register("L2_NORMALIZATION")
class L2Normalization(_LastAxisFloat):
    """``x / max(sqrt(sum(x^2)), 1e-6)`` over the last axis (no fused activation)."""

    def prepare(self, ctx: OpContext):
        super().prepare(ctx)
        if int(option(ctx, "fusedActivationFunction", ACT_NONE)) != ACT_NONE:
            raise ctx.fail("L2_NORMALIZATION takes no fused activation")

    def eval(self, params, inputs, outputs):
        x = inputs[0].astype(np.float64)
        norm = np.sqrt((x * x).sum(axis=-1, keepdims=True))
        np.copyto(outputs[0], x / np.maximum(norm, L2_EPSILON), casting="unsafe")
