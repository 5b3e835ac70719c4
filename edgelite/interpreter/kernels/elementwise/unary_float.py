"""Elementwise math on one tensor: EXP LOG SQRT RSQRT ABS NEG SIN COS FLOOR CEIL ROUND
SQUARE SIGN, on float32 (and unquantized integers where TFLite allows them).

ROUND rounds half to even, as TFLite's ``RoundToNearest``; LOG/SQRT/RSQRT of values
outside their domain give NaN/inf like the C library, without warnings.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.elementwise.unary_float import Round
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


class _Ufunc(_Unary):
    """``out = ufunc(x)``."""

    ufunc = staticmethod(np.positive)

    def compute(self, x, out):
        self.ufunc(x, out=out)


@register("EXP")
class Exp(_Ufunc):
    """TFLite EXP."""

    ufunc = staticmethod(np.exp)


@register("LOG")
class Log(_Ufunc):
    """TFLite LOG."""

    ufunc = staticmethod(np.log)


@register("SQRT")
class Sqrt(_Ufunc):
    """TFLite SQRT."""

    ufunc = staticmethod(np.sqrt)


@register("SIN")
class Sin(_Ufunc):
    """TFLite SIN."""

    ufunc = staticmethod(np.sin)


@register("COS")
class Cos(_Ufunc):
    """TFLite COS."""

    ufunc = staticmethod(np.cos)


@register("FLOOR")
class Floor(_Ufunc):
    """TFLite FLOOR."""

    ufunc = staticmethod(np.floor)


@register("CEIL")
class Ceil(_Ufunc):
    """TFLite CEIL."""

    ufunc = staticmethod(np.ceil)


@register("ROUND")
class Round(_Ufunc):
    """TFLite ROUND. Half to even."""

    ufunc = staticmethod(np.rint)


@register("ABS")
class Abs(_Ufunc):
    """TFLite ABS."""

    ufunc = staticmethod(np.abs)
    dtypes = (_F32, _I32, _I64, np.dtype(np.int16), np.dtype(np.int8))


@register("NEG")
class Neg(_Ufunc):
    """TFLite NEG."""

    ufunc = staticmethod(np.negative)
    dtypes = (_F32, _I32, _I64)


@register("SIGN")
class Sign(_Ufunc):
    """TFLite SIGN."""

    ufunc = staticmethod(np.sign)
    dtypes = (_F32, np.dtype(np.float64), _I32)


@register("SQUARE")
class Square(_Ufunc):
    """TFLite SQUARE."""

    ufunc = staticmethod(np.square)


@register("RSQRT")
class Rsqrt(_Unary):
    """TFLite RSQRT: ``1 / sqrt(x)``."""

    def compute(self, x, out):
        np.sqrt(x, out=out)
        np.reciprocal(out, out=out)
