"""SLICE and STRIDED_SLICE (TensorFlow's begin/end/ellipsis/new_axis/shrink masks and
TFLite's ``offset`` option), as pure data movement for every dtype.

STRIDED_SLICE's specification is turned into a numpy index once, in ``prepare``: an
ellipsis bit becomes ``...``, a new-axis bit ``None``, a shrink bit an integer index and
everything else a ``slice`` whose masked ends are open. Python's slice rules (negative
indices count from the end, out-of-range ends clamp) are TensorFlow's.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.movement.slice import strided_slice_index
    >>> strided_slice_index((4, 5), [1, -1], [3, 0], [1, -2], begin_mask=0, end_mask=2)
    (slice(1, 3, 1), slice(-1, None, -2))
"""

from __future__ import annotations

import numpy as np

from edgelite.errors import ShapeError
from edgelite.interpreter.kernels.base import OpContext, register
from edgelite.interpreter.kernels.common import (
    Static,
    ValueShapedKernel,
    movement_accepts,
    option,
)


@register("SLICE")
class Slice(ValueShapedKernel):
    """Inputs ``(x, begin, size)``; a size of -1 takes the rest of the dimension."""

    value_inputs = (1, 2)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx, strings=True)

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        begin = [int(v) for v in np.asarray(values[1]).reshape(-1)]
        size = [int(v) for v in np.asarray(values[2]).reshape(-1)]
        if len(begin) != len(shape) or len(size) != len(shape):
            raise static.fail(f"begin {begin} and size {size} need one value per dimension of {shape}")
        index, out = [], []
        for d, (b, s, n) in enumerate(zip(begin, size, shape)):
            if s == -1:
                s = n - b
            if b < 0 or s < 0 or b + s > n:
                raise static.fail(f"begin {b} size {s} is outside dimension {d} of size {n}")
            index.append(slice(b, b + s))
            out.append(s)
        return tuple(index), [tuple(out)]

    def run(self, index, inputs, outputs):
        np.copyto(outputs[0], inputs[0][index])


def strided_slice_index(shape, begin, end, strides, begin_mask=0, end_mask=0, ellipsis_mask=0,
                        new_axis_mask=0, shrink_axis_mask=0, offset=False) -> tuple:
    """The numpy index equal to a TF/TFLite strided slice of a tensor of ``shape``.

    Raises:
        ShapeError: zero stride, several ellipses, too many indices, or a shrunk index
            outside its dimension.
    """
    n = len(begin)
    if len(end) != n or len(strides) != n:
        raise ShapeError(f"begin {list(begin)}, end {list(end)} and strides {list(strides)} differ in length")
    if (ellipsis_mask & ((1 << n) - 1)).bit_count() > 1:
        raise ShapeError("at most one ellipsis is allowed")
    consumed = sum(
        1 for i in range(n) if not (ellipsis_mask >> i) & 1 and not (new_axis_mask >> i) & 1
    )
    if consumed > len(shape):
        raise ShapeError(f"{consumed} indices for a tensor of rank {len(shape)}")
    index: list = []
    dim = 0  # input dimension the next entry indexes
    for i in range(n):
        bit = 1 << i
        if ellipsis_mask & bit:
            index.append(Ellipsis)
            dim += len(shape) - consumed
            continue
        if new_axis_mask & bit:
            index.append(None)
            continue
        b, e, s = int(begin[i]), int(end[i]), int(strides[i])
        if offset:
            e += b
        if s == 0:
            raise ShapeError(f"stride {i} is zero")
        size = shape[dim]
        if shrink_axis_mask & bit:
            k = b + size if b < 0 else b
            if not 0 <= k < size:
                raise ShapeError(f"shrunk index {b} is outside dimension {dim} of size {size}")
            index.append(k)
        else:
            index.append(slice(None if begin_mask & bit else b, None if end_mask & bit else e, s))
        dim += 1
    return tuple(index)


@register("STRIDED_SLICE")
class StridedSlice(ValueShapedKernel):
    """Inputs ``(x, begin, end, strides)`` with StridedSliceOptions' masks."""

    value_inputs = (1, 2, 3)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx, strings=True)

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        o = static.options
        begin, end = np.asarray(values[1]).reshape(-1), np.asarray(values[2]).reshape(-1)
        strides = np.asarray(values[3]).reshape(-1) if 3 in values else np.ones(len(begin), np.int64)
        try:
            index = strided_slice_index(
                shape, begin, end, strides,
                begin_mask=int(option(o, "beginMask", 0)), end_mask=int(option(o, "endMask", 0)),
                ellipsis_mask=int(option(o, "ellipsisMask", 0)), new_axis_mask=int(option(o, "newAxisMask", 0)),
                shrink_axis_mask=int(option(o, "shrinkAxisMask", 0)), offset=bool(option(o, "offset", False)),
            )
        except ShapeError as e:
            raise static.fail(str(e)) from None
        out_shape = np.broadcast_to(np.zeros((), np.bool_), shape)[index].shape  # a view: no copy
        return index, [out_shape]

    def run(self, index, inputs, outputs):
        np.copyto(outputs[0], inputs[0][index])
