"""Float32 L2_NORMALIZATION over the last axis.

Computed in float64 and rounded once to float32 (LiteRT computes in float32; the two
agree to about 1e-6 relative).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.normalization.l2norm_float import L2Normalization
    >>> t = lambda i: TensorInfo(i, "t", (1, 2) if i == 0 else None, np.dtype(np.float32), 0)
    >>> ctx = OpContext("L2_NORMALIZATION", 0, 1, None, None, None, [t(0)], [t(1)])
    >>> k = L2Normalization(); p = k.prepare(ctx); out = np.empty((1, 2), np.float32)
    >>> k.eval(p, [np.array([[3.0, 4.0]], np.float32)], [out]); out.tolist()
    [[0.6000000238418579, 0.800000011920929]]
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.kernels.base import OpContext, register
from edgelite.interpreter.kernels.common import ACT_NONE, LastAxisFloatKernel, option

# TFLite's L2 normalisation divides by max(||x||, 1e-6).
L2_EPSILON = 1e-6


@register("L2_NORMALIZATION")
class L2Normalization(LastAxisFloatKernel):
    """``x / max(sqrt(sum(x^2)), 1e-6)`` over the last axis (no fused activation)."""

    def prepare(self, ctx: OpContext):
        super().prepare(ctx)
        if int(option(ctx, "fusedActivationFunction", ACT_NONE)) != ACT_NONE:
            raise ctx.fail("L2_NORMALIZATION takes no fused activation")

    def eval(self, params, inputs, outputs):
        x = inputs[0].astype(np.float64)
        norm = np.sqrt((x * x).sum(axis=-1, keepdims=True))
        np.copyto(outputs[0], x / np.maximum(norm, L2_EPSILON), casting="unsafe")
