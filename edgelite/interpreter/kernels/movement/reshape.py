"""Shape-only data movement: RESHAPE, SQUEEZE, EXPAND_DIMS, and SHAPE.

They copy the input bytes unchanged, so they take every numeric dtype, quantized ones
too, as long as input and output share scale and zero point (otherwise a requantizing
kernel must run and ``accepts`` says no).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.movement.reshape import Reshape
    >>> x = TensorInfo(0, "x", (2, 6), np.dtype(np.int8), 9)
    >>> s = TensorInfo(1, "s", (2,), np.dtype(np.int32), 2, data=np.array([3, -1], np.int32))
    >>> ctx = OpContext("RESHAPE", 0, 1, None, None, None, [x, s], [TensorInfo(2, "y", None, np.dtype(np.int8), 9)])
    >>> p = Reshape().prepare(ctx); ctx.output_shapes[0]
    (3, 4)
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.compute import bound
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import (
    Static,
    ValueShapedKernel,
    _Planned,
    movement_accepts,
    normalize_axis,
    option,
)


def infer_shape(static: Static, requested, size: int) -> tuple[int, ...]:
    """``requested`` with its single -1 replaced so that it holds ``size`` elements."""
    dims = [int(d) for d in requested]
    unknown = [i for i, d in enumerate(dims) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in dims):
        raise static.fail(f"new shape {dims} may hold one -1 and no other negative value")
    known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
    if unknown:
        if known == 0 or size % known:
            raise static.fail(f"cannot infer the -1 of {dims} for {size} elements")
        dims[unknown[0]] = size // known
    elif known != size:
        raise static.fail(f"cannot reshape {size} elements to {dims}")
    return tuple(dims)


def _copy(inputs, outputs):
    np.copyto(outputs[0], inputs[0].reshape(outputs[0].shape))


def _bind_copy(self, params, inputs, outputs):
    """``_copy`` as one prepared call (``compute.bound``): the input's reshaped view made once."""
    if not isinstance(params, _Planned) or not bound.contiguous(inputs[0]):
        return None  # dynamic shapes: eval plans and allocates per run
    return [(np.copyto, (outputs[0], inputs[0].reshape(outputs[0].shape)))]


@register("RESHAPE")
class Reshape(ValueShapedKernel):
    """New shape from input 1 when it is a 1-D tensor, else from ``newShape``; one -1
    is inferred. A legacy new shape ``[0]`` means a scalar."""

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx, strings=True)

    def plan(self, static: Static, shapes, values):
        size = int(np.prod(shapes[0], dtype=np.int64))
        if 1 in values and values[1].ndim == 1:
            requested = values[1].tolist()
        else:
            # Vector options arrive as numpy arrays from the generated code: no truthiness.
            new_shape = option(static.options, "newShape", None)
            requested = [] if new_shape is None else [int(d) for d in new_shape]
        if requested == [0] and size == 1:
            requested = []
        return None, [infer_shape(static, requested, size)]

    def run(self, plan, inputs, outputs):
        _copy(inputs, outputs)

    bind = _bind_copy


@register("SQUEEZE")
class Squeeze(Kernel):
    """Drop the size-1 dimensions listed in ``squeezeDims`` (all of them when empty)."""

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx, strings=True)

    def prepare(self, ctx: OpContext):
        shape = ctx.input(0).shape
        squeeze_dims = option(ctx, "squeezeDims", None)
        dims = [] if squeeze_dims is None else [int(d) for d in squeeze_dims]
        if not dims:
            out = tuple(d for d in shape if d != 1)
        else:
            drop = set()
            for d in dims:
                a = normalize_axis(int(d), len(shape), f"{ctx.op_name} (operator {ctx.op_index}): ")
                if shape[a] != 1:
                    raise ctx.fail(f"cannot squeeze dimension {a} of size {shape[a]} in {shape}")
                drop.add(a)
            out = tuple(n for i, n in enumerate(shape) if i not in drop)
        ctx.set_output_shape(0, out)

    def eval(self, params, inputs, outputs):
        _copy(inputs, outputs)


@register("EXPAND_DIMS")
class ExpandDims(ValueShapedKernel):
    """Insert a size-1 dimension at the axis in input 1 (in ``[-rank-1, rank]``)."""

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx, strings=True)

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        axis = np.asarray(values[1]).reshape(-1)
        if axis.size != 1:
            raise static.fail(f"axis must hold one value, got {axis.tolist()}")
        a = int(axis[0])
        if not -len(shape) - 1 <= a <= len(shape):
            raise static.fail(f"axis {a} is out of range for rank {len(shape)}")
        if a < 0:
            a += len(shape) + 1
        return None, [shape[:a] + (1,) + shape[a:]]

    def run(self, plan, inputs, outputs):
        _copy(inputs, outputs)

    bind = _bind_copy


@register("SHAPE")
class Shape(Kernel):
    """The input's shape as a 1-D int32 or int64 tensor (``outType``)."""

    def accepts(self, ctx: OpContext) -> bool:
        return ctx.outputs[0].dtype in (np.dtype(np.int32), np.dtype(np.int64))

    def prepare(self, ctx: OpContext):
        shape = ctx.input(0).shape
        ctx.set_output_shape(0, (len(shape),))

    def eval(self, params, inputs, outputs):
        outputs[0][...] = inputs[0].shape
