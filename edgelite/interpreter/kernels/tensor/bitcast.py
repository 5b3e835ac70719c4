"""BITCAST: reinterpret a tensor's bytes as another element type (``tf.bitcast``).

With equal element sizes the shape is unchanged; casting to a narrower type appends a
dimension of ``in_size / out_size``; casting to a wider type needs a last dimension of
``out_size / in_size`` and drops it. Data is little-endian on both sides, so a numpy
``view`` is exact.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.tensor.bitcast import bitcast_shape
    >>> bitcast_shape((3,), np.dtype(np.float32), np.dtype(np.uint8))
    (3, 4)
    >>> np.array([1.0], np.float32).view(np.int32).tolist()
    [1065353216]
"""

from __future__ import annotations

import numpy as np

from edgelite.errors import ShapeError
from edgelite.interpreter.kernels.base import Kernel, OpContext, register


def bitcast_shape(shape, src: np.dtype, dst: np.dtype) -> tuple[int, ...]:
    """The output shape of a bitcast of ``shape`` from ``src`` to ``dst`` elements."""
    a, b = np.dtype(src).itemsize, np.dtype(dst).itemsize
    shape = tuple(int(d) for d in shape)
    if a == b:
        return shape
    if a > b:
        if a % b:
            raise ShapeError(f"BITCAST: {a}-byte elements do not split into {b}-byte ones")
        return shape + (a // b,)
    if not shape or shape[-1] != b // a:
        raise ShapeError(f"BITCAST: the last dimension of {shape} must be {b // a} to make {b}-byte elements")
    return shape[:-1]


@register("BITCAST")
class Bitcast(Kernel):
    def accepts(self, ctx: OpContext) -> bool:
        x = ctx.optional_input(0)
        return x is not None and x.dtype.kind in "biuf" and ctx.outputs[0].dtype.kind in "biuf"

    def prepare(self, ctx: OpContext):
        x = ctx.input(0)
        try:
            shape = bitcast_shape(x.shape, x.dtype, ctx.outputs[0].dtype)
        except ShapeError as e:
            raise ctx.fail(str(e)) from None
        ctx.set_output_shape(0, shape)
        return ctx.outputs[0].dtype

    def eval(self, params, inputs, outputs):
        out = outputs[0]
        src = np.ascontiguousarray(inputs[0])
        out[...] = src.reshape(-1).view(np.uint8).view(params).reshape(out.shape)
