"""CAST: converting stored values to another type.

CAST converts like a C++ ``static_cast`` (float to integer truncates toward zero;
anything to bool is ``!= 0``); quantization parameters are ignored, as in TFLite.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.tensor.cast import Cast
    >>> Cast.op
    'CAST'
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.kernels.base import Kernel, OpContext, register


def _numeric(dtype) -> bool:
    # bfloat16 (``ml_dtypes``) converts to and from float32 with numpy's casts, rounding
    # to nearest even as LiteRT's CAST does.
    return dtype.kind in "biufc" or dtype.name == "bfloat16"


@register("CAST")
class Cast(Kernel):
    def accepts(self, ctx: OpContext) -> bool:
        x = ctx.optional_input(0)
        return x is not None and _numeric(x.dtype) and _numeric(ctx.outputs[0].dtype)

    def prepare(self, ctx: OpContext):
        ctx.set_output_shape(0, ctx.input(0).shape)

    def eval(self, params, inputs, outputs):
        x, out = inputs[0], outputs[0]
        if out.dtype == np.bool_:
            np.not_equal(x, 0, out=out)
        elif x.dtype.kind == "c" and out.dtype.kind != "c":
            # LiteRT casts complex to a real type by taking the real part
            with np.errstate(invalid="ignore", over="ignore"):
                np.copyto(out, x.real, casting="unsafe")
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                np.copyto(out, x, casting="unsafe")

    def bind(self, params, inputs, outputs):
        """The copy as one prepared call (``compute.bound``) where no conversion can raise
        a floating-point warning (integers and booleans to any number, a float to a float
        at least as wide), so ``eval``'s ``errstate`` (3/4 of a small cast's time) is not
        needed; None otherwise."""
        x, out = inputs[0], outputs[0]
        if x.dtype.kind not in "biuf" or out.dtype.kind not in "biuf" or out.dtype == np.bool_:
            return None
        if x.dtype.kind == "f" and (out.dtype.kind != "f" or out.dtype.itemsize < x.dtype.itemsize):
            return None
        return [(np.copyto, (out, x, "unsafe"))]
