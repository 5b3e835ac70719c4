"""ATAN2: ``atan2(y, x)`` elementwise on two float tensors of one shape.

LiteRT's kernel takes float32 and float64 (and does not broadcast: both inputs must
have the same shape).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.elementwise.atan2_float import Atan2
    >>> t = lambda i, s: TensorInfo(i, "t", s, np.dtype(np.float32), 0)
    >>> ctx = OpContext("ATAN2", 0, 1, None, None, None, [t(0, (2,)), t(1, (2,))], [t(2, None)])
    >>> k = Atan2(); p = k.prepare(ctx); out = np.empty(2, np.float32)
    >>> k.eval(p, [np.array([1, -1], np.float32), np.array([0, 1], np.float32)], [out]); [round(float(v), 4) for v in out]
    [1.5708, -0.7854]
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import is_quantized

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@register("ATAN2")
class Atan2(Kernel):
    """TFLite ATAN2 (input 0 is y, input 1 is x)."""

    def accepts(self, ctx: OpContext) -> bool:
        a, b, o = ctx.optional_input(0), ctx.optional_input(1), ctx.outputs[0]
        if a is None or b is None or any(is_quantized(t) for t in (a, b, o)):
            return False
        return a.dtype == b.dtype == o.dtype and a.dtype in _FLOATS

    def prepare(self, ctx: OpContext):
        a, b = ctx.input(0).shape, ctx.input(1).shape
        if tuple(a) != tuple(b):
            raise ctx.fail(f"inputs must have the same shape, got {tuple(a)} and {tuple(b)}")
        ctx.set_output_shape(0, a)

    def eval(self, params, inputs, outputs):
        np.arctan2(inputs[0], inputs[1], out=outputs[0])
