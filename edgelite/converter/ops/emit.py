"""``Emitter``: write a chain of TFLite builtins with their shapes worked out, for op
converters that decompose one ONNX op into several TFLite ops (losses, attention,
normalizations, Einsum, general resize/pooling/convolution, QuantizeLinear...).

Every method emits one operator into the ``Lowering`` and returns its output value;
pass ``y=`` to write into an existing value (the node's output) instead of a new one.
Shapes follow numpy's rules, which are also TFLite's for these builtins.

Example:
    >>> import numpy as np
    >>> from edgelite.converter.lower import Lowering
    >>> from edgelite.converter.ops.emit import Emitter
    >>> out = Lowering()
    >>> e = Emitter(out, "n")
    >>> x = out.tmp("x", (2, 3), np.float32)
    >>> s = e.reduce("SUM", e.mul(x, x), [1], keep=True)
    >>> s.shape, [op.op for op in out.ops]
    ((2, 1), ['MUL', 'SUM'])
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ir import Value
from edgelite.converter.ops.common import i32

_BINARY_OPTIONS = {
    "ADD": "AddOptions",
    "SUB": "SubOptions",
    "MUL": "MulOptions",
    "DIV": "DivOptions",
    "MAXIMUM": "MaximumMinimumOptions",
    "MINIMUM": "MaximumMinimumOptions",
    "POW": "PowOptions",
    "SQUARED_DIFFERENCE": "SquaredDifferenceOptions",
    "EQUAL": "EqualOptions",
    "NOT_EQUAL": "NotEqualOptions",
    "LESS": "LessOptions",
    "GREATER": "GreaterOptions",
    "GREATER_EQUAL": "GreaterEqualOptions",
    "LESS_EQUAL": "LessEqualOptions",
    "FLOOR_MOD": "FloorModOptions",
    "LOGICAL_AND": "LogicalAndOptions",
    "LOGICAL_OR": "LogicalOrOptions",
}
_COMPARE = {"EQUAL", "NOT_EQUAL", "LESS", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "LOGICAL_AND", "LOGICAL_OR"}


def _options(cls_name: str, **fields):
    import importlib

    mod = importlib.import_module(f"edgelite.schema.fb.{cls_name}")
    o = getattr(mod, cls_name + "T")()
    for k, v in fields.items():
        setattr(o, k, v)
    return o


class Emitter:
    """Shape-aware helpers over one ``Lowering`` (``out``); ``name`` prefixes new tensors."""

    def __init__(self, out, name: str):
        self.out = out
        self.name = name

    # -- values -------------------------------------------------------------------------

    def const(self, array, dtype=None, tag: str = "c") -> Value:
        a = np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)
        return self.out.const(a, f"{self.name}_{tag}")

    def scalar(self, value, dtype) -> Value:
        return self.const(np.array(value, dtype=dtype), tag="k")

    def tmp(self, shape, dtype, tag: str = "t") -> Value:
        """A new intermediate ``<name>_<tag>`` with a static shape."""
        return self.out.tmp(f"{self.name}_{tag}", tuple(int(d) for d in shape), dtype)

    def _tmp(self, tag, shape, dtype, y):
        return y if y is not None else self.tmp(shape, dtype, tag)

    # -- any builtin ------------------------------------------------------------------------

    def op(self, op: str, inputs, shape, dtype, options=None, version: int = 1, y: Value | None = None) -> Value:
        """One ``op`` whose output has ``shape`` and ``dtype``, for builtins without a helper here."""
        y = self._tmp(op.lower(), shape, dtype, y)
        self.out.emit(op, inputs, [y], options, version)
        return y

    # -- elementwise ----------------------------------------------------------------------

    def binary(self, op: str, a: Value, b: Value, y: Value | None = None) -> Value:
        shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
        dtype = np.dtype(np.bool_) if op in _COMPARE else a.dtype
        y = self._tmp(op.lower(), shape, dtype, y)
        opts = _options(_BINARY_OPTIONS[op]) if op in _BINARY_OPTIONS else None
        self.out.emit(op, [a, b], [y], opts)
        return y

    def add(self, a, b, y=None):
        return self.binary("ADD", a, b, y)

    def sub(self, a, b, y=None):
        return self.binary("SUB", a, b, y)

    def mul(self, a, b, y=None):
        return self.binary("MUL", a, b, y)

    def div(self, a, b, y=None):
        return self.binary("DIV", a, b, y)

    def clamp(self, x: Value, lo, hi, y: Value | None = None) -> Value:
        """``MINIMUM(MAXIMUM(x, lo), hi)`` with ``lo``/``hi`` as constants of ``x``'s dtype."""
        low = self.binary("MAXIMUM", x, self.const(np.asarray(lo, x.dtype)))
        return self.binary("MINIMUM", low, self.const(np.asarray(hi, x.dtype)), y)

    def unary(self, op: str, x: Value, y: Value | None = None, dtype=None) -> Value:
        y = self._tmp(op.lower(), x.shape, dtype or x.dtype, y)
        self.out.emit(op, [x], [y])
        return y

    def select(self, cond: Value, a: Value, b: Value, y: Value | None = None) -> Value:
        shape = np.broadcast_shapes(tuple(cond.shape), tuple(a.shape), tuple(b.shape))
        y = self._tmp("select", shape, a.dtype, y)
        self.out.emit("SELECT_V2", [cond, a, b], [y])
        return y

    def cast(self, x: Value, dtype, y: Value | None = None) -> Value:
        from edgelite.converter.lower import _tensor_type

        dtype = np.dtype(dtype)
        if x.dtype == dtype and y is None:
            return x
        if x.is_constant and y is None:
            return self.const(np.asarray(x.data).astype(dtype), tag="cast")
        y = self._tmp("cast", x.shape, dtype, y)
        opts = _options("CastOptions", inDataType=_tensor_type(x.dtype), outDataType=_tensor_type(dtype))
        self.out.emit("CAST", [x], [y], opts)
        return y

    # -- shape ----------------------------------------------------------------------------

    def reshape(self, x: Value, shape, y: Value | None = None) -> Value:
        shape = tuple(int(d) for d in (y.shape if y is not None else shape))
        if y is None and tuple(x.shape) == shape:
            return x
        if x.is_constant and y is None:
            return self.const(np.asarray(x.data).reshape(shape), tag="reshaped")
        y = self._tmp("reshape", shape, x.dtype, y)
        if not shape and all(d == 1 for d in x.shape):
            # To a scalar: SQUEEZE (an empty shape tensor would be a zero-byte constant).
            self.out.emit("SQUEEZE", [x], [y], _options("SqueezeOptions", squeezeDims=[]))
            return y
        opts = _options("ReshapeOptions", newShape=list(shape))
        self.out.emit("RESHAPE", [x, self.const(i32(shape), tag="shape")], [y], opts)
        return y

    def transpose(self, x: Value, perm, y: Value | None = None) -> Value:
        perm = [int(p) for p in perm]
        if y is None and perm == list(range(len(perm))):
            return x
        if x.is_constant and y is None:
            return self.const(np.ascontiguousarray(np.asarray(x.data).transpose(perm)), tag="transposed")
        y = self._tmp("transpose", [x.shape[p] for p in perm], x.dtype, y)
        self.out.emit("TRANSPOSE", [x, self.const(i32(perm), tag="perm")], [y], _options("TransposeOptions"))
        return y

    def slice(self, x: Value, begin, size, y: Value | None = None) -> Value:
        size = [int(s) if s >= 0 else int(x.shape[i] - begin[i]) for i, s in enumerate(size)]
        if y is None and list(begin) == [0] * len(begin) and size == list(x.shape):
            return x
        y = self._tmp("slice", size, x.dtype, y)
        begin_c, size_c = self.const(i32(begin), tag="begin"), self.const(i32(size), tag="size")
        self.out.emit("SLICE", [x, begin_c, size_c], [y], _options("SliceOptions"))
        return y

    def concat(self, xs: list[Value], axis: int, y: Value | None = None) -> Value:
        shape = list(xs[0].shape)
        axis %= len(shape)
        shape[axis] = sum(int(v.shape[axis]) for v in xs)
        y = self._tmp("concat", shape, xs[0].dtype, y)
        self.out.emit("CONCATENATION", xs, [y], _options("ConcatenationOptions", axis=axis))
        return y

    def tile(self, x: Value, reps, y: Value | None = None) -> Value:
        y = self._tmp("tile", [d * r for d, r in zip(x.shape, reps)], x.dtype, y)
        self.out.emit("TILE", [x, self.const(i32(reps), tag="reps")], [y], _options("TileOptions"))
        return y

    # -- reductions and friends ------------------------------------------------------------

    def reduce(self, op: str, x: Value, axes, keep: bool = False, y: Value | None = None) -> Value:
        r = len(x.shape)
        axes = sorted({int(a) % r for a in axes})
        if keep:
            shape = [1 if i in axes else d for i, d in enumerate(x.shape)]
        else:
            shape = [d for i, d in enumerate(x.shape) if i not in axes]
        y = self._tmp(op.lower(), shape, x.dtype, y)
        self.out.emit(op, [x, self.const(i32(axes), tag="axes")], [y], _options("ReducerOptions", keepDims=bool(keep)))
        return y

    def softmax(self, x: Value, log: bool = False, y: Value | None = None) -> Value:
        y = self._tmp("logsoftmax" if log else "softmax", x.shape, x.dtype, y)
        if log:
            self.out.emit("LOG_SOFTMAX", [x], [y], _options("LogSoftmaxOptions"))
        else:
            self.out.emit("SOFTMAX", [x], [y], _options("SoftmaxOptions", beta=1.0))
        return y

    def matmul(self, a: Value, b: Value, adj_a: bool = False, adj_b: bool = False, y: Value | None = None) -> Value:
        """``BATCH_MATMUL`` (rank >= 2 operands; batch dimensions broadcast)."""
        m = a.shape[-1] if adj_a else a.shape[-2]
        n = b.shape[-2] if adj_b else b.shape[-1]
        batch = np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
        y = self._tmp("matmul", tuple(batch) + (m, n), a.dtype, y)
        opts = _options("BatchMatMulOptions", adjX=bool(adj_a), adjY=bool(adj_b))
        self.out.emit("BATCH_MATMUL", [a, b], [y], opts)
        return y

    def gather(self, x: Value, idx: Value, axis: int, batch_dims: int = 0, y: Value | None = None) -> Value:
        axis %= len(x.shape)
        shape = list(x.shape[:axis]) + list(idx.shape[batch_dims:]) + list(x.shape[axis + 1 :])
        y = self._tmp("gather", shape, x.dtype, y)
        self.out.emit("GATHER", [x, idx], [y], _options("GatherOptions", axis=axis, batchDims=batch_dims))
        return y
