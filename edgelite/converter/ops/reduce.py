"""Reductions (ReduceMean/Sum/Max/Min/Prod, ArgMax/ArgMin) and Softmax/LogSoftmax.

Global pooling arrives here as ``ReduceMean``/``ReduceMax`` over the spatial axes
(see ``passes.canonicalize``). Softmax runs on TFLite's last axis: the layout rule asks
for a layout that puts the softmax axis last, so "softmax on any axis" costs a
transpose only when no such layout is already at hand.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter, _options
from edgelite.converter.ops.layout_rules import AxisOp, physical_axis
from edgelite.converter.ops.registry import LayoutPlan, OpConverter, register
from edgelite.converter.passes.layout import identity
from edgelite.schema.model import TensorType

# ONNX reduction -> (elementwise op before, TFLite reduction, elementwise op after)
_REDUCE = {
    "ReduceMean": (None, "MEAN", None),
    "ReduceSum": (None, "SUM", None),
    "ReduceMax": (None, "REDUCE_MAX", None),
    "ReduceMin": (None, "REDUCE_MIN", None),
    "ReduceProd": (None, "REDUCE_PROD", None),
    "ReduceSumSquare": ("SQUARE", "SUM", None),
    "ReduceL1": ("ABS", "SUM", None),
    "ReduceL2": ("SQUARE", "SUM", "SQRT"),
    "ReduceLogSum": (None, "SUM", "LOG"),
    "ReduceLogSumExp": ("EXP", "SUM", "LOG"),
}
# max/min of booleans: any/all
_BOOL_REDUCE = {"REDUCE_MAX": "REDUCE_ANY", "REDUCE_MIN": "REDUCE_ALL"}
_F, _I32, _I64 = np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.int64)
_DTYPES = {
    "MEAN": (_F,),
    "SUM": (_F, _I32, _I64),
    "REDUCE_PROD": (_F, _I32, _I64),
    "REDUCE_MAX": (_F, _I32, _I64, np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.bool_)),
    "REDUCE_MIN": (_F, _I32, _I64, np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.bool_)),
}


def _axes_source(node):
    """('static', axes or None for 'reduce nothing') or ('runtime', None), before layout.

    Axes come from the ``axes`` attribute (older opsets, or moved there by
    ``canonicalize``), a constant input 1, or a runtime input 1 (opset 13+ ReduceSum,
    18+ others). An empty list reduces every axis unless ``noop_with_empty_axes``.
    """
    ax = node.input(1)
    if ax is not None and not ax.is_constant and tuple(ax.shape or ()) != (0,):
        return "runtime", None
    if ax is not None:
        axes = [] if not ax.is_constant else [int(a) for a in np.asarray(ax.data).ravel()]
    else:
        axes = list(node.attrs.get("axes") or [])
    if not axes:
        rank = len(node.inputs[0].shape)
        axes = None if node.attrs.get("noop_with_empty_axes", 0) else list(range(rank))
    return "static", axes


def _empty_value(op_type, dtype):
    """What an ONNX reduction over no elements gives (ONNX reference semantics)."""
    if dtype.kind == "b":
        return op_type == "ReduceMin"
    big = np.inf if dtype.kind == "f" else np.iinfo(dtype).max
    return {
        "ReduceMax": -big if dtype.kind == "f" else np.iinfo(dtype).min,
        "ReduceMin": big,
        "ReduceProd": 1,
        "ReduceMean": np.nan,
        "ReduceLogSum": -np.inf,
        "ReduceLogSumExp": -np.inf,
    }.get(op_type, 0)


def _empty_means_all(e, axes, rank: int):
    """Runtime axes with ONNX's meaning of an empty list (every axis) for TFLite, where an
    empty axis tensor reduces nothing: append ``rank`` more axes, which are ``0..rank-1``
    when ``axes`` is empty and copies of ``axes[0]`` otherwise (TFLite ignores repeated
    axes). ``GATHER`` picks them from ``axes ++ [0..rank-1]``, so nothing indexes an
    empty tensor."""
    every = e.const(np.arange(rank, dtype=np.int32), tag="every_axis")
    n = e.op("SHAPE", [axes], (1,), np.dtype(np.int32), _options("ShapeOptions", outType=int(TensorType.INT32)))
    empty = e.binary("EQUAL", n, e.const(np.zeros(1, np.int32), tag="zero"))
    picks = e.select(empty, every, e.const(np.zeros(rank, np.int32), tag="first"))
    extra = e.gather(e.concat([axes, every], 0), picks, 0)
    return e.concat([axes, extra], 0)


def _pre(e, op, x, y=None):
    # x * x rather than SQUARE: LiteRT's SQUARE is float-only.
    return e.mul(x, x, y=y) if op == "SQUARE" else e.unary(op, x, y=y)


@register(*_REDUCE)
class Reduce(OpConverter):
    """All ONNX reductions: an optional elementwise op, one TFLite reduction, an optional
    elementwise op (``ReduceLogSumExp`` subtracts the maximum first so ``EXP`` cannot
    overflow). Axes fed at run time go to the TFLite op as a runtime axis tensor (LiteRT
    then sizes the output at run time)."""

    def check(self, node):
        x, y = node.inputs[0], node.outputs[0]
        if x.dtype is None or x.shape is None:
            return "input without a static shape/dtype"
        if x.dtype not in _DTYPES[_REDUCE[node.op_type][1]]:
            return f"{x.dtype} input (TFLite has no {_REDUCE[node.op_type][1]} kernel for it)"
        if 0 in tuple(x.shape) and y.shape is None:
            return "reduction over an empty tensor without a known output shape"
        mode, _ = _axes_source(node)
        if mode == "runtime" and (y.shape is None or node.inputs[1].dtype.kind != "i"):
            return "runtime axes need an output shape declared in the model"
        return None

    def layout(self, node, perms, lp):
        from edgelite.converter.ops.layout_rules import drop_axes

        mode, axes = _axes_source(node)
        if mode == "runtime" or 0 in tuple(node.inputs[0].shape):
            node.ann.runtime_axes = True
            return LayoutPlan([lp.identity(v) for v in node.inputs], [lp.identity(node.outputs[0])])
        p = perms[0] or lp.identity(node.inputs[0])
        node.ann.axes = None if axes is None else sorted({physical_axis(a, p) for a in axes})
        keep = bool(node.attrs.get("keepdims", 1))
        outp = p if keep or axes is None else drop_axes(p, axes)
        return LayoutPlan([p] + [None] * (len(node.inputs) - 1), [outp])

    def lower(self, node, out):
        pre, op, post = _REDUCE[node.op_type]
        x, y = node.inputs[0], node.outputs[0]
        e = Emitter(out, node.name)
        keep = bool(node.attrs.get("keepdims", 1))
        if x.dtype.kind == "b":
            op = _BOOL_REDUCE[op]
        if 0 in tuple(x.shape):
            # Nothing to reduce: every output element is the reduction's identity.
            value = _empty_value(node.op_type, y.dtype)
            dims = e.const(np.array(y.shape, np.int32), tag="dims")
            out.emit("FILL", [dims, e.scalar(value, y.dtype)], [y], _options("FillOptions"))
            return
        if node.ann.runtime_axes:
            axes_v = e.cast(node.inputs[1], np.int32)
            if not node.attrs.get("noop_with_empty_axes", 0):
                axes_v = _empty_means_all(e, axes_v, len(x.shape))
            shift = None
            if node.op_type == "ReduceLogSumExp":
                # One maximum over the whole tensor keeps EXP finite (the reduced shape is unknown
                # until run time, so a per-group maximum cannot be broadcast back).
                shift = e.reduce("REDUCE_MAX", x, range(len(x.shape)), keep=True)
                x = e.sub(x, shift)
            if pre is not None:
                x = _pre(e, pre, x)
            r = e._tmp("reduced", y.shape, y.dtype, None if post or shift is not None else y)
            out.emit(op, [x, axes_v], [r], _options("ReducerOptions", keepDims=keep))
            if post is not None:
                r = e.unary(post, r, y=None if shift is not None else y)
            if shift is not None:
                e.add(r, e.reshape(shift, [1] * len(y.shape)), y=y)
            return
        axes = node.ann.axes
        if axes is None:  # noop_with_empty_axes: only the elementwise parts
            if node.op_type in ("ReduceLogSumExp",):
                e.reshape(x, None, y=y)  # log(exp(x)) == x
                return
            if pre is not None:
                x = _pre(e, pre, x, y=None if post else y)
            if post is not None:
                x = e.unary(post, x, y=y)
            if pre is None and post is None:
                e.reshape(x, None, y=y)
            return
        if node.op_type == "ReduceLogSumExp":
            m = e.reduce("REDUCE_MAX", x, axes, keep=True)
            s = e.reduce("SUM", e.unary("EXP", e.sub(x, m)), axes, keep=keep)
            e.add(e.unary("LOG", s), e.reshape(m, s.shape), y=y)
            return
        if pre is not None:
            x = _pre(e, pre, x)
        if post is None:
            e.reduce(op, x, axes, keep, y=y)
        else:
            e.unary(post, e.reduce(op, x, axes, keep), y=y)


@register("ArgMax", "ArgMin")
class ArgMax(AxisOp, OpConverter):
    reduces = True

    def layout(self, node, perms, lp):
        from edgelite.converter.ops.layout_rules import drop_axes

        p = perms[0] or lp.identity(node.inputs[0])
        axis = node.attrs.get("axis", 0)
        node.attrs["axis"] = physical_axis(axis, p)
        outp = p if node.attrs.get("keepdims", 1) else drop_axes(p, [axis])
        return LayoutPlan([p], [outp])

    def check(self, node):
        x = node.inputs[0]
        if x.dtype is not None and x.dtype not in (_F, _I32, _I64, np.dtype(np.int8), np.dtype(np.uint8)):
            return f"{x.dtype} input"
        return None

    def lower(self, node, out):
        from edgelite.converter.lower import _tensor_type
        from edgelite.converter.ops.conv import reshape
        from edgelite.schema.fb.ArgMaxOptions import ArgMaxOptionsT
        from edgelite.schema.fb.ArgMinOptions import ArgMinOptionsT

        x, y = node.inputs[0], node.outputs[0]
        axis = node.attrs["axis"]
        o = ArgMaxOptionsT() if node.op_type == "ArgMax" else ArgMinOptionsT()
        o.outputType = _tensor_type(y.dtype)
        dropped = tuple(d for i, d in enumerate(x.shape) if i != axis)
        last = bool(node.attrs.get("select_last_index", 0))
        mid = y if tuple(y.shape) == dropped and not last else out.tmp(node.name + "_dropped", dropped, y.dtype)
        axis_c = out.const(np.array([axis], np.int32), node.name + "_axis")
        if last:
            # The last extreme is the first one of the reversed tensor: n - 1 - index there.
            e = Emitter(out, node.name)
            rev = e._tmp("reversed", x.shape, x.dtype, None)
            out.emit("REVERSE_V2", [x, axis_c], [rev], _options("ReverseV2Options"))
            x = rev
        out.emit("ARG_MAX" if node.op_type == "ArgMax" else "ARG_MIN", [x, axis_c], [mid], o)
        if last:
            n1 = e.scalar(x.shape[axis] - 1, y.dtype)
            mid = e.sub(n1, mid, y=y if tuple(y.shape) == dropped else None)
        if mid is not y:
            reshape(out, mid, y)


@register("Softmax", "LogSoftmax")
class Softmax(OpConverter):
    def check(self, node):
        # float16 / bfloat16 reach here as float32 (pass widen_float16); LiteRT's SOFTMAX
        # and LOG_SOFTMAX take no float64.
        dt = node.inputs[0].dtype
        if dt is not None and np.dtype(dt) != np.dtype(np.float32):
            return f"{node.op_type} on {np.dtype(dt)} (LiteRT's kernel takes float32)"
        return None

    def layout(self, node, perms, lp):
        p = perms[0] or lp.identity(node.inputs[0])
        r = len(p)
        axis = node.attrs.get("axis", -1 if lp.graph.opset >= 13 else 1) % r
        if lp.graph.opset < 13 and axis != r - 1:
            node.ann.flatten_from = axis  # old semantics: softmax over the flattened tail
            return LayoutPlan([identity(r)], [identity(r)])
        if p[-1] != axis:
            p = tuple(a for a in p if a != axis) + (axis,)
        return LayoutPlan([p], [p])

    def lower(self, node, out):
        from edgelite.converter.ops.conv import reshape
        from edgelite.schema.fb.LogSoftmaxOptions import LogSoftmaxOptionsT
        from edgelite.schema.fb.SoftmaxOptions import SoftmaxOptionsT

        x, y = node.inputs[0], node.outputs[0]
        if node.ann.flatten_from is not None:
            k = node.ann.flatten_from
            shape2 = (int(np.prod(x.shape[:k])), int(np.prod(x.shape[k:])))
            x2 = out.tmp(node.name + "_2d", shape2, x.dtype)
            y2 = out.tmp(node.name + "_out2d", shape2, y.dtype)
            reshape(out, x, x2)
            x, y_final, y = x2, y, y2
        if node.op_type == "Softmax":
            o = SoftmaxOptionsT()
            o.beta = 1.0
            out.emit("SOFTMAX", [x], [y], o)
        else:
            out.emit("LOG_SOFTMAX", [x], [y], LogSoftmaxOptionsT())
        if node.ann.flatten_from is not None:
            reshape(out, y, y_final)


_TOPK_TYPES = (_F, _I32, _I64, np.dtype(np.int8), np.dtype(np.uint8))


@register("TopK")
class TopK(OpConverter):
    """``TOPK_V2`` on the last axis (a ``TRANSPOSE`` brings another axis there and back);
    ``largest=0`` takes the top k of ``-x``; indices are cast to ONNX's int64. Ties keep
    the lower index first, as ONNX's reference. ``k`` may be fed at run time (the
    outputs are then sized by LiteRT at run time)."""

    def check(self, node):
        x = node.inputs[0]
        if x.dtype not in _TOPK_TYPES:
            return f"{x.dtype} input"
        if not node.attrs.get("largest", 1) and x.dtype.kind == "u":
            return "largest=0 on unsigned input"
        if any(o.shape is None for o in node.outputs):
            return "output shapes unknown (declare them, or make k constant)"
        return None

    def lower(self, node, out):
        x, k = node.inputs[0], node.inputs[1]
        values, indices = node.outputs[0], node.outputs[1]
        e = Emitter(out, node.name)
        r = len(x.shape)
        axis = int(node.attrs.get("axis", -1)) % r
        perm = [i for i in range(r) if i != axis] + [axis]
        moved = axis != r - 1
        xt = e.transpose(x, perm)
        largest = bool(node.attrs.get("largest", 1))
        if not largest:
            xt = e.unary("NEG", xt)
        k32 = e.reshape(e.cast(k, np.int32), (1,))
        kk = int(values.shape[axis])
        vals = e._tmp("values", [xt.shape[i] for i in range(r - 1)] + [kk], x.dtype, None)
        idx = e._tmp("indices", vals.shape, np.int32, None)
        out.emit("TOPK_V2", [xt, k32], [vals, idx], _options("TopKV2Options"))
        if not largest:
            vals = e.unary("NEG", vals)
        inv = list(np.argsort(perm))
        if moved:
            vals = e.transpose(vals, inv)
            idx = e.transpose(idx, inv)
        e.reshape(vals, None, y=values)
        e.cast(idx, indices.dtype, y=indices)
