"""DYNAMIC_UPDATE_SLICE: a copy of ``operand`` with ``update`` written at ``start``, as
pure data movement for every dtype (float32, and int8/uint8/int16 with one scale and
zero point on operand, update and output: LiteRT's kernel copies the stored values).

Inputs ``(operand, update, start_indices)``; the output has the operand's shape. As
XLA's DynamicUpdateSlice and LiteRT's ``dynamic_update_slice.cc``, each start index is
clamped to ``[0, operand_dim - update_dim]`` so the update always fits; the indices are
read at run time (a KV cache's write position changes every step).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.movement.dynamic_update_slice import clamped_window
    >>> clamped_window((4, 5), (2, 2), [3, -1])
    (slice(2, 4, None), slice(0, 2, None))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import movement_accepts


def clamped_window(operand_shape: Sequence[int], update_shape: Sequence[int], start) -> tuple[slice, ...]:
    """The index of the update's window: ``start`` clamped so the update fits."""
    return tuple(
        slice(s, s + u)
        for s, u in (
            (min(max(int(b), 0), int(n) - int(u)), int(u)) for b, n, u in zip(start, operand_shape, update_shape)
        )
    )


@register("DYNAMIC_UPDATE_SLICE")
class DynamicUpdateSlice(Kernel):
    """``out = operand; out[clamped(start) : clamped(start) + update.shape] = update``."""

    def accepts(self, ctx: OpContext) -> bool:
        idx = ctx.optional_input(2)
        if idx is None or idx.dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
            return False
        return movement_accepts(ctx, data_inputs=(0, 1))

    def prepare(self, ctx: OpContext):
        operand, update, start = ctx.input(0).shape, ctx.input(1).shape, ctx.input(2).shape
        if len(update) != len(operand) or any(u > n for u, n in zip(update, operand)):
            raise ctx.fail(f"update {tuple(update)} does not fit in operand {tuple(operand)}")
        if tuple(start) != (len(operand),):
            raise ctx.fail(f"start_indices of shape {tuple(start)}, expected ({len(operand)},)")
        ctx.set_output_shape(0, operand)
        return (tuple(operand), tuple(update))

    def eval(self, params, inputs, outputs):
        operand_shape, update_shape = params
        out = outputs[0]
        np.copyto(out, inputs[0])
        out[clamped_window(operand_shape, update_shape, inputs[2])] = inputs[1]
