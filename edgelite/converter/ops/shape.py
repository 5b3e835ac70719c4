"""Shape and data-movement ops: Reshape, Transpose, Squeeze, Unsqueeze, Concat, Split,
Slice, Gather, Pad, Expand, Tile.

``Transpose`` is free here: its layout rule only changes the output's perm, and the
layout pass removes the node (transposes sink until something needs ONNX's order).
``Reshape`` runs on the physical bytes whenever they are in ONNX order (size-1 axes
aside); a flatten feeding only fully-connected layers permutes the layers' weight
columns instead of transposing the activations.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.common import constant, i32
from edgelite.converter.ops.conv import reshape
from edgelite.converter.ops.layout_rules import AxisOp, drop_axes, physical_axis
from edgelite.converter.ops.registry import LayoutPlan, OpConverter, register
from edgelite.converter.passes.layout import identity, inverse

_EDGELITE = "edgelite"


def _runtime_parameter(node) -> bool:
    v = node.input(1)
    return v is not None and not v.is_constant


@register("Reshape")
class Reshape(OpConverter):
    def applies(self, node):
        """The parameter input (1) is constant (``movement_ext`` has the run-time form)."""
        return not _runtime_parameter(node)

    def check(self, node):
        if node.input(1) is not None and not node.inputs[1].is_constant:
            return "Reshape with a shape computed at run time"
        return None

    def layout(self, node, perms, lp):
        x, y = node.inputs[0], node.outputs[0]
        p = perms[0]
        rank = len(lp.logical_shape(x))
        want = [None] + [None] * (len(node.inputs) - 1)
        if p is not None and not lp.same_bytes(x, identity(rank)):
            if not self._permute_fc_weights(node, p, lp):
                want[0] = identity(rank)
        return LayoutPlan(want, [identity(len(lp.logical_shape(y)))])

    def _permute_fc_weights(self, node, p, lp) -> bool:
        """Flatten ``[N, ...] -> [N, K]`` read only by FullyConnected: permute weights instead."""
        g = lp.graph
        x, y = node.inputs[0], node.outputs[0]
        xs, ys = lp.logical_shape(x), lp.logical_shape(y)
        if p[0] != 0 or len(ys) != 2 or ys[0] != xs[0] or g.is_output(y):
            return False
        readers = g.consumers().get(id(y), [])
        if not readers or any(
            r.domain != _EDGELITE
            or r.op_type != "FullyConnected"
            or r.inputs[0] is not y
            or not r.inputs[1].is_constant
            for r in readers
        ):
            return False
        order = np.arange(ys[1]).reshape(xs[1:]).transpose([a - 1 for a in p[1:]]).ravel()
        for r in readers:
            w = r.inputs[1]
            r.inputs[1] = g.const(np.ascontiguousarray(w.data[:, order]), w.name + "_nhwc")
        return True

    def lower(self, node, out):
        reshape(out, node.inputs[0], node.outputs[0])


@register("Transpose")
class Transpose(OpConverter):
    def layout(self, node, perms, lp):
        p = perms[0] or lp.identity(node.inputs[0])
        t = node.attrs.get("perm", list(range(len(p)))[::-1])
        inv_t = inverse(tuple(t))
        q = tuple(inv_t[i] for i in p)
        node.op_type, node.attrs = "Identity", {}
        node.ann.absorbed = True
        return LayoutPlan([None], [q])

    def lower(self, node, out):  # only reached for transposes the layout pass inserted
        from edgelite.schema.fb.TransposeOptions import TransposeOptionsT

        perm = out.const(i32(node.attrs["perm"]), node.name + "_perm")
        out.emit("TRANSPOSE", [node.inputs[0], perm], node.outputs, TransposeOptionsT())


@register("Squeeze", "Unsqueeze")
class SqueezeUnsqueeze(OpConverter):
    def applies(self, node):
        """The parameter input (1) is constant (``movement_ext`` has the run-time form)."""
        return not _runtime_parameter(node)

    def check(self, node):
        if len(node.inputs) > 1:
            return "axes must be constant"
        return None

    def layout(self, node, perms, lp):
        x = node.inputs[0]
        xs = lp.logical_shape(x)
        p = perms[0] or identity(len(xs))
        if node.op_type == "Squeeze":
            axes = node.attrs.get("axes")
            axes = [i for i, d in enumerate(xs) if d == 1] if axes is None else [a % len(xs) for a in axes]
            return LayoutPlan([None], [drop_axes(p, axes)])
        r_out = len(xs) + len(node.attrs["axes"])
        new_axes = sorted(a % r_out for a in node.attrs["axes"])
        old_to_new = [a for a in range(r_out) if a not in new_axes]
        q = [old_to_new[a] for a in p]
        for j in new_axes:
            q.insert(sum(1 for a in q if a < j), j)
        return LayoutPlan([None], [tuple(q)])

    def lower(self, node, out):
        reshape(out, node.inputs[0], node.outputs[0])


@register("Concat")
class Concat(AxisOp, OpConverter):
    same_layout = True
    # The schema has a fused activation on CONCATENATION, but LiteRT's kernel refuses
    # any but NONE at prepare time, so activations after a Concat stay separate ops.
    fusable = False

    def lower(self, node, out):
        from edgelite.converter.lower import activation_code
        from edgelite.converter.ops.elementwise import match_dtype
        from edgelite.schema.fb.ConcatenationOptions import ConcatenationOptionsT

        o = ConcatenationOptionsT()
        o.axis = node.attrs["axis"]
        o.fusedActivationFunction = activation_code(node)
        dt = node.outputs[0].dtype
        ins = [match_dtype(out, v, dt, f"{node.name}_in{i}") for i, v in enumerate(node.inputs)]
        out.emit("CONCATENATION", ins, node.outputs, o)


@register("Split")
class Split(AxisOp, OpConverter):
    def applies(self, node):
        """The parameter input (1) is constant (``movement_ext`` has the run-time form)."""
        return not _runtime_parameter(node)

    def check(self, node):
        if len(node.inputs) > 1:
            return "split sizes must be constant"
        return None

    def lower(self, node, out):
        from edgelite.schema.fb.SplitVOptions import SplitVOptionsT

        axis = node.attrs["axis"]
        sizes = [o.shape[axis] for o in node.outputs]
        o = SplitVOptionsT()
        o.numSplits = len(sizes)
        out.emit(
            "SPLIT_V",
            [
                node.inputs[0],
                out.const(i32(sizes), node.name + "_sizes"),
                out.const(np.array(axis, np.int32), node.name + "_axis"),
            ],
            node.outputs,
            o,
        )


@register("Slice")
class Slice(OpConverter):
    """STRIDED_SLICE with constant parameters (``slice_pad_runtime.SliceRuntime`` follows)."""

    def applies(self, node):
        return not any(v is not None and not v.is_constant for v in node.inputs[1:])

    def check(self, node):
        if any(v is not None and not v.is_constant for v in node.inputs[1:]):
            return "starts/ends/axes/steps must be constant"
        return None

    def layout(self, node, perms, lp):
        x = node.inputs[0]
        xs = lp.logical_shape(x)
        r = len(xs)
        p = perms[0] or identity(r)
        if len(node.inputs) > 1:
            starts, ends = constant(node, 1, "starts"), constant(node, 2, "ends")
            axes = constant(node, 3, "axes") if node.input(3) is not None else np.arange(len(starts))
            steps = constant(node, 4, "steps") if node.input(4) is not None else np.ones(len(starts), np.int64)
        else:  # opset < 10: attributes
            starts, ends = np.array(node.attrs["starts"]), np.array(node.attrs["ends"])
            axes = np.array(node.attrs.get("axes", range(len(starts))))
            steps = np.ones(len(starts), np.int64)
        begin, end, stride, end_mask = [0] * r, [xs[a] for a in p], [1] * r, 0
        for s, e, a, st in zip(starts, ends, axes, steps):
            a, s, e, st = int(a) % r, int(s), int(e), int(st)
            d = xs[a]
            s = s + d if s < 0 else s
            e = e + d if e < 0 else e
            if st > 0:
                s, e = min(max(s, 0), d), min(max(e, 0), d)
            else:
                s, e = min(max(s, 0), d - 1), min(max(e, -1), d - 1)
            pa = physical_axis(a, p)
            begin[pa], end[pa], stride[pa] = s, e, st
            if e == -1:
                end_mask |= 1 << pa
        node.ann.begin, node.ann.end, node.ann.stride, node.ann.end_mask = begin, end, stride, end_mask
        return LayoutPlan([p] + [None] * (len(node.inputs) - 1), [p])

    def lower(self, node, out):
        from edgelite.schema.fb.StridedSliceOptions import StridedSliceOptionsT

        o = StridedSliceOptionsT()
        o.endMask = node.ann.end_mask
        out.emit(
            "STRIDED_SLICE",
            [
                node.inputs[0],
                out.const(i32(node.ann.begin), node.name + "_begin"),
                out.const(i32(node.ann.end), node.name + "_end"),
                out.const(i32(node.ann.stride), node.name + "_strides"),
            ],
            node.outputs,
            o,
        )


@register("Gather")
class Gather(OpConverter):
    def applies(self, node):
        """Constant (or non-integer) indices; run-time ones may be negative, which
        TFLite's GATHER rejects (``indexing.GatherWrapped`` wraps them first)."""
        idx = node.input(1)
        return idx is None or idx.is_constant or (idx.dtype is not None and np.dtype(idx.dtype).kind != "i")

    def layout(self, node, perms, lp):
        data, idx = node.inputs[0], node.inputs[1]
        xs = lp.logical_shape(data)
        p = perms[0] or identity(len(xs))
        axis = node.attrs.get("axis", 0) % len(xs)
        irank = len(lp.logical_shape(idx))
        if data.is_constant:
            p = identity(len(xs))
        if irank == 0:
            node.attrs["axis"] = physical_axis(axis, p)
            return LayoutPlan([None, None], [drop_axes(p, [axis])])
        if irank == 1:
            node.attrs["axis"] = physical_axis(axis, p)
            return LayoutPlan([None, lp.identity(idx)], [p])
        node.attrs["axis"] = axis
        r_out = len(lp.logical_shape(node.outputs[0]))
        return LayoutPlan([identity(len(xs)), lp.identity(idx)], [identity(r_out)])

    def lower(self, node, out):
        from edgelite.schema.fb.GatherOptions import GatherOptionsT

        data, idx = node.inputs
        axis = node.attrs["axis"]
        if idx.is_constant:
            ind = np.asarray(idx.data).astype(np.int64)
            ind = np.where(ind < 0, ind + data.shape[axis], ind)
            idx = out.const(ind.astype(np.int32), node.name + "_indices")
        o = GatherOptionsT()
        o.axis = axis
        out.emit("GATHER", [data, idx], node.outputs, o)


@register("Pad")
class Pad(OpConverter):
    """PAD / PADV2 / MIRROR_PAD with constant parameters (``slice_pad_runtime.PadGather`` follows)."""

    def applies(self, node):
        return self.check(node) is None

    def check(self, node):
        if any(v is not None and not v.is_constant for v in node.inputs[1:]):
            return "pads and constant_value must be constant"
        if node.attrs.get("mode", "constant") not in ("constant", "reflect"):
            return f"mode={node.attrs.get('mode')}"
        if node.input(3) is not None:
            return "Pad with an axes input"
        return None

    def layout(self, node, perms, lp):
        x = node.inputs[0]
        r = len(lp.logical_shape(x))
        p = perms[0] or identity(r)
        pads = constant(node, 1, "pads") if node.input(1) is not None else np.array(node.attrs["pads"])
        pads = [int(v) for v in pads]
        logical = [(pads[i], pads[i + r]) for i in range(r)]
        node.ann.pads = [logical[a] for a in p]
        return LayoutPlan([p] + [None] * (len(node.inputs) - 1), [p])

    def lower(self, node, out):
        from edgelite.schema.fb.MirrorPadOptions import MirrorPadOptionsT
        from edgelite.schema.fb.PadOptions import PadOptionsT
        from edgelite.schema.fb.PadV2Options import PadV2OptionsT

        x = node.inputs[0]
        pads = out.const(i32(node.ann.pads), node.name + "_paddings")
        if node.attrs.get("mode", "constant") == "reflect":
            out.emit("MIRROR_PAD", [x, pads], node.outputs, MirrorPadOptionsT())  # mode 0 = REFLECT
            return
        value = (
            float(np.asarray(node.inputs[2].data)) if node.input(2) is not None else float(node.attrs.get("value", 0.0))
        )
        if value == 0.0:
            out.emit("PAD", [x, pads], node.outputs, PadOptionsT())
        else:
            out.emit(
                "PADV2",
                [x, pads, out.const(np.array(value, x.dtype), node.name + "_value")],
                node.outputs,
                PadV2OptionsT(),
            )


@register("Expand")
class Expand(OpConverter):
    def lower(self, node, out):
        from edgelite.schema.fb.BroadcastToOptions import BroadcastToOptionsT

        y = node.outputs[0]
        out.emit(
            "BROADCAST_TO",
            [node.inputs[0], out.const(i32(y.shape), node.name + "_shape")],
            [y],
            BroadcastToOptionsT(),
            version=2,
        )


@register("Tile")
class Tile(OpConverter):
    def applies(self, node):
        """The parameter input (1) is constant (``movement_ext`` has the run-time form)."""
        return not _runtime_parameter(node)

    def check(self, node):
        return None if node.inputs[1].is_constant else "repeats must be constant"

    def layout(self, node, perms, lp):
        p = perms[0] or lp.identity(node.inputs[0])
        reps = [int(v) for v in constant(node, 1, "repeats")]
        node.ann.repeats = [reps[a] for a in p]
        return LayoutPlan([p, None], [p])

    def lower(self, node, out):
        from edgelite.schema.fb.TileOptions import TileOptionsT

        out.emit(
            "TILE",
            [node.inputs[0], out.const(i32(node.ann.repeats), node.name + "_multiples")],
            node.outputs,
            TileOptionsT(),
        )


@register("Identity")
class Identity(OpConverter):
    """An Identity that folding kept (its input is a graph input and its output a graph output)."""

    def layout(self, node, perms, lp):
        return LayoutPlan([None], [perms[0] or lp.identity(node.inputs[0])])

    def lower(self, node, out):
        reshape(out, node.inputs[0], node.outputs[0])
