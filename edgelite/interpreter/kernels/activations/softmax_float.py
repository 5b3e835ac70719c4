"""Float32 SOFTMAX (with ``beta``) and LOG_SOFTMAX over the last axis.

Each is computed in float64 and rounded once to float32 (LiteRT computes in float32;
the two agree to about 1e-6 relative).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.activations.softmax_float import Softmax
    >>> from edgelite.schema.fb.SoftmaxOptions import SoftmaxOptionsT
    >>> o = SoftmaxOptionsT(); o.beta = 1.0
    >>> t = lambda i: TensorInfo(i, "t", (1, 2) if i == 0 else None, np.dtype(np.float32), 0)
    >>> ctx = OpContext("SOFTMAX", 0, 1, o, None, None, [t(0)], [t(1)])
    >>> k = Softmax(); p = k.prepare(ctx); out = np.empty((1, 2), np.float32)
    >>> k.eval(p, [np.zeros((1, 2), np.float32)], [out]); out.tolist()
    [[0.5, 0.5]]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.kernels.base import OpContext, register
from edgelite.interpreter.kernels.common import LastAxisFloatKernel, option

@dataclass(frozen=True)
class SoftmaxParams:
    beta: float


@register("SOFTMAX")
class Softmax(LastAxisFloatKernel):
    """``exp(beta * (x - max)) / sum(exp(beta * (x - max)))`` over the last axis."""

    def prepare(self, ctx: OpContext) -> SoftmaxParams:
        super().prepare(ctx)
        return SoftmaxParams(float(np.float32(option(ctx, "beta", 0.0))))

    def eval(self, params: SoftmaxParams, inputs, outputs):
        x = inputs[0].astype(np.float64)
        e = np.exp((x - x.max(axis=-1, keepdims=True)) * params.beta)
        np.copyto(outputs[0], e / e.sum(axis=-1, keepdims=True), casting="unsafe")

    def bind(self, params: SoftmaxParams, inputs, outputs):
        """``eval``'s numpy steps as prepared calls on float64 scratch made once
        (``compute.bound``): the same ufuncs in the same order, so the same bits, without
        allocating the temporaries on every run (half of a small softmax's time)."""
        x, out = inputs[0], outputs[0]
        if x.size == 0 or x.ndim == 0:
            return None
        kept = x.shape[:-1] + (1,)
        w, m, s = np.empty(x.shape, np.float64), np.empty(kept, np.float64), np.empty(kept, np.float64)
        return [
            (np.copyto, (w, x)),                            # x.astype(float64)
            (np.maximum.reduce, (w, -1, None, m, True)),    # x.max(axis=-1, keepdims=True)
            (np.subtract, (w, m, w)),
            (np.multiply, (w, params.beta, w)),
            (np.exp, (w, w)),
            (np.add.reduce, (w, -1, None, s, True)),        # e.sum(axis=-1, keepdims=True)
            (np.divide, (w, s, w)),
            (np.copyto, (out, w, "unsafe")),
        ]


@register("LOG_SOFTMAX")
class LogSoftmax(LastAxisFloatKernel):
    """``(x - max) - log(sum(exp(x - max)))`` over the last axis."""

    def eval(self, params, inputs, outputs):
        x = inputs[0].astype(np.float64)
        s = x - x.max(axis=-1, keepdims=True)
        np.copyto(outputs[0], s - np.log(np.exp(s).sum(axis=-1, keepdims=True)), casting="unsafe")
