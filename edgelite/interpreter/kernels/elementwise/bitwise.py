"""Integer bit operations: BITWISE_XOR and RIGHT_SHIFT.

LiteRT takes int8/16/32 and uint8/16/32 for both (not int64), with numpy-style
broadcasting of up to 4 dimensions. RIGHT_SHIFT clamps the shift count to
``[0, bits - 1]`` before shifting (so it never has C++'s undefined behaviour), and a
signed value shifts arithmetically.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.elementwise.bitwise import RightShift
    >>> t = lambda i, s: TensorInfo(i, "t", s, np.dtype(np.int32), 2)
    >>> ctx = OpContext("RIGHT_SHIFT", 0, 1, None, None, None, [t(0, (3,)), t(1, (3,))], [t(2, None)])
    >>> k = RightShift(); p = k.prepare(ctx); out = np.empty(3, np.int32)
    >>> k.eval(p, [np.array([-64, 64, 5], np.int32), np.array([1, 40, -1], np.int32)], [out]); out.tolist()
    [-32, 0, 5]
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import broadcast_output, is_quantized

_INTS = tuple(np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32))


class _BitBinary(Kernel):
    """Two same-typed integer inputs, broadcast (at most 4-D), output of the same type."""

    def accepts(self, ctx: OpContext) -> bool:
        a, b, o = ctx.optional_input(0), ctx.optional_input(1), ctx.outputs[0]
        if a is None or b is None or any(is_quantized(t) for t in (a, b, o)):
            return False
        return a.dtype == b.dtype == o.dtype and a.dtype in _INTS

    def prepare(self, ctx: OpContext):
        a, b = ctx.input(0).shape, ctx.input(1).shape
        max_rank = 6 if tuple(a) == tuple(b) else 4
        ctx.set_output_shape(0, broadcast_output(ctx, 0, 1, max_rank=max_rank))


@register("BITWISE_XOR")
class BitwiseXor(_BitBinary):
    """TFLite BITWISE_XOR."""

    def eval(self, params, inputs, outputs):
        np.bitwise_xor(inputs[0], inputs[1], out=outputs[0])


@register("RIGHT_SHIFT")
class RightShift(_BitBinary):
    """TFLite RIGHT_SHIFT: ``x >> clamp(y, 0, bits - 1)``."""

    def prepare(self, ctx: OpContext):
        super().prepare(ctx)
        return ctx.input(0).dtype.itemsize * 8 - 1

    def eval(self, params, inputs, outputs):
        shift = np.clip(inputs[1], 0, params).astype(inputs[0].dtype)
        np.right_shift(inputs[0], shift, out=outputs[0])
