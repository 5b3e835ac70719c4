"""Small emitters for lowerings that decompose one ONNX op into several TFLite builtins.

Each helper appends one TFLite operator to a ``Lowering`` and returns its output
value (a new intermediate with the static shape and dtype the op produces), so a
decomposition reads like the formula it computes:

Example:
    >>> import numpy as np
    >>> from edgelite.converter.lower import Lowering
    >>> from edgelite.converter.ops.builders import Emit
    >>> out = Lowering()
    >>> e = Emit(out, "q")
    >>> x = out.tmp("x", (2, 3), np.float32)
    >>> y = e.binary("MUL", x, e.const(np.float32(2)))
    >>> y.shape, [op.op for op in out.ops]
    ((2, 3), ['MUL'])
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ir import Value

_COMPARE = {"EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "LOGICAL_AND", "LOGICAL_OR"}


def _options(op: str):
    """The builtin options object TFLite expects for ``op`` (None when it has none)."""
    from edgelite.schema.fb import (
        AddOptions,
        CastOptions,
        DivOptions,
        GatherOptions,
        MulOptions,
        ReshapeOptions,
        SubOptions,
    )

    table = {
        "ADD": AddOptions.AddOptionsT,
        "SUB": SubOptions.SubOptionsT,
        "MUL": MulOptions.MulOptionsT,
        "DIV": DivOptions.DivOptionsT,
        "CAST": CastOptions.CastOptionsT,
        "GATHER": GatherOptions.GatherOptionsT,
        "RESHAPE": ReshapeOptions.ReshapeOptionsT,
    }
    cls = table.get(op)
    return cls() if cls is not None else None


class Emit:
    """Emits TFLite ops into ``out`` with intermediates named ``<prefix>_<k>``."""

    def __init__(self, out, prefix: str):
        self.out = out
        self.prefix = prefix

    def tmp(self, shape, dtype, tag: str = "t") -> Value:
        return self.out.tmp(f"{self.prefix}_{tag}", tuple(int(d) for d in shape), np.dtype(dtype))

    def const(self, array, dtype=None, tag: str = "c") -> Value:
        a = np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)
        return self.out.const(a, f"{self.prefix}_{tag}")

    def op(self, name: str, inputs, shape, dtype, options=None, version: int = 1, into: Value | None = None) -> Value:
        y = into if into is not None else self.tmp(shape, dtype, name.lower())
        self.out.emit(name, inputs, [y], options if options is not None else _options(name), version)
        return y

    def binary(self, name: str, a: Value, b: Value, into: Value | None = None) -> Value:
        shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
        dtype = np.bool_ if name in _COMPARE else a.dtype
        return self.op(name, [a, b], shape, dtype, into=into)

    def unary(self, name: str, x: Value, into: Value | None = None) -> Value:
        return self.op(name, [x], x.shape, x.dtype, into=into)

    def cast(self, x: Value, dtype, into: Value | None = None) -> Value:
        from edgelite.converter.lower import _tensor_type

        dtype = np.dtype(dtype)
        if x.dtype == dtype and into is None:
            return x
        if x.is_constant:
            if into is None:
                return self.const(np.asarray(x.data).astype(dtype))
        o = _options("CAST")
        o.inDataType, o.outDataType = _tensor_type(x.dtype), _tensor_type(dtype)
        return self.op("CAST", [x], x.shape, dtype, o, into=into)

    def reshape(self, x: Value, shape, into: Value | None = None) -> Value:
        shape = tuple(int(d) for d in shape)
        if x.is_constant and into is None:
            return self.const(np.asarray(x.data).reshape(shape))
        if tuple(x.shape) == shape and into is None:
            return x
        o = _options("RESHAPE")
        o.newShape = list(shape)
        return self.op("RESHAPE", [x, self.const(np.array(shape, np.int32), tag="shape")], shape, x.dtype, o, into=into)

    def gather(self, x: Value, indices: Value, axis: int, into: Value | None = None) -> Value:
        axis = axis % len(x.shape)
        shape = tuple(x.shape[:axis]) + tuple(indices.shape) + tuple(x.shape[axis + 1 :])
        o = _options("GATHER")
        o.axis = axis
        return self.op("GATHER", [x, indices], shape, x.dtype, o, into=into)

    def reduce(self, name: str, x: Value, axes, keepdims: bool = False, into: Value | None = None) -> Value:
        from edgelite.schema.fb.ReducerOptions import ReducerOptionsT

        axes = sorted(a % len(x.shape) for a in axes)
        shape = [1 if i in axes else d for i, d in enumerate(x.shape)] if keepdims else [
            d for i, d in enumerate(x.shape) if i not in axes
        ]
        o = ReducerOptionsT()
        o.keepDims = bool(keepdims)
        return self.op(name, [x, self.const(np.array(axes, np.int32), tag="axes")], shape, x.dtype, o, into=into)

    def clamp(self, x: Value, lo, hi) -> Value:
        y = self.binary("MAXIMUM", x, self.const(np.asarray(lo, x.dtype)))
        return self.binary("MINIMUM", y, self.const(np.asarray(hi, x.dtype)))
