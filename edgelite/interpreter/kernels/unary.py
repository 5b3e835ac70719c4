"""Elementwise math on one tensor: EXP LOG SQRT RSQRT ABS NEG SIN COS FLOOR CEIL ROUND
SQUARE SIGN, on float32 (and unquantized integers where TFLite allows them).

ROUND rounds half to even, as TFLite's ``RoundToNearest``; LOG/SQRT/RSQRT of values
outside their domain give NaN/inf like the C library, without warnings.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.unary import Round
    >>> t = lambda i: TensorInfo(i, "t", (3,) if i == 0 else None, np.dtype(np.float32), 0)
    >>> ctx = OpContext("ROUND", 0, 1, None, None, None, [t(0)], [t(1)])
    >>> k = Round(); p = k.prepare(ctx); out = np.empty(3, np.float32)
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


class _Unary(Kernel):
    """``out = f(x)``, same shape and dtype, no quantized tensors."""

    dtypes: tuple = (_F32,)

    def accepts(self, ctx: OpContext) -> bool:
        x, o = ctx.optional_input(0), ctx.outputs[0]
        if x is None or is_quantized(x) or is_quantized(o):
            return False
        return x.dtype == o.dtype and x.dtype in self.dtypes

    def prepare(self, ctx: OpContext):
        ctx.set_output_shape(0, ctx.input(0).shape)

    def compute(self, x, out) -> None:
        raise NotImplementedError

    def eval(self, params, inputs, outputs):
        with np.errstate(all="ignore"):
            self.compute(inputs[0], outputs[0])


def _ufunc_kernel(op_name: str, ufunc, dtypes=(_F32,)):
    """A registered ``_Unary`` subclass computing ``ufunc(x, out=out)``."""

    def compute(self, x, out):
        ufunc(x, out=out)

    name = "".join(p.capitalize() for p in op_name.split("_"))
    cls = type(name, (_Unary,), {"compute": compute, "dtypes": dtypes, "__doc__": f"TFLite {op_name}."})
    cls.__module__ = __name__
    return register(op_name)(cls)


Exp = _ufunc_kernel("EXP", np.exp)
Log = _ufunc_kernel("LOG", np.log)
Sqrt = _ufunc_kernel("SQRT", np.sqrt)
Sin = _ufunc_kernel("SIN", np.sin)
Cos = _ufunc_kernel("COS", np.cos)
Floor = _ufunc_kernel("FLOOR", np.floor)
Ceil = _ufunc_kernel("CEIL", np.ceil)
Round = _ufunc_kernel("ROUND", np.rint)  # half to even
Abs = _ufunc_kernel("ABS", np.abs, (_F32, _I32, _I64, np.dtype(np.int16), np.dtype(np.int8)))
Neg = _ufunc_kernel("NEG", np.negative, (_F32, _I32, _I64))
Sign = _ufunc_kernel("SIGN", np.sign, (_F32, np.dtype(np.float64), _I32))
Square = _ufunc_kernel("SQUARE", np.square)


@register("RSQRT")
class Rsqrt(_Unary):
    """TFLite RSQRT: ``1 / sqrt(x)``."""

    def compute(self, x, out):
        np.sqrt(x, out=out)
        np.reciprocal(out, out=out)
