"""Reordering elements: TRANSPOSE (a permutation of up to 6 dimensions) and REVERSE_V2.

Pure data movement for every dtype; quantized tensors only when the output keeps the
input's scale and zero point.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.movement.transpose_reverse import Transpose
    >>> x = TensorInfo(0, "x", (1, 2, 3), np.dtype(np.float32), 0)
    >>> perm = TensorInfo(1, "perm", (3,), np.dtype(np.int32), 2, data=np.array([2, 0, 1], np.int32))
    >>> ctx = OpContext("TRANSPOSE", 0, 1, None, None, None, [x, perm], [TensorInfo(2, "y", None, x.dtype, 0)])
    >>> p = Transpose().prepare(ctx); ctx.output_shapes[0]
    (3, 1, 2)
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.kernels.base import OpContext, register
from edgelite.interpreter.kernels.common import (
    Static,
    ValueShapedKernel,
    movement_accepts,
)


@register("TRANSPOSE")
class Transpose(ValueShapedKernel):
    """Inputs ``(x, perm)``: ``out.shape[i] = x.shape[perm[i]]``; negative entries count
    from the end."""

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx)

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        rank = len(shape)
        perm = [int(p) + rank if int(p) < 0 else int(p) for p in np.asarray(values[1]).reshape(-1)]
        if sorted(perm) != list(range(rank)):
            raise static.fail(f"perm {np.asarray(values[1]).tolist()} is not a permutation of {rank} dimensions")
        if rank > 6:
            raise static.fail(f"TRANSPOSE supports at most 6 dimensions, got {rank}")
        return tuple(perm), [tuple(shape[p] for p in perm)]

    def run(self, perm, inputs, outputs):
        np.copyto(outputs[0], np.transpose(inputs[0], perm))


@register("REVERSE_V2")
class ReverseV2(ValueShapedKernel):
    """Inputs ``(x, axes)``: reverse the order of elements along each listed axis."""

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx)

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        axes = []
        for a in np.asarray(values[1]).reshape(-1).tolist():
            if not -len(shape) <= a < len(shape):
                raise static.fail(f"axis {a} is out of range for rank {len(shape)}")
            axes.append(a + len(shape) if a < 0 else a)
        return tuple(sorted(set(axes))), [shape]

    def run(self, axes, inputs, outputs):
        np.copyto(outputs[0], np.flip(inputs[0], axes) if axes else inputs[0])
