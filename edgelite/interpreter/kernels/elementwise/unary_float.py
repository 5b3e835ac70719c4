"""Elementwise math on one tensor: EXP LOG SQRT RSQRT ABS NEG SIN COS FLOOR CEIL ROUND
SQUARE SIGN, on float32 (and unquantized integers where TFLite allows them).

ROUND rounds half to even, as TFLite's ``RoundToNearest``; LOG/SQRT/RSQRT of values
outside their domain give NaN/inf like the C library, without warnings.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.elementwise.unary_float import Unary
    >>> t = lambda i: TensorInfo(i, "t", (3,) if i == 0 else None, np.dtype(np.float32), 0)
    >>> ctx = OpContext("ROUND", 0, 1, None, None, None, [t(0)], [t(1)])
    >>> k = Unary(); p = k.prepare(ctx); out = np.empty(3, np.float32)
    >>> k.eval(p, [np.array([0.5, 1.5, -2.5], np.float32)], [out]); out.tolist()
    [0.0, 2.0, -2.0]
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import is_quantized

_F32 = np.dtype(np.float32)
_I32 = np.dtype(np.int32)
_I64 = np.dtype(np.int64)


def _rsqrt(x, out):
    np.sqrt(x, out=out)
    np.reciprocal(out, out=out)


_FLOAT = (_F32,)
# TFLite op -> (numpy function writing ``out``, dtypes TFLite's kernel takes)
UNARY: dict[str, tuple] = {
    "EXP": (np.exp, _FLOAT),
    "LOG": (np.log, _FLOAT),
    "SQRT": (np.sqrt, _FLOAT),
    "RSQRT": (_rsqrt, _FLOAT),
    "SIN": (np.sin, _FLOAT),
    "COS": (np.cos, _FLOAT),
    "FLOOR": (np.floor, _FLOAT),
    "CEIL": (np.ceil, _FLOAT),
    "ROUND": (np.rint, _FLOAT),  # half to even, as TFLite's RoundToNearest
    "SQUARE": (np.square, _FLOAT),
    "ABS": (np.abs, (_F32, _I32, _I64, np.dtype(np.int16), np.dtype(np.int8))),
    "NEG": (np.negative, (_F32, _I32, _I64)),
    "SIGN": (np.sign, (_F32, np.dtype(np.float64), _I32)),
}


@register("EXP", "LOG", "SQRT", "RSQRT", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "SQUARE", "ABS", "NEG", "SIGN")
class Unary(Kernel):
    """``out = f(x)`` for the operators of ``UNARY``: same shape and dtype, no quantized
    tensors. ``prepare`` picks ``f``; ``eval`` is one call of it."""

    def accepts(self, ctx: OpContext) -> bool:
        x, o = ctx.optional_input(0), ctx.outputs[0]
        if x is None or is_quantized(x) or is_quantized(o):
            return False
        return x.dtype == o.dtype and x.dtype in UNARY[ctx.op_name][1]

    def prepare(self, ctx: OpContext):
        ctx.set_output_shape(0, ctx.input(0).shape)
        return UNARY[ctx.op_name][0]

    def eval(self, fn, inputs, outputs):
        with np.errstate(all="ignore"):
            fn(inputs[0], out=outputs[0])
