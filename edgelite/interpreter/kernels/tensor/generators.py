"""Making tensors from shapes and scalars: ZEROS_LIKE, FILL, RANGE, ONE_HOT.

RANGE has a value-dependent output shape: dynamic unless its inputs are constant.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.tensor.generators import range_values
    >>> range_values(np.int32, 3, 10, 3).tolist()
    [3, 6, 9]
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import (
    Static,
    ValueShapedKernel,
    is_quantized,
    movement_accepts,
    option,
)


@register("ZEROS_LIKE")
class ZerosLike(Kernel):
    def accepts(self, ctx: OpContext) -> bool:
        x = ctx.optional_input(0)
        return x is not None and not is_quantized(x) and x.dtype == ctx.outputs[0].dtype

    def prepare(self, ctx: OpContext):
        ctx.set_output_shape(0, ctx.input(0).shape)

    def eval(self, params, inputs, outputs):
        outputs[0].fill(0)


@register("FILL")
class Fill(ValueShapedKernel):
    """Inputs ``(dims, value)``: a tensor of shape ``dims`` holding ``value`` (stored
    as is, so a quantized value keeps its quantization)."""

    value_inputs = (0,)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx, (1,))

    def plan(self, static: Static, shapes, values):
        dims = tuple(int(d) for d in np.asarray(values[0]).reshape(-1))
        if any(d < 0 for d in dims):
            raise static.fail(f"dims {list(dims)} must not be negative")
        return None, [dims]

    def run(self, plan, inputs, outputs):
        outputs[0].fill(inputs[1].reshape(-1)[0])


def range_values(dtype, start, limit, delta) -> np.ndarray:
    """``start, start + delta, ...`` up to (not including) ``limit``, of ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        n = int(np.ceil(abs((float(limit) - float(start)) / float(delta))))
    else:
        start, limit, delta = int(start), int(limit), int(delta)
        n = (abs(limit - start) + abs(delta) - 1) // abs(delta)
    if (limit - start) * delta < 0:
        n = 0
    return (np.asarray(start, dtype) + np.arange(n, dtype=dtype) * np.asarray(delta, dtype)).astype(dtype)


@register("RANGE")
class Range(ValueShapedKernel):
    """Inputs ``(start, limit, delta)`` scalars of int32, int64 or float32."""

    value_inputs = (0, 1, 2)

    def accepts(self, ctx: OpContext) -> bool:
        o = ctx.outputs[0]
        return o.dtype in (np.float32, np.int32, np.int64) and all(
            t is not None and t.dtype == o.dtype for t in ctx.inputs[:3]
        )

    def plan(self, static: Static, shapes, values):
        start, limit, delta = (np.asarray(values[i]).reshape(-1)[0] for i in range(3))
        if delta == 0:
            raise static.fail("delta must not be zero")
        r = range_values(static.out_dtypes[0], start, limit, delta)
        return r, [r.shape]

    def run(self, r, inputs, outputs):
        np.copyto(outputs[0], r)


@register("ONE_HOT")
class OneHot(ValueShapedKernel):
    """Inputs ``(indices, depth, on_value, off_value)``; a new dimension of size
    ``depth`` at ``axis`` (-1: last; the schema default is 0) is ``on_value`` where it equals the index."""

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        ind = ctx.optional_input(0)
        return ind is not None and ind.dtype in (np.int32, np.int64) and movement_accepts(ctx, (2, 3))

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        depth = int(np.asarray(values[1]).reshape(-1)[0])
        axis = int(option(static.options, "axis", 0))
        if depth < 0:
            raise static.fail(f"depth {depth} must not be negative")
        if not -1 <= axis <= len(shape):
            raise static.fail(f"axis {axis} is out of range for indices of rank {len(shape)}")
        if axis == -1:
            axis = len(shape)
        return (axis, depth), [shape[:axis] + (depth,) + shape[axis:]]

    def run(self, plan, inputs, outputs):
        axis, depth = plan
        ind = np.expand_dims(inputs[0], axis)
        positions = np.arange(depth).reshape((depth,) + (1,) * (inputs[0].ndim - axis))
        np.copyto(outputs[0], np.where(ind == positions, inputs[2].reshape(()), inputs[3].reshape(())))
