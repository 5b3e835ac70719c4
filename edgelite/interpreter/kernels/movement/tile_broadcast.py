"""Repeating a tensor: TILE (by ``multiples``) and BROADCAST_TO (numpy broadcasting to
a given shape), as pure data movement for every dtype.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.movement.tile_broadcast import Tile
    >>> x = TensorInfo(0, "x", (2, 3), np.dtype(np.float32), 0)
    >>> m = TensorInfo(1, "m", (2,), np.dtype(np.int32), 2, data=np.array([2, 1], np.int32))
    >>> ctx = OpContext("TILE", 0, 1, None, None, None, [x, m], [TensorInfo(2, "y", None, x.dtype, 0)])
    >>> p = Tile().prepare(ctx); ctx.output_shapes[0]
    (4, 3)
"""

from __future__ import annotations

import numpy as np

from edgelite.errors import ShapeError
from edgelite.interpreter.kernels.base import OpContext, register
from edgelite.interpreter.kernels.common import (
    Static,
    ValueShapedKernel,
    broadcast_shapes,
    movement_accepts,
)


@register("TILE")
class Tile(ValueShapedKernel):
    """Inputs ``(x, multiples)``: ``out.shape[i] = x.shape[i] * multiples[i]``."""

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx, strings=True)

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        reps = tuple(int(m) for m in np.asarray(values[1]).reshape(-1))
        if len(reps) != len(shape) or any(m < 0 for m in reps):
            raise static.fail(f"multiples {list(reps)} need one non-negative value per dimension of {shape}")
        return reps, [tuple(n * m for n, m in zip(shape, reps))]

    def run(self, reps, inputs, outputs):
        np.copyto(outputs[0], np.tile(inputs[0], reps))


@register("BROADCAST_TO")
class BroadcastTo(ValueShapedKernel):
    """Inputs ``(x, shape)``: broadcast ``x`` to ``shape`` (at most 8 dimensions)."""

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx)

    def plan(self, static: Static, shapes, values):
        target = tuple(int(d) for d in np.asarray(values[1]).reshape(-1))
        try:
            if broadcast_shapes(shapes[0], target) != target:
                raise ShapeError("")
        except ShapeError:
            raise static.fail(f"cannot broadcast {shapes[0]} to {list(target)}") from None
        if len(target) > 8:
            raise static.fail(f"BROADCAST_TO supports at most 8 dimensions, got {len(target)}")
        return None, [target]

    def run(self, plan, inputs, outputs):
        np.copyto(outputs[0], np.broadcast_to(inputs[0], outputs[0].shape))
