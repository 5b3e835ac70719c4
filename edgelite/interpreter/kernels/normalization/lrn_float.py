"""LOCAL_RESPONSE_NORMALIZATION (float32, 4-D, over the last axis).

TFLite's formula (LocalResponseNormalizationOptions ``radius``, ``bias``, ``alpha``,
``beta``): for each element at channel ``c``,
``out = x * (bias + alpha * sum(x[c']^2 for max(0, c-radius) <= c' <= min(C-1, c+radius))) ** -beta``
(no division by the window size, unlike ONNX's LRN).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.normalization.lrn_float import lrn_reference
    >>> x = np.array([[[[-1.1, .6, .7, 1.2, -.7, .1]]]], np.float32)
    >>> [round(float(v), 3) for v in lrn_reference(x, 20, 9.0, 4.0, 0.5).ravel()]
    [-0.22, 0.12, 0.14, 0.24, -0.14, 0.02]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import option

_F32 = np.dtype(np.float32)


def lrn_reference(x: np.ndarray, radius: int, bias: float, alpha: float, beta: float) -> np.ndarray:
    """The formula above with numpy (float64 sums, one rounding to float32)."""
    sq = np.square(x.astype(np.float64))
    c = x.shape[-1]
    # Window sums along the last axis from a zero-padded running sum.
    csum = np.concatenate([np.zeros(sq.shape[:-1] + (1,)), np.cumsum(sq, axis=-1)], axis=-1)
    hi = np.minimum(np.arange(c) + radius + 1, c)
    lo = np.maximum(np.arange(c) - radius, 0)
    window = csum[..., hi] - csum[..., lo]
    return (x * np.power(bias + alpha * window, -beta)).astype(np.float32)


@dataclass(frozen=True)
class LrnParams:
    radius: int
    bias: float
    alpha: float
    beta: float


@register("LOCAL_RESPONSE_NORMALIZATION")
class LocalResponseNormalization(Kernel):
    """Float32 local response normalization across the channels (last axis) of 4-D data."""

    def accepts(self, ctx: OpContext) -> bool:
        x = ctx.optional_input(0)
        return x is not None and x.dtype == _F32 and ctx.outputs[0].dtype == _F32

    def prepare(self, ctx: OpContext) -> LrnParams:
        x = ctx.input(0)
        if x.shape is None or len(x.shape) != 4:
            raise ctx.fail(f"input must be 4-D, got shape {x.shape}")
        radius = int(option(ctx, "radius", 0))
        if radius < 0:
            raise ctx.fail(f"radius must be >= 0, got {radius}")
        ctx.set_output_shape(0, x.shape)
        return LrnParams(
            radius,
            float(option(ctx, "bias", 0.0)),
            float(option(ctx, "alpha", 0.0)),
            float(option(ctx, "beta", 0.0)),
        )

    def eval(self, params: LrnParams, inputs, outputs) -> None:
        p = params
        outputs[0][...] = lrn_reference(inputs[0], p.radius, p.bias, p.alpha, p.beta)
