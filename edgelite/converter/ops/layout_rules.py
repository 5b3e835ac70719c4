"""Reusable layout behaviours for op converters (mixed into ``OpConverter`` subclasses).

* ``Elementwise``: inputs share one layout (broadcast constants are reshaped and
  transposed to it), the output has it too.
* ``ChannelsLast``: input 0 and output 0 are channels-last (NHWC, NWC); other inputs
  (weights, sizes) are left as they are for ``lower`` to repack.
* ``AxisOp``: any layout; the ``axis``/``axes`` attributes are renumbered to physical
  axes (``axis_attrs``), with ``keepdims`` handling for reductions.

Example:
    >>> from edgelite.converter.ops.layout_rules import physical_axis
    >>> physical_axis(1, (0, 2, 3, 1))   # ONNX channel axis in NHWC
    3
"""

from __future__ import annotations

from edgelite.converter.ops.registry import LayoutPlan
from edgelite.converter.passes.layout import channels_last, identity


def physical_axis(axis: int, perm) -> int:
    return list(perm).index(axis % len(perm))


def drop_axes(perm, axes) -> tuple[int, ...]:
    """The perm of a tensor after the logical ``axes`` are removed."""
    axes = {a % len(perm) for a in axes}
    kept = [a for a in range(len(perm)) if a not in axes]
    renum = {a: i for i, a in enumerate(kept)}
    return tuple(renum[a] for a in perm if a not in axes)


class Elementwise:
    """Mixin: all runtime inputs in one shared layout."""

    def layout(self, node, perms, lp):
        runtime = [(v, p) for v, p in zip(node.inputs, perms) if v is not None and p is not None]
        if not runtime:
            return LayoutPlan([None] * len(node.inputs), [lp.identity(o) for o in node.outputs])
        out_rank = len(lp.logical_shape(node.outputs[0]))
        full = [p for v, p in runtime if len(p) == out_rank]
        target = full[0] if full else identity(out_rank)
        if any(len(p) != out_rank for v, p in runtime) and target != identity(out_rank):
            target = identity(out_rank)  # a lower-rank runtime input: broadcast in ONNX layout
        want = []
        for v, p in zip(node.inputs, perms):
            if v is None:
                want.append(None)
            elif p is None:  # constant: broadcast-reshape and transpose it
                want.append(target if v.data.ndim <= out_rank and target != identity(out_rank) else None)
            else:
                want.append(target if len(p) == out_rank else identity(len(p)))
        return LayoutPlan(want, [target] * len(node.outputs))


class OnnxLayoutData:
    """Mixin: the data input (0) and the output in the ONNX layout; the other inputs
    (run-time parameters: sizes, pads, starts) taken as they are."""

    def layout(self, node, perms, lp):
        return LayoutPlan([lp.identity(node.inputs[0])] + [None] * (len(node.inputs) - 1), [lp.identity(node.outputs[0])])


class ChannelsLast:
    """Mixin: data input and output channels-last (NHWC for 4-D, NWC for 3-D)."""

    def layout(self, node, perms, lp):
        r = len(lp.logical_shape(node.inputs[0]))
        want = [channels_last(r)] + [None] * (len(node.inputs) - 1)
        return LayoutPlan(want, [channels_last(len(lp.logical_shape(o))) for o in node.outputs])


class AxisOp:
    """Mixin: any layout; ``axis``/``axes`` attributes renumbered to physical axes.

    Set ``reduces = True`` for ops whose ``keepdims=0`` removes the axes.
    Inputs after the first follow the first (``Concat``) when ``same_layout`` is set.
    """

    reduces = False
    same_layout = False
    default_axes_all = False

    def layout(self, node, perms, lp):
        p = perms[0] if perms and perms[0] is not None else lp.identity(node.inputs[0])
        rank = len(p)
        want = [p] + [(p if self.same_layout else None) for _ in node.inputs[1:]]
        out = p
        if "axis" in node.attrs or not self.reduces:
            axis = node.attrs.get("axis", getattr(self, "default_axis", 0))
            node.attrs["axis"] = physical_axis(axis, p)
        else:
            axes = node.attrs.get("axes")
            if axes is None:
                axes = list(range(rank)) if self.default_axes_all else []
            node.attrs["axes"] = sorted(physical_axis(a, p) for a in axes)
            if self.reduces and not node.attrs.get("keepdims", 1):
                out = drop_axes(p, axes)
        return LayoutPlan(want, [out] * len(node.outputs))
