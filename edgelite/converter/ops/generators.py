"""Ops that generate or mask values: Trilu, EyeLike, Range, ConstantOfShape, OneHot, CumSum,
CumProd, Dropout.

* ``Trilu``: ``SELECT_V2(mask, x, 0)`` with a constant ``[N, M]`` mask (``k`` constant).
* ``EyeLike``: a constant (only the input's shape is read), written by one ``RESHAPE``.
* ``Range``: ``RANGE`` (float32/int32/int64).
* ``ConstantOfShape`` with a run-time shape (a constant one folds): ``FILL`` with the
  shape tensor as its dims (int64 as given, or int32), a dynamic output; the value is the
  ``value`` attribute's single element, in its own dtype (float32 0 without it). An empty
  result is refused: LiteRT cannot give back an empty tensor whose shape is known only at run time.
* ``OneHot``: ``ONE_HOT``, after wrapping negative indices by ``depth`` as ONNX does
  (TFLite would give an all-off row); ``values = [off, on]`` is sliced into scalars.
* ``CumSum``: ``CUMSUM`` (exclusive/reverse options).
* ``CumProd``: no builtin; a log-step (Hillis-Steele) scan: ``ceil(log2 L)`` rounds of
  ``y *= y shifted by 2^k`` (``PADV2`` with 1 then ``SLICE``), exclusive by shifting the
  input once, reverse with ``REVERSE_V2``. Exact for integers; for floats only the
  order of the multiplications differs from a running product. A run-time axis on a
  tensor of rank > 1: the scan along every axis, the one named picked by ``SELECT_V2``.
* ``Dropout`` at inference (``training_mode`` absent/false, or ratio 0): output = input
  and an all-true mask (``FILL``). Training with a non-zero ratio is random: refused.

Example:
    >>> from edgelite.converter.ops.registry import CONVERTERS
    >>> "::Trilu" in CONVERTERS and "::CumProd" in CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops import dtype_rules
from edgelite.converter.ops.common import i32
from edgelite.converter.ops.math_ext import Builder
from edgelite.converter.ops.registry import OpConverter, register

_BOOL, _I32, _I64, _F32 = (np.dtype(t) for t in (np.bool_, np.int32, np.int64, np.float32))


def _const_input(node, i):
    v = node.input(i)
    return None if v is None or not v.is_constant else np.asarray(v.data)


def _copy(out, x, y):
    from edgelite.converter.ops.conv import reshape

    reshape(out, x, y)


@register("Trilu")
class Trilu(OpConverter):
    def check(self, node):
        return dtype_rules.reason("SELECT_V2", [None, node.inputs[0]], node.outputs[0])

    def lower(self, node, out):
        x, y = node.inputs[0], node.outputs[0]
        n, m = x.shape[-2], x.shape[-1]
        diff = np.arange(m)[None, :] - np.arange(n)[:, None]  # j - i
        upper = bool(node.attrs.get("upper", 1))
        kv = node.input(1)
        if kv is None or kv.is_constant:
            k = 0 if kv is None else int(np.asarray(kv.data).reshape(-1)[0])
            mask = out.const(diff >= k if upper else diff <= k, node.name + "_mask")
        else:  # k known at run time: compare the constant j - i with it
            mask = out.tmp(node.name + "_mask", (n, m), _BOOL)
            k64 = dtype_rules.to_dtype(out, kv, _I64, node.name + "_k")
            out.emit("GREATER_EQUAL" if upper else "LESS_EQUAL", [out.const(diff.astype(np.int64), "diff"), k64], [mask])
        zero = np.zeros((), x.dtype)
        zero_c = out.const(zero, "zero")
        dtype_rules.emit(out, "SELECT_V2", [mask, x, zero_c], y, name=node.name)


@register("EyeLike")
class EyeLike(OpConverter):
    def lower(self, node, out):
        y = node.outputs[0]
        k = int(node.attrs.get("k", 0))
        eye = np.eye(y.shape[0], y.shape[1], k=k).astype(y.dtype)
        _copy(out, out.const(eye, node.name + "_eye"), y)


@register("Range")
class Range(OpConverter):
    def check(self, node):
        if np.dtype(node.outputs[0].dtype) not in (_F32, _I32, _I64):
            return f"Range of {node.outputs[0].dtype} (RANGE takes float32/int32/int64)"
        return None

    def lower(self, node, out):
        out.emit("RANGE", node.inputs[:3], node.outputs)


# FILL's value types in LiteRT (fill.cc); bool included.
_FILL_TYPES = frozenset(np.dtype(t) for t in (np.float32, np.int32, np.int64, np.int8, np.int16, np.bool_))


def _fill_value(node) -> np.ndarray:
    v = node.attrs.get("value")
    return np.zeros((), np.float32) if v is None else np.asarray(v).reshape(-1)[:1].reshape(())


@register("ConstantOfShape")
class ConstantOfShape(OpConverter):
    def check(self, node):
        value = _fill_value(node)
        if value.dtype not in _FILL_TYPES:
            return f"ConstantOfShape of {value.dtype} (FILL takes float32/int32/int64/int8/int16/bool)"
        s = node.inputs[0]
        if s.shape is None:
            return "ConstantOfShape whose shape input has no static rank (FILL takes a 1-D int32/int64 one)"
        if np.dtype(s.dtype) not in (_I32, _I64) or len(s.shape) != 1:
            return f"ConstantOfShape with a {s.dtype} shape of rank {len(s.shape)} (FILL takes a 1-D int32/int64 one)"
        if node.outputs[0].shape is None:
            return "ConstantOfShape with a run-time shape and no known output shape (declare the output's shape)"
        if 0 in tuple(node.outputs[0].shape):
            # FILL's output is run-time shaped; LiteRT cannot hand back an empty one of those
            # (get_tensor: "Invalid tensor size"), so the file would not run there.
            return "ConstantOfShape to an empty tensor with a run-time shape (LiteRT cannot read an empty dynamic output)"
        return None

    def lower(self, node, out):
        value = out.const(_fill_value(node), node.name + "_value")
        out.emit("FILL", [node.inputs[0], value], node.outputs)


@register("OneHot")
class OneHot(OpConverter):
    def check(self, node):
        if np.dtype(node.outputs[0].dtype) not in dtype_rules.NATIVE["SELECT_V2"] | {np.dtype(np.float16)}:
            return f"OneHot with {node.outputs[0].dtype} values"
        return None

    def lower(self, node, out):
        from edgelite.schema.fb.OneHotOptions import OneHotOptionsT

        ind, values, y = node.inputs[0], node.inputs[2], node.outputs[0]
        b = Builder(out, node.name, ind.shape, _I64)
        depth_data = _const_input(node, 1)
        if depth_data is not None:
            depth64 = b.c(int(depth_data.reshape(-1)[0]))
            depth32 = out.const(np.array(int(depth_data.reshape(-1)[0]), np.int32), node.name + "_depth")
        else:  # a run-time scalar (ONNX allows any numeric type): int64 and int32 copies
            d = node.inputs[1]
            if d.shape != ():
                d = _to_scalar(out, d, node.name + "_depth0")
            depth64 = b.cast(d, _I64)
            depth32 = b.cast(d, _I32)
        idx = b.cast(ind, _I64)
        neg = b.op("LESS", idx, b.c(0), dtype=_BOOL)
        idx = b.op("SELECT_V2", neg, b.op("ADD", idx, depth64), idx)
        if values.is_constant:
            pair = np.asarray(values.data).reshape(-1)[:2]
            off, on = (out.const(np.asarray(v, y.dtype), node.name + "_v") for v in pair)
        else:
            off, on = (self._scalar(out, node, values, i) for i in (0, 1))
        opts = OneHotOptionsT()
        rank = len(ind.shape)
        opts.axis = int(node.attrs.get("axis", -1)) % (rank + 1)
        out.emit("ONE_HOT", [idx, depth32, on, off], [y], opts)

    @staticmethod
    def _scalar(out, node, values, i):
        one = out.tmp(f"{node.name}_v{i}", (1,), values.dtype)
        out.emit("SLICE", [values, out.const(i32([i]), "begin"), out.const(i32([1]), "size")], [one])
        return _to_scalar(out, one, f"{node.name}_s{i}")


def _to_scalar(out, v, name):
    """A single-element tensor as a 0-D one (SQUEEZE: an empty RESHAPE shape would be an empty buffer)."""
    from edgelite.schema.fb.SqueezeOptions import SqueezeOptionsT

    s = out.tmp(name, (), v.dtype)
    out.emit("SQUEEZE", [v], [s], SqueezeOptionsT())
    return s


@register("CumSum", "CumProd")
class Cumulative(OpConverter):
    def check(self, node):
        dt = np.dtype(node.outputs[0].dtype)
        if dt not in (_F32, _I32, _I64):
            return f"{node.op_type} on {dt} (float32/int32/int64)"
        return None

    def lower(self, node, out):
        x, y = node.inputs[0], node.outputs[0]
        axis_data = _const_input(node, 1)
        axis = 0 if axis_data is None else int(axis_data.reshape(-1)[0]) % len(x.shape)
        exclusive, reverse = bool(node.attrs.get("exclusive", 0)), bool(node.attrs.get("reverse", 0))
        if node.op_type == "CumSum":
            from edgelite.schema.fb.CumsumOptions import CumsumOptionsT

            opts = CumsumOptionsT()
            opts.exclusive, opts.reverse = exclusive, reverse
            if axis_data is None:  # read at run time (negative axes count from the end in CUMSUM too)
                axis_t = dtype_rules.to_dtype(out, node.inputs[1], _I32, node.name + "_axis")
            else:
                axis_t = out.const(np.array(axis, np.int32), node.name + "_axis")
            out.emit("CUMSUM", [x, axis_t], [y], opts)
            return
        b = Builder(out, node.name, x.shape, x.dtype)
        rank = len(x.shape)
        if axis_data is not None or rank == 1:
            b.finish(_cumprod(b, x, axis, exclusive, reverse), y)
            return
        # A run-time axis: the product along every axis, then the one the axis names
        # (SELECT_V2 on a scalar condition; ONNX's axis lies in [-rank, rank)).
        a32 = dtype_rules.to_dtype(out, node.inputs[1], _I32, node.name + "_axis")
        a32 = b.op("FLOOR_MOD", a32, b.c(rank, _I32), dtype=_I32, shape=tuple(a32.shape))
        cur = _cumprod(b, x, rank - 1, exclusive, reverse)
        for a in range(rank - 1):
            hit = b.op("EQUAL", a32, b.c(a, _I32), dtype=_BOOL, shape=tuple(a32.shape))
            cur = b.op("SELECT_V2", hit, _cumprod(b, x, a, exclusive, reverse), cur)
        b.finish(cur, y)


def _cumprod(b, x, axis: int, exclusive: bool, reverse: bool):
    """The running product of ``x`` along ``axis`` (log-step scan, see the module docstring)."""
    axis_c = b.c(i32([axis]), _I32)
    cur = b.op("REVERSE_V2", x, axis_c) if reverse else x
    if exclusive:
        cur = _shift(b, cur, axis, 1)
    step = 1
    while step < x.shape[axis]:
        cur = b.op("MUL", cur, _shift(b, cur, axis, step))
        step *= 2
    if reverse:
        cur = b.op("REVERSE_V2", cur, axis_c)
    return cur


def _shift(b, v, axis: int, k: int):
    """``v`` moved ``k`` places along ``axis``, the first ``k`` filled with 1 (PADV2 + SLICE)."""
    shape = tuple(v.shape)
    pads = np.zeros((len(shape), 2), np.int32)
    pads[axis, 0] = k
    padded_shape = tuple(d + (k if i == axis else 0) for i, d in enumerate(shape))
    padded = b.op("PADV2", v, b.c(pads, np.int32), b.c(1, v.dtype), shape=padded_shape)
    return b.op("SLICE", padded, b.c(np.zeros(len(shape)), np.int32), b.c(shape, np.int32))


@register("Dropout")
class Dropout(OpConverter):
    def check(self, node):
        training = _const_input(node, 2)
        if node.input(2) is not None and training is None:
            return "Dropout with a run-time training_mode"
        if training is not None and bool(training.reshape(-1)[0]):
            ratio = _const_input(node, 1)
            if node.input(1) is not None and ratio is None:
                return "Dropout in training mode with a run-time ratio"
            r = 0.5 if ratio is None else float(ratio.reshape(-1)[0])
            if r != 0.0:
                return "Dropout in training mode (random)"
        return None

    def lower(self, node, out):
        x = node.inputs[0]
        _copy(out, x, node.outputs[0])
        if len(node.outputs) > 1 and node.outputs[1] is not None:
            mask = node.outputs[1]
            dims = out.const(i32(mask.shape), node.name + "_dims")
            out.emit("FILL", [dims, out.const(np.array(True), node.name + "_true")], [mask])
