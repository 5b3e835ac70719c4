"""Reductions and scans: MEAN SUM REDUCE_MAX REDUCE_MIN REDUCE_PROD REDUCE_ANY REDUCE_ALL
(``keep_dims``, negative and repeated axes), ARG_MAX ARG_MIN, TOPK_V2, CUMSUM.

The axes, ``k`` and the scan axis are inputs; when they are constant the output shape is
planned in ``prepare``, otherwise the output is dynamic and planned in ``eval``.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.reduce.reduce_float import Reduce
    >>> x = TensorInfo(0, "x", (2, 3), np.dtype(np.float32), 0)
    >>> ax = TensorInfo(1, "axis", (1,), np.dtype(np.int32), 2, data=np.array([-1], np.int32))
    >>> out = TensorInfo(2, "y", None, np.dtype(np.float32), 0)
    >>> ctx = OpContext("SUM", 0, 1, None, None, None, [x, ax], [out])
    >>> k = Reduce(); p = k.prepare(ctx); y = np.empty(ctx.output_shapes[0], np.float32)
    >>> k.eval(p, [np.ones((2, 3), np.float32), ax.data], [y]); y.tolist()
    [3.0, 3.0]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import bound
from edgelite.interpreter.compute import float_order
from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.kernels.base import OpContext, register
from edgelite.interpreter.kernels.common import (
    Static,
    ValueShapedKernel,
    _Planned,
    is_quantized,
    option,
    same_quant,
)

_F32 = np.dtype(np.float32)
_I32 = np.dtype(np.int32)
_I64 = np.dtype(np.int64)


def _axes(static: Static, values, rank: int) -> tuple[int, ...]:
    """Sorted unique non-negative axes from an axis tensor (scalar or 1-D)."""
    axes = []
    for a in np.asarray(values).reshape(-1).tolist():
        a = int(a)
        if not -rank <= a < rank:
            raise static.fail(f"axis {a} is out of range for rank {rank}")
        axes.append(a + rank if a < 0 else a)
    return tuple(sorted(set(axes)))


@dataclass(frozen=True)
class ReducePlan:
    op_name: str
    axes: tuple[int, ...]
    keep_dims: bool
    dims: tuple[int, ...] = ()  # LiteRT's normalized shape (see ``normalize``)
    norm_axes: tuple[int, ...] = ()  # the reduced axes of ``dims``


def normalize(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """LiteRT's view of a reduction: size-1 dimensions dropped, then runs of adjacent
    dimensions that are all reduced (or all kept) merged into one.

    Its float kernels choose their summation order from this view.

    >>> normalize((1, 7, 7, 1280), (1, 2))
    ((49, 1280), (0,))
    """
    dims = [(n, d in axes) for d, n in enumerate(shape) if n != 1]
    merged: list[list] = []
    for n, red in dims:
        if merged and merged[-1][1] == red:
            merged[-1][0] *= n
        else:
            merged.append([n, red])
    return tuple(n for n, _ in merged), tuple(i for i, (_, red) in enumerate(merged) if red)


def _sequential(x: np.ndarray, axes: tuple[int, ...], op_name: str) -> np.ndarray:
    """Reduce over ``axes`` one float32 operation at a time, each output's elements in
    memory order starting from the first (LiteRT's ``ReduceImpl``); shape: kept dims."""
    ufunc = np.multiply if op_name == "REDUCE_PROD" else np.add
    if x.ndim - 1 not in axes:
        # numpy reduces axes that are not innermost row by row into the output, in
        # order (no pairwise blocking; ``test_reduce`` checks it against the loop).
        r = ufunc.reduce(x, axis=axes, dtype=np.float32).reshape(-1)
        if ufunc is np.add and not r.all():
            # numpy starts a sum from +0, LiteRT from the first element: they differ only
            # where every element is -0 (the one float sum that stays -0), so only where
            # numpy's sum is zero (checked first: the full test costs 3x the sum).
            r[np.all((x == 0) & np.signbit(x), axis=axes).reshape(-1)] = np.float32(-0.0)
        return r
    kept = [d for d in range(x.ndim) if d not in axes]
    y = np.transpose(x, kept + list(axes)).reshape(-1, int(np.prod([x.shape[d] for d in axes])))
    return ufunc.accumulate(y, axis=1, dtype=np.float32)[:, -1]


_BOOL = np.dtype(np.bool_)
_SUMS = ("MEAN", "SUM", "REDUCE_PROD")  # float32 ones have a Numba pass (``Reduce.bind``)
_PICKS = {"REDUCE_MAX": np.maximum.reduce, "REDUCE_MIN": np.minimum.reduce}  # one bound call (``Reduce.bind``)
_SELECTABLE = (_F32, _I32, _I64, np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))
_REDUCERS = {
    "MEAN": (np.mean, (_F32,)),
    "SUM": (np.sum, (_F32, _I32, _I64)),
    "REDUCE_PROD": (np.prod, (_F32, _I32, _I64)),
    "REDUCE_MAX": (np.max, _SELECTABLE),
    "REDUCE_MIN": (np.min, _SELECTABLE),
    "REDUCE_ANY": (np.any, (_BOOL,)),
    "REDUCE_ALL": (np.all, (_BOOL,)),
}


@register("MEAN", "SUM", "REDUCE_PROD", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_ANY", "REDUCE_ALL")
class Reduce(ValueShapedKernel):
    """Reduce input 0 over the axes in input 1 (``keepDims`` from ReducerOptions).

    float32 MEAN/SUM/PROD follow LiteRT's operation order (bit-exact with its built-in
    kernels, see ``_float_litert``); integer ones accumulate in int64. MAX/MIN
    also take quantized tensors whose scale and zero point do not change (picking an
    element needs no arithmetic). An empty axis list copies the input.
    """

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        x, o = ctx.optional_input(0), ctx.outputs[0]
        if x is None or x.dtype != o.dtype or x.dtype not in _REDUCERS[ctx.op_name][1]:
            return False
        if ctx.op_name in ("REDUCE_MAX", "REDUCE_MIN"):
            return same_quant(x, o)
        return not (is_quantized(x) or is_quantized(o))

    def static_extra(self, ctx: OpContext):
        return ctx.op_name

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        axes = _axes(static, values[1], len(shape))
        keep = bool(option(static.options, "keepDims", False))
        if keep:
            out = tuple(1 if d in axes else n for d, n in enumerate(shape))
        else:
            out = tuple(n for d, n in enumerate(shape) if d not in axes)
        dims, norm_axes = normalize(tuple(shape), axes)
        return ReducePlan(static.extra, axes, keep, dims, norm_axes), [out]

    def run(self, plan: ReducePlan, inputs, outputs):
        x, out = inputs[0], outputs[0]
        if not plan.axes:
            np.copyto(out, x.reshape(out.shape))
            return
        if x.dtype == _F32 and plan.op_name in ("MEAN", "SUM", "REDUCE_PROD") and x.size:
            np.copyto(out, self._float_litert(plan, x).reshape(out.shape))
            return
        fn = _REDUCERS[plan.op_name][0]
        kwargs = {}
        if plan.op_name in ("MEAN", "SUM", "REDUCE_PROD"):
            kwargs["dtype"] = np.float64 if x.dtype.kind == "f" else np.int64
        elif plan.op_name in ("REDUCE_MAX", "REDUCE_MIN") and x.size == 0:
            # LiteRT starts from the type's lowest / highest value (not -inf / inf).
            info = np.finfo(x.dtype) if x.dtype.kind == "f" else np.iinfo(x.dtype)
            kwargs["initial"] = info.min if plan.op_name == "REDUCE_MAX" else info.max
        r = fn(x, axis=plan.axes, keepdims=plan.keep_dims, **kwargs)
        np.copyto(out, np.asarray(r).reshape(out.shape), casting="unsafe")

    def eval_jit(self, params, inputs, outputs):
        if isinstance(params, _Planned) and params.plan.op_name in _SUMS:
            calls = self.bind(params, inputs, outputs)
            if calls is not None:
                bound.run(calls)
                return None
        return self.eval(params, inputs, outputs)

    def bind(self, params, inputs, outputs):
        """float32 MEAN/SUM/PROD over one run of adjacent axes (LiteRT's element-by-element
        order, see ``_float_litert``) as one Numba pass, and REDUCE_MAX/MIN over non-empty
        input as one ufunc reduce (``compute.bound``); None otherwise."""
        if not isinstance(params, _Planned) or not bound.contiguous(inputs[0], outputs[0]):
            return None
        plan, x = params.plan, inputs[0]
        if plan.op_name in _PICKS and x.size and plan.axes:
            # np.max / np.min are these ufuncs' reduce: run() made once, into the output
            kept = tuple(1 if d in plan.axes else n for d, n in enumerate(x.shape))
            return [(_PICKS[plan.op_name], (x, plan.axes, None, outputs[0].reshape(kept), True))]
        if x.dtype != _F32 or plan.op_name not in _SUMS or not x.size or not plan.axes:
            return None
        dims, axes = plan.dims, plan.norm_axes
        if len(axes) != 1 or (plan.op_name == "MEAN" and len(dims) > 1 and axes == (len(dims) - 1,)):
            return None  # several reduced runs, nothing reduced, or Eigen's row sum
        a = axes[0]
        outer, inner = int(np.prod(dims[:a], dtype=np.int64)), int(np.prod(dims[a + 1:], dtype=np.int64))
        x3 = x.reshape(outer, dims[a], inner)
        return [(_reduce_middle_kernel, (x3, outputs[0].reshape(outer, inner), plan.op_name == "REDUCE_PROD",
                                         plan.op_name == "MEAN", np.float32(dims[a])))]

    @staticmethod
    def _float_litert(plan: ReducePlan, x: np.ndarray) -> np.ndarray:
        """float32 MEAN/SUM/PROD in LiteRT's order: over the normalized view, MEAN over
        the last axis alone is Eigen's vectorized row sum; everything else is summed
        (multiplied) element by element in memory order. MEAN then divides by the count."""
        dims, axes = plan.dims, plan.norm_axes
        if not axes:  # only size-1 dimensions reduced: LiteRT copies
            return x.reshape(-1)
        xn = x.reshape(dims)
        count = np.float32(int(np.prod([dims[a] for a in axes])))
        if plan.op_name == "MEAN" and len(dims) > 1 and axes == (len(dims) - 1,):
            rows, n = dims
            start = (-(np.arange(rows) * n)) % float_order.PACKET
            return float_order.eigen_sum_rows(xn, start) / count
        r = _sequential(xn, axes, plan.op_name)
        return r / count if plan.op_name == "MEAN" else r


@njit
def _reduce_middle_kernel(x3, out, prod, mean, count):
    """``out[b, k] = x[b, 0, k] op x[b, 1, k] op ... op x[b, R-1, k]`` in float32, one
    element after another from the first (LiteRT's ``ReduceImpl``; ``op`` is * for PROD,
    else +), then ``/ count`` for MEAN."""
    nb, r, nk = x3.shape
    for b in range(nb):
        for k in range(nk):
            out[b, k] = x3[b, 0, k]
        for i in range(1, r):
            for k in range(nk):
                if prod:
                    out[b, k] = out[b, k] * x3[b, i, k]
                else:
                    out[b, k] = out[b, k] + x3[b, i, k]
        if mean:
            for k in range(nk):
                out[b, k] = out[b, k] / count


@dataclass(frozen=True)
class ArgPlan:
    axis: int
    is_max: bool


@register("ARG_MAX", "ARG_MIN")
class ArgMinMax(ValueShapedKernel):
    """Index of the largest (smallest) element along the axis in input 1; the first one
    on ties. Output int32 or int64 (``outputType``); any numeric input, quantized too
    (the stored order is the real order)."""

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        x, o = ctx.optional_input(0), ctx.outputs[0]
        return x is not None and x.dtype.kind in "biuf" and o.dtype in (_I32, _I64)

    def static_extra(self, ctx: OpContext):
        return ctx.op_name == "ARG_MAX"

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        axis_values = np.asarray(values[1]).reshape(-1)
        if axis_values.size != 1:
            raise static.fail(f"axis must hold one value, got {axis_values.tolist()}")
        (axis,) = _axes(static, axis_values, len(shape))
        if shape[axis] == 0:
            raise static.fail(f"cannot take the arg max/min over empty axis {axis}")
        return ArgPlan(axis, static.extra), [shape[:axis] + shape[axis + 1:]]

    def run(self, plan: ArgPlan, inputs, outputs):
        fn = np.argmax if plan.is_max else np.argmin
        np.copyto(outputs[0], fn(inputs[0], axis=plan.axis), casting="unsafe")


@register("TOPK_V2")
class TopKV2(ValueShapedKernel):
    """The ``k`` (input 1) largest values along the last axis, in decreasing order, and
    their int32 indices; equal values keep increasing index order."""

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        x = ctx.optional_input(0)
        if x is None or len(ctx.outputs) != 2 or ctx.outputs[1].dtype not in (_I32, _I64):
            return False
        return x.dtype in _SELECTABLE and ctx.outputs[0].dtype == x.dtype and same_quant(x, ctx.outputs[0])

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        k = np.asarray(values[1]).reshape(-1)
        if k.size != 1:
            raise static.fail(f"k must be a scalar, got {k.tolist()}")
        k = int(k[0])
        if len(shape) < 1 or not 0 <= k <= shape[-1]:
            raise static.fail(f"k = {k} must be in [0, {shape[-1] if shape else 0}] for input shape {shape}")
        out = shape[:-1] + (k,)
        return k, [out, out]

    def run(self, k, inputs, outputs):
        x = inputs[0]
        n = x.shape[-1]
        # A stable ascending sort of the reversed row, read backwards, orders values
        # decreasingly with ties by increasing index.
        order = np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1][..., :k]
        idx = (n - 1) - order
        np.copyto(outputs[1], idx, casting="unsafe")
        np.copyto(outputs[0], np.take_along_axis(x, idx, axis=-1))


@dataclass(frozen=True)
class CumsumPlan:
    axis: int
    exclusive: bool
    reverse: bool


@register("CUMSUM")
class Cumsum(ValueShapedKernel):
    """Running sum along the axis in input 1 (``exclusive`` and ``reverse`` options)."""

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        x, o = ctx.optional_input(0), ctx.outputs[0]
        return x is not None and x.dtype == o.dtype and x.dtype in (_F32, _I32, _I64) and not is_quantized(x)

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        (axis,) = _axes(static, np.asarray(values[1]).reshape(-1)[:1], len(shape))
        opts = static.options
        return CumsumPlan(axis, bool(option(opts, "exclusive", False)), bool(option(opts, "reverse", False))), [shape]

    def run(self, plan: CumsumPlan, inputs, outputs):
        x, out = inputs[0], outputs[0]
        if plan.reverse:
            x = np.flip(x, plan.axis)
        acc = np.cumsum(x, axis=plan.axis, dtype=np.float64 if x.dtype.kind == "f" else x.dtype)
        if plan.exclusive:
            acc = acc - x
        if plan.reverse:
            acc = np.flip(acc, plan.axis)
        np.copyto(out, acc, casting="unsafe")
