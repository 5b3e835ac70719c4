"""Shape ops whose parameters arrive as run-time inputs: Squeeze/Unsqueeze (axes),
Reshape (shape), Split (split sizes), Tile (repeats), Expand (shape).

Newer opsets pass these parameters as tensors, and a model may feed them as graph
inputs. Once the input and output shapes are static (fixed input shapes, declared
or inferred output shapes), each of these ops is fully determined by the shapes:
a squeeze, unsqueeze or reshape moves no bytes, the split sizes are the outputs'
extents along the axis, the repeats are ``out / in`` per axis and the broadcast
target is the output shape. So they lower to the same TFLite ops as their constant
forms, with constants computed from the shapes; the run-time parameter tensor stays
a (read-nothing) graph input.

These classes extend the constant-parameter converters of ``shape.py`` and register
after them, so the constant forms keep their behaviour.

Example:
    >>> from edgelite.converter.ops.movement_ext import tile_multiples
    >>> tile_multiples((2, 3), (4, 9))
    [2, 3]
"""

from __future__ import annotations

from edgelite.converter.ops.registry import LayoutPlan, register
from edgelite.converter.ops.shape import Reshape as _Reshape
from edgelite.converter.ops.shape import Split as _Split
from edgelite.converter.ops.shape import SqueezeUnsqueeze as _SqueezeUnsqueeze
from edgelite.converter.ops.shape import Tile as _Tile


class _RuntimeParameter:
    """Mixin (listed before the constant-parameter converter it follows as a strategy):
    with the parameter input (index 1) fed at run time, the static shapes decide the op,
    so the constant form's checks of that parameter do not apply."""

    def check(self, node):
        return None


def tile_multiples(in_shape, out_shape) -> list[int]:
    """Per-axis repeats of a Tile from its static input and output shapes."""
    reps = []
    for a, b in zip(in_shape, out_shape):
        if a == 0:
            reps.append(1 if b == 0 else 0)
        elif b % a:
            raise ValueError(f"output extent {b} is not a multiple of input extent {a}")
        else:
            reps.append(b // a)
    return reps


@register("Squeeze", "Unsqueeze", after=_SqueezeUnsqueeze)
class SqueezeUnsqueezeRuntimeAxes(_RuntimeParameter, _SqueezeUnsqueeze):
    """``axes`` fed at run time: a RESHAPE to the static output shape (ONNX layout)."""

    def layout(self, node, perms, lp):
        return LayoutPlan([lp.identity(node.inputs[0]), None], [lp.identity(node.outputs[0])])


@register("Reshape", after=_Reshape)
class ReshapeRuntimeShape(_RuntimeParameter, _Reshape):
    """``shape`` fed at run time: the static output shape says what it is."""


@register("Split", after=_Split)
class SplitRuntimeSizes(_RuntimeParameter, _Split):
    """``split`` fed at run time: the sizes are the outputs' extents along the axis."""


@register("Tile", after=_Tile)
class TileRuntimeRepeats(_RuntimeParameter, _Tile):
    """``repeats`` fed at run time: ``out // in`` per axis (static shapes)."""

    def layout(self, node, perms, lp):
        p = perms[0] or lp.identity(node.inputs[0])
        node.ann.repeats = [None] * len(p)  # filled in lower() from physical shapes
        return LayoutPlan([p, None], [p])

    def lower(self, node, out):
        node.ann.repeats = tile_multiples(node.inputs[0].shape, node.outputs[0].shape)
        super().lower(node, out)

