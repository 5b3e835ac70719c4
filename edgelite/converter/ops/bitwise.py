"""Bit operations: Xor, BitwiseXor/And/Or/Not, BitShift.

TFLite has ``BITWISE_XOR`` and ``RIGHT_SHIFT`` (8/16/32-bit integers) and nothing else
for bits, so:

* ``Xor`` (bool) is ``NOT_EQUAL``; ``BitwiseXor`` is ``BITWISE_XOR``.
* ``BitwiseAnd`` uses ``a + b = (a ^ b) + 2 (a & b)`` one bit down, so nothing
  overflows: with ``h(v) = v >> 1`` (arithmetic) and ``l(v) = v mod 2``,
  ``a & b = (h(a) - h(a ^ b)) + h(b) + l(a) l(b)``; ``a | b = (a ^ b) + (a & b)``. All
  8/16/32-bit types run in int32 (a CAST there and back keeps every bit).
* ``BitwiseNot`` is ``-1 - x`` (signed) or ``max - x`` (unsigned) in a wider type.
* ``BitShift`` RIGHT is ``RIGHT_SHIFT``; LEFT is ``x * 2^n`` in int64, cast back (the
  product wraps modulo 2^64, so the low bits are exactly ``x << n``).

Counts outside ``[0, bits)`` shift every bit out (ONNX opset 28): a ``SELECT_V2`` on the
count handles them when it is not a constant in range. Other than int64 LEFT shifts,
64-bit operands are outside what these builtins express and are refused.

Example:
    >>> from edgelite.converter.ops.registry import CONVERTERS
    >>> "::BitwiseAnd" in CONVERTERS and "::BitShift" in CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops import dtype_rules
from edgelite.converter.ops.layout_rules import Elementwise
from edgelite.converter.ops.math_ext import Builder
from edgelite.converter.ops.registry import OpConverter, register

_I32, _I64, _BOOL = np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.bool_)
_BITS32 = tuple(np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32))


def _needs_32bit(node) -> str | None:
    dt = node.outputs[0].dtype if node.op_type != "Xor" else None
    if dt is not None and np.dtype(dt) not in _BITS32:
        return f"{node.op_type} on {dt} (TFLite bit ops take 8/16/32-bit integers only)"
    return None


@register("Xor", "BitwiseXor")
class Xor(Elementwise, OpConverter):
    def check(self, node):
        return _needs_32bit(node)

    def lower(self, node, out):
        a, b, y = node.inputs[0], node.inputs[1], node.outputs[0]
        op = "NOT_EQUAL" if node.op_type == "Xor" else "BITWISE_XOR"
        dt = a.dtype if not a.is_constant else b.dtype
        a = dtype_rules.to_dtype(out, a, dt, node.name + "_a")
        b = dtype_rules.to_dtype(out, b, dt, node.name + "_b")
        out.emit(op, [a, b], [y])


@register("BitwiseAnd", "BitwiseOr")
class AndOr(Elementwise, OpConverter):
    def check(self, node):
        return _needs_32bit(node)

    def lower(self, node, out):
        y = node.outputs[0]
        b = Builder(out, node.name, y.shape, _I32)
        p, q = b.cast(node.inputs[0], _I32), b.cast(node.inputs[1], _I32)
        x = b.op("BITWISE_XOR", p, q)
        one = b.c(1)

        def half(v):
            return b.op("RIGHT_SHIFT", v, one, shape=v.shape)

        def low(v):
            return b.op("FLOOR_MOD", v, b.c(2), shape=v.shape)

        both = b.op("ADD", b.op("ADD", b.op("SUB", half(p), half(x)), half(q)), b.op("MUL", low(p), low(q)))
        b.finish(both if node.op_type == "BitwiseAnd" else b.op("ADD", x, both), y)


@register("BitwiseNot")
class Not(Elementwise, OpConverter):
    def check(self, node):
        dt = np.dtype(node.outputs[0].dtype)
        if dt == np.uint64:
            return "BitwiseNot on uint64 (no TFLite kernel or wider type)"
        return None

    def lower(self, node, out):
        y = node.outputs[0]
        dt = np.dtype(y.dtype)
        cd = _I64 if dt in (np.dtype(np.uint32), _I64) else _I32
        top = np.iinfo(dt).max if dt.kind == "u" else -1
        b = Builder(out, node.name, y.shape, cd)
        b.finish(b.op("SUB", b.c(top), b.cast(node.inputs[0], cd)), y)


@register("BitShift")
class BitShift(Elementwise, OpConverter):
    def check(self, node):
        left = node.attrs.get("direction", b"") in ("LEFT", b"LEFT")
        if left and np.dtype(node.outputs[0].dtype) == _I64:
            return None  # x * 2^n wraps in int64 exactly like x << n
        return _needs_32bit(node)

    def lower(self, node, out):
        x, n, y = node.inputs[0], node.inputs[1], node.outputs[0]
        dt = np.dtype(y.dtype)
        bits = dt.itemsize * 8
        right = node.attrs.get("direction", b"") in ("RIGHT", b"RIGHT")
        b = Builder(out, node.name, y.shape, _I64)
        in_range = n.is_constant and bool(np.all((np.asarray(n.data) >= 0) & (np.asarray(n.data) < bits)))
        valid = None
        if not in_range:  # counts outside [0, bits) shift every bit out (opset 28 semantics)
            n32 = b.cast(n, _I32)
            ge0 = b.op("GREATER_EQUAL", n32, b.c(0, _I32), dtype=_BOOL, shape=n.shape)
            below = b.op("LESS", n32, b.c(bits, _I32), dtype=_BOOL, shape=n.shape)
            valid = b.op("LOGICAL_AND", ge0, below, dtype=_BOOL, shape=n.shape)
            fallback = bits - 1 if right else 0
            n = b.op("SELECT_V2", valid, n32, b.c(fallback, _I32), dtype=_I32, shape=n.shape)
        if right:
            shifted = b.op("RIGHT_SHIFT", x, b.cast(n, dt), dtype=dt)
            if valid is None or dt.kind == "i":  # a signed value keeps shifting in its sign bit
                b.finish(shifted, y)
                return
            b.finish(b.op("SELECT_V2", valid, b.cast(shifted, _I64), b.c(0)), y)
            return
        if n.is_constant:
            power = b.c(np.left_shift(np.int64(1), np.asarray(n.data).astype(np.int64)))
        else:  # 2^n in float32 is exact for every count below 64
            two_n = b.op("POW", b.c(2.0, np.float32), b.cast(n, np.float32), dtype=np.float32, shape=n.shape)
            power = b.cast(two_n, _I64)
        product = b.op("MUL", b.cast(x, _I64), power)
        if valid is not None:
            product = b.op("SELECT_V2", valid, product, b.c(0))
        b.finish(product, y)
