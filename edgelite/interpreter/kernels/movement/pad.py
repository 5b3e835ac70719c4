"""PAD, PADV2 and MIRROR_PAD (REFLECT / SYMMETRIC) for every dtype.

PAD fills with real zero: 0, or the output's zero point for a quantized tensor. PADV2
fills with its ``constant_values`` input, stored in the output's quantization (TFLite
requires the two to match), so the stored value is copied as is.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, QuantInfo, TensorInfo
    >>> from edgelite.interpreter.kernels.movement.pad import Pad
    >>> q = QuantInfo(np.array([0.1], np.float32), np.array([-5]))
    >>> x = TensorInfo(0, "x", (2,), np.dtype(np.int8), 9, quant=q)
    >>> pads = TensorInfo(1, "p", (1, 2), np.dtype(np.int32), 2, data=np.array([[1, 0]], np.int32))
    >>> y = TensorInfo(2, "y", None, np.dtype(np.int8), 9, quant=q)
    >>> ctx = OpContext("PAD", 0, 1, None, None, None, [x, pads], [y])
    >>> k = Pad(); p = k.prepare(ctx); out = np.empty(3, np.int8)
    >>> k.eval(p, [np.array([7, 8], np.int8), pads.data], [out]); out.tolist()
    [-5, 7, 8]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.kernels.base import OpContext, register
from edgelite.interpreter.kernels.common import (
    Static,
    ValueShapedKernel,
    _Planned,
    movement_accepts,
    option,
    output_zero,
)

MIRROR_REFLECT, MIRROR_SYMMETRIC = 0, 1


@dataclass(frozen=True)
class PadPlan:
    pads: tuple[tuple[int, int], ...]
    fill: object  # stored fill value, or None to read PADV2's input 2
    mode: str  # "constant", "reflect" or "symmetric"


def _paddings(static: Static, values, shape) -> tuple[tuple[int, int], ...]:
    p = np.asarray(values).reshape(-1, 2) if np.asarray(values).size else np.zeros((0, 2), np.int64)
    if p.shape[0] != len(shape):
        raise static.fail(f"paddings {p.tolist()} need one [before, after] pair per dimension of {shape}")
    if (p < 0).any():
        raise static.fail(f"paddings {p.tolist()} must not be negative")
    return tuple((int(a), int(b)) for a, b in p)


def _output_shape(shape, pads):
    return tuple(n + a + b for n, (a, b) in zip(shape, pads))


def _write_constant(x: np.ndarray, out: np.ndarray, pads, fill) -> None:
    out.fill(fill)
    inner = tuple(slice(a, a + n) for (a, _), n in zip(pads, x.shape))
    out[inner] = x


@register("PAD", "PADV2")
class Pad(ValueShapedKernel):
    """Inputs ``(x, paddings[, constant_values])``; ``paddings`` is ``[rank, 2]``."""

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        if not movement_accepts(ctx):
            return False
        c = ctx.optional_input(2) if ctx.op_name == "PADV2" else None
        return c is None or c.dtype == ctx.outputs[0].dtype

    def static_extra(self, ctx: OpContext):
        has_value = ctx.op_name == "PADV2" and ctx.optional_input(2) is not None
        return None if has_value else output_zero(ctx.outputs[0])

    def plan(self, static: Static, shapes, values):
        pads = _paddings(static, values[1], shapes[0])
        return PadPlan(pads, static.extra, "constant"), [_output_shape(shapes[0], pads)]

    def run(self, plan: PadPlan, inputs, outputs):
        fill = plan.fill if plan.fill is not None else inputs[2].reshape(-1)[0]
        _write_constant(inputs[0], outputs[0], plan.pads, fill)

    def bind(self, params, inputs, outputs):
        """``_write_constant`` with a stored fill as prepared calls (``compute.bound``): the
        output filled, then the input copied into its interior view (made once)."""
        if not isinstance(params, _Planned) or params.plan.fill is None:
            return None  # planned per run, or PADV2's fill read from its input
        x, out = inputs[0], outputs[0]
        inner = tuple(slice(a, a + n) for (a, _), n in zip(params.plan.pads, x.shape))
        return [(out.fill, (params.plan.fill,)), (np.copyto, (out[inner], x, "unsafe"))]  # as out[inner] = x


@register("MIRROR_PAD")
class MirrorPad(ValueShapedKernel):
    """Mirror the borders: REFLECT leaves out the edge element, SYMMETRIC repeats it."""

    value_inputs = (1,)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx)

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        pads = _paddings(static, values[1], shape)
        mode = int(option(static.options, "mode", MIRROR_REFLECT))
        if mode not in (MIRROR_REFLECT, MIRROR_SYMMETRIC):
            raise static.fail(f"unknown mirror pad mode {mode}")
        limit = 1 if mode == MIRROR_REFLECT else 0
        for d, ((a, b), n) in enumerate(zip(pads, shape)):
            if max(a, b) > n - limit:
                raise static.fail(f"padding {(a, b)} is too large for dimension {d} of size {n}")
        name = "reflect" if mode == MIRROR_REFLECT else "symmetric"
        return PadPlan(pads, None, name), [_output_shape(shape, pads)]

    def run(self, plan: PadPlan, inputs, outputs):
        np.copyto(outputs[0], np.pad(inputs[0], plan.pads, mode=plan.mode))
