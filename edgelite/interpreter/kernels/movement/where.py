"""WHERE with one input: the coordinates of the true (non-zero) elements.

The output shape depends on the values: dynamic unless the input is constant.

Example:
    >>> from edgelite.interpreter.kernels.movement.where import Where
    >>> Where.value_inputs
    (0,)
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.kernels.base import OpContext, register
from edgelite.interpreter.kernels.common import (
    Static,
    ValueShapedKernel,
)


@register("WHERE")
class Where(ValueShapedKernel):
    """The int64 coordinates ``[num_true, rank]`` of the non-zero (true) elements."""

    value_inputs = (0,)

    def accepts(self, ctx: OpContext) -> bool:
        x = ctx.optional_input(0)
        return x is not None and x.dtype.kind in "biuf" and ctx.outputs[0].dtype == np.int64

    def plan(self, static: Static, shapes, values):
        coords = np.argwhere(np.asarray(values[0]))
        return coords, [coords.shape]

    def run(self, coords, inputs, outputs):
        np.copyto(outputs[0], coords)
