"""Reductions (ReduceMean/Sum/Max/Min/Prod, ArgMax/ArgMin) and Softmax/LogSoftmax.

Global pooling arrives here as ``ReduceMean``/``ReduceMax`` over the spatial axes
(see ``passes.canonicalize``). Softmax runs on TFLite's last axis: the layout rule asks
for a layout that puts the softmax axis last, so "softmax on any axis" costs a
transpose only when no such layout is already at hand.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.common import i32
from edgelite.converter.ops.layout_rules import AxisOp, physical_axis
from edgelite.converter.ops.registry import LayoutPlan, OpConverter, register
from edgelite.converter.passes.layout import identity

_REDUCE = {
    "ReduceMean": "MEAN",
    "ReduceSum": "SUM",
    "ReduceMax": "REDUCE_MAX",
    "ReduceMin": "REDUCE_MIN",
    "ReduceProd": "REDUCE_PROD",
}


@register(*_REDUCE)
class Reduce(AxisOp, OpConverter):
    reduces = True
    default_axes_all = True

    def check(self, node):
        if len(node.inputs) > 1:
            return "reduction axes must be constant"
        if node.attrs.get("noop_with_empty_axes", 0) and not node.attrs.get("axes"):
            return "noop_with_empty_axes=1 without axes"
        return None

    def lower(self, node, out):
        from edgelite.schema.fb.ReducerOptions import ReducerOptionsT

        o = ReducerOptionsT()
        o.keepDims = bool(node.attrs.get("keepdims", 1))
        axes = out.const(i32(node.attrs["axes"]), node.name + "_axes")
        out.emit(_REDUCE[node.op_type], [node.inputs[0], axes], node.outputs, o)


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
        if node.attrs.get("select_last_index", 0):
            return "select_last_index=1"
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
        mid = y if tuple(y.shape) == dropped else out.tmp(node.name + "_dropped", dropped, y.dtype)
        out.emit(
            "ARG_MAX" if node.op_type == "ArgMax" else "ARG_MIN",
            [x, out.const(np.array([axis], np.int32), node.name + "_axis")],
            [mid],
            o,
        )
        if mid is not y:
            reshape(out, mid, y)


@register("Softmax", "LogSoftmax")
class Softmax(OpConverter):
    def layout(self, node, perms, lp):
        p = perms[0] or lp.identity(node.inputs[0])
        r = len(p)
        axis = node.attrs.get("axis", -1 if lp.graph.opset >= 13 else 1) % r
        if lp.graph.opset < 13 and axis != r - 1:
            node.attrs["_flatten_from"] = axis  # old semantics: softmax over the flattened tail
            return LayoutPlan([identity(r)], [identity(r)])
        if p[-1] != axis:
            p = tuple(a for a in p if a != axis) + (axis,)
        return LayoutPlan([p], [p])

    def lower(self, node, out):
        from edgelite.converter.ops.conv import reshape
        from edgelite.schema.fb.LogSoftmaxOptions import LogSoftmaxOptionsT
        from edgelite.schema.fb.SoftmaxOptions import SoftmaxOptionsT

        x, y = node.inputs[0], node.outputs[0]
        if "_flatten_from" in node.attrs:
            k = node.attrs["_flatten_from"]
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
        if "_flatten_from" in node.attrs:
            reshape(out, y, y_final)
