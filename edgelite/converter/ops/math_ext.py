"""Math ops TFLite has no single builtin for, written with the builtins it has.

* Variadic ``Sum``/``Mean``/``Max``/``Min``: a chain of ``ADD``/``MAXIMUM``/``MINIMUM``
  (``Mean`` then divides by the count, as ONNX's reference does).
* ``Mod``: ``fmod=0`` is ``FLOOR_MOD``; ``fmod=1`` (C's truncated remainder) is
  ``sign(x) * FLOOR_MOD(|x|, |y|)`` for floats (exact: both operands non-negative)
  and ``FLOOR_MOD`` corrected by ``-y`` where the signs of ``x`` and ``y`` differ for
  integers.
* Trigonometric / hyperbolic: ``Tan = SIN / COS``, ``Atan = ATAN2(x, 1)``,
  ``Asin = ATAN2(x, sqrt((1-x)(1+x)))``, ``Acos = ATAN2(sqrt((1-x)(1+x)), x)``,
  ``Sinh``/``Cosh`` from ``EXP``, ``Asinh = sign(x) log(|x| + sqrt(x^2+1))``,
  ``Acosh = log(x + sqrt((x-1)(x+1)))``, ``Atanh = log((1+x)/(1-x)) / 2``.
* ``IsNaN = NOT_EQUAL(x, x)``; ``IsInf`` compares with +-inf.

Every intermediate is computed in the dtype ``dtype_rules`` picks (float16 in float32).

Example:
    >>> from edgelite.converter.ops.registry import CONVERTERS
    >>> "::Acos" in CONVERTERS and "::Sum" in CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops import dtype_rules
from edgelite.converter.ops.cast_like import emit_cast
from edgelite.converter.ops.layout_rules import Elementwise
from edgelite.converter.ops.registry import OpConverter, register


class Builder:
    """Small helper that emits elementwise builtins on a fixed shape, in a fixed dtype."""

    def __init__(self, out, name: str, shape, dtype):
        self.out, self.name, self.shape, self.dtype = out, name, tuple(shape), np.dtype(dtype)
        self._n = 0

    def c(self, value, dtype=None):
        return self.out.const(np.asarray(value, dtype or self.dtype), f"{self.name}_c")

    def op(self, tfl: str, *args, dtype=None, options=None, shape=None, into=None):
        self._n += 1
        shape = self.shape if shape is None else shape
        y = into if into is not None else self.out.tmp(f"{self.name}_{tfl.lower()}{self._n}", shape, dtype or self.dtype)
        if options is None and tfl in _NEEDS_OPTIONS:
            options = _NEEDS_OPTIONS[tfl]()
        self.out.emit(tfl, list(args), [y], options)
        return y

    def cast(self, v, dtype):
        return dtype_rules.to_dtype(self.out, v, dtype, f"{self.name}_cast")

    def finish(self, v, y):
        """Write ``v`` into the node's output ``y`` (a CAST when the dtypes differ)."""
        if v.dtype == y.dtype:
            from edgelite.converter.ops.conv import reshape

            reshape(self.out, v, y)
        else:
            emit_cast(self.out, v, y)


def _opts(name):
    def make():
        import importlib

        mod = importlib.import_module(f"edgelite.schema.fb.{name}")
        return getattr(mod, name + "T")()

    return make


_NEEDS_OPTIONS = {
    "ADD": _opts("AddOptions"),
    "SUB": _opts("SubOptions"),
    "MUL": _opts("MulOptions"),
    "DIV": _opts("DivOptions"),
}


def float_compute(dtype) -> np.dtype | None:
    """float32 for float32/float16 inputs; None for anything else (float64: no kernels)."""
    dt = np.dtype(dtype)
    return np.dtype(np.float32) if dt in (np.float32, np.float16) else None


_VARIADIC = {"Sum": "ADD", "Mean": "ADD", "Max": "MAXIMUM", "Min": "MINIMUM"}


@register(*_VARIADIC)
class Variadic(Elementwise, OpConverter):
    def check(self, node):
        if not node.inputs:
            return "no inputs"
        return dtype_rules.reason(_VARIADIC[node.op_type], node.inputs, node.outputs[0])

    def lower(self, node, out):
        op = _VARIADIC[node.op_type]
        y = node.outputs[0]
        if np.dtype(y.dtype) == dtype_rules.U64 and node.op_type in ("Max", "Min"):
            acc = node.inputs[0]
            for k, v in enumerate(node.inputs[1:], 1):
                last = k == len(node.inputs) - 1
                shape = tuple(np.broadcast_shapes(tuple(acc.shape), tuple(v.shape)))
                nxt = y if last else out.tmp(f"{node.name}_acc{k}", shape, y.dtype)
                dtype_rules.emit(out, op, [acc, v], nxt, name=f"{node.name}_{k}")
                acc = nxt
            if len(node.inputs) == 1:
                dtype_rules.emit_cast(out, acc, y)
            return
        cd = dtype_rules.compute_dtype(op, y.dtype)
        b = Builder(out, node.name, y.shape, cd)
        acc = b.cast(node.inputs[0], cd)
        shape = tuple(acc.shape)
        for v in node.inputs[1:]:
            shape = tuple(np.broadcast_shapes(shape, tuple(v.shape)))
            acc = b.op(op, acc, b.cast(v, cd), shape=shape)
        if node.op_type == "Mean" and len(node.inputs) > 1:
            acc = b.op("DIV", acc, b.c(len(node.inputs)), shape=shape)
        b.finish(acc, y)


@register("Mod")
class Mod(Elementwise, OpConverter):
    def check(self, node):
        return dtype_rules.reason("FLOOR_MOD", node.inputs[:2], node.outputs[0]) or dtype_rules.reason(
            "SUB", node.inputs[:2], node.outputs[0]
        )

    def lower(self, node, out):
        x, d = node.inputs[0], node.inputs[1]
        y = node.outputs[0]
        if not node.attrs.get("fmod", 0):
            dtype_rules.emit(out, "FLOOR_MOD", [x, d], y, name=node.name)
            return
        if y.dtype.kind == "f":
            cd = float_compute(y.dtype)
            b = Builder(out, node.name, y.shape, cd)
            xc, dc = b.cast(x, cd), b.cast(d, cd)
            r = b.op("FLOOR_MOD", b.op("ABS", xc, shape=xc.shape), b.op("ABS", dc, shape=dc.shape))
            neg = b.op("LESS", xc, b.c(0.0), dtype=np.bool_, shape=xc.shape)
            b.finish(b.op("SELECT_V2", neg, b.op("NEG", r), r), y)
            return
        cd = dtype_rules.compute_dtype("SUB", y.dtype)
        b = Builder(out, node.name, y.shape, cd)
        xc, dc = b.cast(x, cd), b.cast(d, cd)
        r = b.op("FLOOR_MOD", xc, dc)
        bool_ = np.dtype(np.bool_)
        nonzero = b.op("NOT_EQUAL", r, b.c(0), dtype=bool_)
        xneg = b.op("LESS", xc, b.c(0), dtype=bool_, shape=xc.shape)
        dneg = b.op("LESS", dc, b.c(0), dtype=bool_, shape=dc.shape)
        differ = b.op("NOT_EQUAL", xneg, dneg, dtype=bool_)
        fix = b.op("LOGICAL_AND", nonzero, differ, dtype=bool_)
        b.finish(b.op("SELECT_V2", fix, b.op("SUB", r, dc), r), y)


_TRIG = ("Tan", "Atan", "Asin", "Acos", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh")


@register(*_TRIG)
class Trig(Elementwise, OpConverter):
    def check(self, node):
        if float_compute(node.inputs[0].dtype) is None:
            return f"{node.op_type} on {node.inputs[0].dtype} (float32/float16 only)"
        return None

    def lower(self, node, out):
        y = node.outputs[0]
        b = Builder(out, node.name, y.shape, np.float32)
        x = b.cast(node.inputs[0], np.float32)
        b.finish(_TRIG_FORMULAS[node.op_type](b, x), y)


def _one_minus_x2(b, x):
    """(1 - x)(1 + x): 1 - x^2 without cancelling near |x| = 1."""
    return b.op("MUL", b.op("SUB", b.c(1.0), x), b.op("ADD", b.c(1.0), x))


def _exp_pair(b, x):
    return b.op("EXP", x), b.op("EXP", b.op("NEG", x))


def _asinh(b, x):
    ax = b.op("ABS", x)
    r = b.op("LOG", b.op("ADD", ax, b.op("SQRT", b.op("ADD", b.op("MUL", ax, ax), b.c(1.0)))))
    return b.op("MUL", b.op("SIGN", x), r)


_TRIG_FORMULAS = {
    "Tan": lambda b, x: b.op("DIV", b.op("SIN", x), b.op("COS", x)),
    "Atan": lambda b, x: b.op("ATAN2", x, b.c(np.ones(x.shape))),  # ATAN2 does not broadcast
    "Asin": lambda b, x: b.op("ATAN2", x, b.op("SQRT", _one_minus_x2(b, x))),
    "Acos": lambda b, x: b.op("ATAN2", b.op("SQRT", _one_minus_x2(b, x)), x),
    "Sinh": lambda b, x: b.op("MUL", b.op("SUB", *_exp_pair(b, x)), b.c(0.5)),
    "Cosh": lambda b, x: b.op("MUL", b.op("ADD", *_exp_pair(b, x)), b.c(0.5)),
    "Asinh": _asinh,
    "Acosh": lambda b, x: b.op(
        "LOG", b.op("ADD", x, b.op("SQRT", b.op("MUL", b.op("SUB", x, b.c(1.0)), b.op("ADD", x, b.c(1.0)))))
    ),
    "Atanh": lambda b, x: b.op(
        "MUL", b.op("LOG", b.op("DIV", b.op("ADD", b.c(1.0), x), b.op("SUB", b.c(1.0), x))), b.c(0.5)
    ),
}


@register("IsNaN", "IsInf")
class FloatClass(Elementwise, OpConverter):
    def check(self, node):
        if dtype_rules.compute_dtype("EQUAL", node.inputs[0].dtype) is None or node.inputs[0].dtype.kind != "f":
            return f"{node.op_type} on {node.inputs[0].dtype}"
        return None

    def lower(self, node, out):
        x, y = node.inputs[0], node.outputs[0]
        b = Builder(out, node.name, y.shape, x.dtype)
        if node.op_type == "IsNaN":
            b.op("NOT_EQUAL", x, x, dtype=np.bool_, into=y)
            return
        pos, neg = int(node.attrs.get("detect_positive", 1)), int(node.attrs.get("detect_negative", 1))
        tests = []
        if pos:
            tests.append(b.op("EQUAL", x, b.c(np.inf), dtype=np.bool_))
        if neg:
            tests.append(b.op("EQUAL", x, b.c(-np.inf), dtype=np.bool_))
        if not tests:  # neither: all False
            b.op("LOGICAL_AND", b.op("EQUAL", x, x, dtype=np.bool_), b.c(False, np.bool_), dtype=np.bool_, into=y)
        elif len(tests) == 1:
            b.finish(tests[0], y)
        else:
            b.op("LOGICAL_OR", tests[0], tests[1], dtype=np.bool_, into=y)
