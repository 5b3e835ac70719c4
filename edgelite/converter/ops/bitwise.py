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

* 64-bit ``BitwiseXor/And/Or`` read each operand as two uint32 words (``BITCAST``
  appends a dimension of 2, which broadcasts like the operands), run the 32-bit lowering
  on the words and ``BITCAST`` the result back: bit operations act on each bit alone.

Counts outside ``[0, bits)`` shift every bit out (ONNX opset 28): a ``SELECT_V2`` on the
count handles them when it is not a constant in range. Other than LEFT shifts (uint64
through the int64 reading of its bits), 64-bit shifts and ``BitwiseNot`` on uint64 are
refused.

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


_BITS64 = (np.dtype(np.int64), np.dtype(np.uint64))
_U32 = np.dtype(np.uint32)


def _needs_32bit(node, words: bool = False) -> str | None:
    dt = node.outputs[0].dtype if node.op_type != "Xor" else None
    if dt is not None and np.dtype(dt) not in _BITS32 and not (words and np.dtype(dt) in _BITS64):
        return f"{node.op_type} on {dt} (TFLite bit ops take 8/16/32-bit integers only)"
    return None


def _as_words(out, v, name: str):
    """A 64-bit value read as uint32 words (shape + (2,)): a constant viewed, else ``BITCAST``."""
    from edgelite.schema.fb.BitcastOptions import BitcastOptionsT

    if v.is_constant:
        return out.const(np.ascontiguousarray(np.asarray(v.data).astype(v.dtype)).view(_U32)
                         .reshape(tuple(v.shape) + (2,)), name)
    t = out.tmp(name, tuple(v.shape) + (2,), _U32)
    out.emit("BITCAST", [v], [t], BitcastOptionsT())
    return t


def _on_words(out, node, lower32) -> None:
    """Run ``lower32(out, a, b, y)`` on the uint32 words of 64-bit operands, then read the
    result words back as ``y``'s type."""
    from edgelite.schema.fb.BitcastOptions import BitcastOptionsT

    y = node.outputs[0]
    a, b = (_as_words(out, v, f"{node.name}_w{i}") for i, v in enumerate(node.inputs[:2]))
    yw = out.tmp(f"{node.name}_words", tuple(y.shape) + (2,), _U32)
    lower32(out, node.name, a, b, yw)
    out.emit("BITCAST", [yw], [y], BitcastOptionsT())


def _xor32(out, name, a, b, y, op="BITWISE_XOR"):
    dt = a.dtype if not a.is_constant else b.dtype
    a = dtype_rules.to_dtype(out, a, dt, name + "_a")
    b = dtype_rules.to_dtype(out, b, dt, name + "_b")
    out.emit(op, [a, b], [y])


@register("Xor", "BitwiseXor")
class Xor(Elementwise, OpConverter):
    def check(self, node):
        return _needs_32bit(node, words=True)

    def lower(self, node, out):
        if node.op_type == "BitwiseXor" and np.dtype(node.outputs[0].dtype) in _BITS64:
            _on_words(out, node, _xor32)
            return
        op = "NOT_EQUAL" if node.op_type == "Xor" else "BITWISE_XOR"
        _xor32(out, node.name, node.inputs[0], node.inputs[1], node.outputs[0], op)


@register("BitwiseAnd", "BitwiseOr")
class AndOr(Elementwise, OpConverter):
    def check(self, node):
        return _needs_32bit(node, words=True)

    def lower(self, node, out):
        and_ = node.op_type == "BitwiseAnd"
        if np.dtype(node.outputs[0].dtype) in _BITS64:
            _on_words(out, node, lambda o, n, a, b, y: _and_or32(o, n, a, b, y, and_))
            return
        _and_or32(out, node.name, node.inputs[0], node.inputs[1], node.outputs[0], and_)


def _and_or32(out, name, a, b, y, and_: bool) -> None:
    """``a & b`` (or ``a | b``) of 8/16/32-bit integers, computed in int32 (module docstring)."""
    bld = Builder(out, name, y.shape, _I32)
    p, q = bld.cast(a, _I32), bld.cast(b, _I32)
    x = bld.op("BITWISE_XOR", p, q)
    one = bld.c(1)

    def half(v):
        return bld.op("RIGHT_SHIFT", v, one, shape=v.shape)

    def low(v):
        return bld.op("FLOOR_MOD", v, bld.c(2), shape=v.shape)

    both = bld.op("ADD", bld.op("ADD", bld.op("SUB", half(p), half(x)), half(q)), bld.op("MUL", low(p), low(q)))
    bld.finish(both if and_ else bld.op("ADD", x, both), y)


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
        if left and np.dtype(node.outputs[0].dtype) in _BITS64:
            return None  # x * 2^n wraps in int64 exactly like x << n (uint64: on the same bits)
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
            # Judged in 64 bits (a uint64 count on its int64 bits: counts of 2^63 and up read
            # as negative, also out of range), so no count wraps into range on the way.
            n64 = (dtype_rules.bitcast(out, n, _I64, node.name + "_n64") if np.dtype(n.dtype) == np.uint64
                   else b.cast(n, _I64))
            ge0 = b.op("GREATER_EQUAL", n64, b.c(0), dtype=_BOOL, shape=n.shape)
            below = b.op("LESS", n64, b.c(bits), dtype=_BOOL, shape=n.shape)
            valid = b.op("LOGICAL_AND", ge0, below, dtype=_BOOL, shape=n.shape)
            fallback = bits - 1 if right else 0
            n = b.cast(b.op("SELECT_V2", valid, n64, b.c(fallback), dtype=_I64, shape=n.shape), _I32)
        if right:
            shifted = b.op("RIGHT_SHIFT", x, b.cast(n, dt), dtype=dt)
            if valid is None or dt.kind == "i":  # a signed value keeps shifting in its sign bit
                b.finish(shifted, y)
                return
            b.finish(b.op("SELECT_V2", valid, b.cast(shifted, _I64), b.c(0)), y)
            return
        if n.is_constant:
            power = b.c(np.left_shift(np.int64(1), np.asarray(n.data).astype(np.int64)))
        else:
            # 2^n as 2^(n // 2) * 2^(n - n // 2): each factor (at most 2^32) is exact in float32
            # and in int64, and their int64 product wraps to 2^63's bits for n = 63, where a
            # direct CAST of 2^63 would overflow int64.
            n32 = b.cast(n, _I32)
            lo = b.op("FLOOR_DIV", n32, b.c(2, _I32), dtype=_I32, shape=n.shape)
            hi = b.op("SUB", n32, lo, dtype=_I32, shape=n.shape)

            def pow2(k):
                p = b.op("POW", b.c(2.0, np.float32), b.cast(k, np.float32), dtype=np.float32, shape=n.shape)
                return b.cast(p, _I64)

            power = b.op("MUL", pow2(lo), pow2(hi), shape=n.shape)
        unsigned64 = dt == np.dtype(np.uint64)  # CAST refuses uint64; BITCAST keeps its bits
        x64 = dtype_rules.bitcast(out, x, _I64, node.name + "_i64") if unsigned64 else b.cast(x, _I64)
        product = b.op("MUL", x64, power)
        if valid is not None:
            product = b.op("SELECT_V2", valid, product, b.c(0))
        if unsigned64:
            dtype_rules.bitcast(out, product, dt, node.name, y=y)
            return
        b.finish(product, y)
