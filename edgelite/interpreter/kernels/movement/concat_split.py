"""Joining and splitting along an axis: CONCATENATION, PACK, SPLIT, SPLIT_V, UNPACK.

Pure data movement for every numeric dtype; quantized tensors only when all inputs and
outputs share scale and zero point (CONCATENATION of differently quantized inputs is a
requantizing int8 kernel). CONCATENATION's fused activation applies to float32 only.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.movement.concat_split import Concatenation
    >>> from edgelite.schema.fb.ConcatenationOptions import ConcatenationOptionsT
    >>> o = ConcatenationOptionsT(); o.axis = -1
    >>> t = lambda i, s: TensorInfo(i, f"t{i}", s, np.dtype(np.float32), 0)
    >>> ctx = OpContext("CONCATENATION", 0, 1, o, None, None, [t(0, (2, 1)), t(1, (2, 3))], [t(2, None)])
    >>> p = Concatenation().prepare(ctx); ctx.output_shapes[0]
    (2, 4)
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import (
    ACT_NONE,
    Static,
    ValueShapedKernel,
    apply_activation,
    fused_activation,
    movement_accepts,
    option,
)


def _axis(ctx_or_static, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ctx_or_static.fail(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


@dataclass(frozen=True)
class ConcatParams:
    axis: int
    lo: float
    hi: float


@register("CONCATENATION")
class Concatenation(Kernel):
    """Join the inputs along ``axis``; other dimensions must match."""

    def accepts(self, ctx: OpContext) -> bool:
        if not movement_accepts(ctx, tuple(range(len(ctx.inputs)))):
            return False
        act = int(option(ctx, "fusedActivationFunction", ACT_NONE))
        return act == ACT_NONE or ctx.outputs[0].dtype == np.float32

    def prepare(self, ctx: OpContext) -> ConcatParams:
        shapes = [ctx.input(i).shape for i in range(len(ctx.inputs))]
        rank = len(shapes[0])
        axis = _axis(ctx, int(option(ctx, "axis", 0)), rank)
        for i, s in enumerate(shapes):
            if len(s) != rank or s[:axis] != shapes[0][:axis] or s[axis + 1:] != shapes[0][axis + 1:]:
                raise ctx.fail(f"input {i} has shape {s}, incompatible with {shapes[0]} along axis {axis}")
        lo, hi = fused_activation(ctx)
        out = list(shapes[0])
        out[axis] = sum(s[axis] for s in shapes)
        ctx.set_output_shape(0, out)
        return ConcatParams(axis, lo, hi)

    def eval(self, params: ConcatParams, inputs, outputs):
        np.concatenate(inputs, axis=params.axis, out=outputs[0])
        apply_activation(outputs[0], params.lo, params.hi)


@register("PACK")
class Pack(Kernel):
    """Stack ``valuesCount`` same-shaped inputs along a new ``axis``."""

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx, tuple(range(len(ctx.inputs))))

    def prepare(self, ctx: OpContext) -> int:
        shape = ctx.input(0).shape
        n = len(ctx.inputs)
        count = int(option(ctx, "valuesCount", n))
        if count != n:
            raise ctx.fail(f"valuesCount is {count} but the operator has {n} inputs")
        for i in range(n):
            if ctx.input(i).shape != shape:
                raise ctx.fail(f"input {i} has shape {ctx.input(i).shape}, input 0 has {shape}")
        axis = _axis(ctx, int(option(ctx, "axis", 0)), len(shape) + 1)
        ctx.set_output_shape(0, shape[:axis] + (n,) + shape[axis:])
        return axis

    def eval(self, axis: int, inputs, outputs):
        np.stack(inputs, axis=axis, out=outputs[0])


@register("UNPACK")
class Unpack(Kernel):
    """Split the input along ``axis`` into ``num`` outputs without that dimension."""

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx)

    def prepare(self, ctx: OpContext) -> int:
        shape = ctx.input(0).shape
        axis = _axis(ctx, int(option(ctx, "axis", 0)), len(shape))
        num = int(option(ctx, "num", 0)) or shape[axis]
        if num != shape[axis] or num != len(ctx.outputs):
            raise ctx.fail(f"num = {num}, dimension {axis} is {shape[axis]}, outputs {len(ctx.outputs)}")
        for k in range(num):
            ctx.set_output_shape(k, shape[:axis] + shape[axis + 1:])
        return axis

    def eval(self, axis: int, inputs, outputs):
        x = inputs[0]
        for k, out in enumerate(outputs):
            np.copyto(out, np.take(x, k, axis=axis))


def _split_into(x: np.ndarray, axis: int, sizes, outputs) -> None:
    start = 0
    for n, out in zip(sizes, outputs):
        index = [slice(None)] * x.ndim
        index[axis] = slice(start, start + n)
        np.copyto(out, x[tuple(index)])
        start += n


@dataclass(frozen=True)
class SplitPlan:
    axis: int
    sizes: tuple[int, ...]


@register("SPLIT")
class Split(ValueShapedKernel):
    """Inputs ``(axis, x)``: split ``x`` into ``numSplits`` equal parts along ``axis``."""

    value_inputs = (0,)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx, (1,))

    def static_extra(self, ctx: OpContext):
        return len(ctx.outputs)

    def plan(self, static: Static, shapes, values):
        shape = shapes[1]
        axis = _axis(static, int(np.asarray(values[0]).reshape(-1)[0]), len(shape))
        n = int(option(static.options, "numSplits", static.extra))
        if n != static.extra or n <= 0 or shape[axis] % n:
            raise static.fail(f"cannot split dimension {axis} of {shape} into {n} parts ({static.extra} outputs)")
        part = shape[:axis] + (shape[axis] // n,) + shape[axis + 1:]
        return SplitPlan(axis, (shape[axis] // n,) * n), [part] * n

    def run(self, plan: SplitPlan, inputs, outputs):
        _split_into(inputs[1], plan.axis, plan.sizes, outputs)


@register("SPLIT_V")
class SplitV(ValueShapedKernel):
    """Inputs ``(x, size_splits, axis)``: parts of the given sizes (one may be -1)."""

    value_inputs = (1, 2)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx, (0,))

    def static_extra(self, ctx: OpContext):
        return len(ctx.outputs)

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        axis = _axis(static, int(np.asarray(values[2]).reshape(-1)[0]), len(shape))
        sizes = [int(s) for s in np.asarray(values[1]).reshape(-1)]
        if len(sizes) != static.extra:
            raise static.fail(f"{len(sizes)} split sizes for {static.extra} outputs")
        unknown = [i for i, s in enumerate(sizes) if s == -1]
        known = sum(s for s in sizes if s != -1)
        if len(unknown) > 1 or any(s < -1 for s in sizes):
            raise static.fail(f"split sizes {sizes} may hold one -1 and no other negative value")
        if unknown:
            sizes[unknown[0]] = shape[axis] - known
        if sum(sizes) != shape[axis] or min(sizes, default=0) < 0:
            raise static.fail(f"split sizes {sizes} do not add up to dimension {axis} of {shape}")
        outs = [shape[:axis] + (s,) + shape[axis + 1:] for s in sizes]
        return SplitPlan(axis, tuple(sizes)), outs

    def run(self, plan: SplitPlan, inputs, outputs):
        _split_into(inputs[0], plan.axis, plan.sizes, outputs)
