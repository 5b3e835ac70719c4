"""Slice and Pad whose parameters arrive at run time, and Pad's ``edge`` / ``wrap`` modes.

With static input and output shapes, both ops are index arithmetic on run-time
integers:

* Slice: ``starts``/``ends``/``axes``/``steps`` become full-rank int32 ``begin``,
  ``end`` and ``strides`` vectors (listed axes take their values, the others the
  whole dimension) for a ``STRIDED_SLICE`` with run-time operands; TFLite clamps
  like Python slicing, which is ONNX's rule. Values are clamped to +-2^30 in int64
  before the int32 cast (``INT64_MAX`` ends stay "to the end"). A static output with
  no element is one ``SLICE`` of that size (LiteRT cannot read back an empty dynamic
  output).
* Pad: per axis, output position ``o`` reads input ``j = o - pad_begin``, mapped by
  the mode: ``constant`` (out-of-range -> the value, ``SELECT_V2``), ``edge``
  (clamp), ``wrap`` (``FLOOR_MOD(j, I)``), ``reflect`` (period ``2 (I - 1)``); one
  ``GATHER`` per axis. Negative pads crop; for wrap/reflect the crop comes first and
  the mapping runs over the kept length (ONNX Runtime's order).

A run-time ``axes`` input is matched against every dimension with a dense
``EQUAL`` (``[K, rank]``), so unlisted dimensions get their defaults.

Example:
    >>> from edgelite.converter.ops.slice_pad_runtime import reflect_index
    >>> reflect_index(list(range(-3, 7)), 4)
    [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.layout_rules import OnnxLayoutData
from edgelite.converter.ops.registry import OpConverter, register
from edgelite.converter.ops.shape import Pad as _Pad
from edgelite.converter.ops.shape import Slice as _Slice

_BIG = 2**30


def reflect_index(j, size: int) -> list[int]:
    """Numpy model of the reflect mapping the lowering emits."""
    j = np.asarray(j)
    if size == 1:
        return [0] * len(j)
    m = np.mod(j, 2 * (size - 1))
    return np.minimum(m, 2 * (size - 1) - m).tolist()


def _int32(e: Emitter, v):
    """An integer value as int32, int64 values clamped to +-2^30 first."""
    if v.is_constant:
        return e.const(np.clip(np.asarray(v.data, np.int64), -_BIG, _BIG).astype(np.int32), tag="i32")
    if np.dtype(v.dtype) == np.int64:
        v = e.binary("MINIMUM", e.binary("MAXIMUM", v, e.const(np.array(-_BIG, np.int64), tag="lo")),
                     e.const(np.array(_BIG, np.int64), tag="hi"))
    return e.cast(v, np.int32)


def per_dim(e: Emitter, vals, axes, rank: int, default):
    """``(rank,)`` int32: ``vals[k]`` at dimension ``axes[k]`` (wrapped), ``default[d]`` elsewhere."""
    k = int(vals.shape[0])
    default = np.broadcast_to(np.asarray(default, np.int32), (rank,))
    if axes is None:
        axes_c = np.arange(k, dtype=np.int32)
        if k == rank:
            return vals
        axes = e.const(axes_c, tag="axes")
    elif axes.is_constant:
        axes = e.const(np.mod(np.asarray(axes.data, np.int64), rank).astype(np.int32), tag="axes")
    else:
        axes = e.binary("FLOOR_MOD", _int32(e, axes), e.const(np.array(rank, np.int32), tag="rank"))
    hit = e.binary("EQUAL", e.reshape(axes, (k, 1)), e.const(np.arange(rank, dtype=np.int32).reshape(1, rank), tag="dims"))
    picked = e.reduce("SUM", e.select(hit, e.reshape(vals, (k, 1)), e.const(np.array(0, np.int32), tag="zero")), [0], keep=False)
    listed = e.reduce("REDUCE_MAX", e.cast(hit, np.int32), [0], keep=False)
    listed = e.binary("GREATER", listed, e.const(np.array(0, np.int32), tag="zero"))
    return e.select(listed, picked, e.const(default, tag="default"))


@register("Slice", after=_Slice)
class SliceRuntime(OnnxLayoutData, OpConverter):
    """``STRIDED_SLICE`` on run-time begin/end/strides, where a parameter is a run-time input."""

    def lower(self, node, out):
        from edgelite.schema.fb.StridedSliceOptions import StridedSliceOptionsT

        e = Emitter(out, node.name)
        x, y = node.inputs[0], node.outputs[0]
        r = len(x.shape)
        if y.shape is not None and 0 in y.shape and all(0 <= d <= n for d, n in zip(y.shape, x.shape)):
            # The static output holds no element, whatever the parameters pick: a SLICE of that
            # static size (LiteRT cannot hand back the empty dynamic output of a STRIDED_SLICE).
            e.slice(x, (0,) * r, tuple(y.shape), y=y)
            return
        starts, ends = _int32(e, node.inputs[1]), _int32(e, node.inputs[2])
        axes = node.input(3)
        steps = node.input(4)
        steps = _int32(e, steps) if steps is not None else e.const(np.ones(int(starts.shape[0]), np.int32), tag="steps")
        begin = per_dim(e, starts, axes, r, 0)
        end = per_dim(e, ends, axes, r, np.asarray(x.shape, np.int32))
        stride = per_dim(e, steps, axes, r, 1)
        out.emit("STRIDED_SLICE", [x, begin, end, stride], [y], StridedSliceOptionsT())


@register("Pad", after=_Pad)
class PadGather(OnnxLayoutData, OpConverter):
    """Per-axis GATHER, where ``shape.Pad``'s builtins do not apply (run-time parameters,
    edge/wrap modes)."""

    def check(self, node):
        mode = node.attrs.get("mode", "constant")
        if mode not in ("constant", "reflect", "edge", "wrap"):
            return f"mode={mode}"
        if node.input(1) is None and "pads" not in node.attrs:
            return "Pad without pads"
        x = node.inputs[0]
        if x.shape is not None and 0 in tuple(x.shape):
            return "padding an empty tensor with run-time pads"
        return None

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, y = node.inputs[0], node.outputs[0]
        r = len(x.shape)
        mode = node.attrs.get("mode", "constant")
        if node.input(1) is None:  # opset < 11: pads (and value) are attributes
            pads = e.const(np.asarray(node.attrs["pads"], np.int32), tag="pads")
        else:
            pads = _int32(e, node.inputs[1])
        m = int(pads.shape[0]) // 2
        axes = node.input(3)
        begins = per_dim(e, e.slice(pads, [0], [m]), axes, r, 0)
        ends = per_dim(e, e.slice(pads, [m], [m]), axes, r, 0)
        if axes is None or axes.is_constant:
            dims = range(r) if axes is None else sorted({int(a) % r for a in np.asarray(axes.data).ravel()})
        else:
            dims = range(r)
        value = None
        if mode == "constant":
            v = node.input(2)
            value = v if v is not None else e.const(np.array(node.attrs.get("value", 0), x.dtype), tag="value")
            value = e.reshape(e.cast(value, x.dtype), ())
        cur = x
        for n, d in enumerate(dims):
            last = n == len(dims) - 1
            cur = self._axis(e, cur, d, int(x.shape[d]), int(y.shape[d]), e.slice(begins, [d], [1]),
                             e.slice(ends, [d], [1]), mode, value, y if last else None)
        if not dims:
            e.reshape(cur, y.shape, y=y)

    def _axis(self, e, cur, d, size, osize, begin, end, mode, value, into):
        i32 = np.int32
        zero = e.const(np.array(0, i32), tag="zero")
        j = e.sub(e.const(np.arange(osize, dtype=i32), tag="positions"), begin)
        if mode in ("wrap", "reflect"):
            # Negative pads crop first (ONNX Runtime's order), then wrap/reflect the rest.
            crop_b = e.binary("MAXIMUM", e.sub(zero, begin), zero)
            crop_a = e.binary("MAXIMUM", e.sub(zero, end), zero)
            kept = e.sub(e.sub(e.const(np.array([size], i32), tag="size"), crop_b), crop_a)
            jr = e.sub(e.const(np.arange(osize, dtype=i32), tag="positions"), e.binary("MAXIMUM", begin, zero))
            if mode == "wrap":
                rel = e.binary("FLOOR_MOD", jr, kept)
            else:
                span = e.mul(e.sub(kept, e.const(np.array(1, i32), tag="one")), e.const(np.array(2, i32), tag="two"))
                mm = e.binary("FLOOR_MOD", jr, e.binary("MAXIMUM", span, e.const(np.array(1, i32), tag="one")))
                rel = e.binary("MINIMUM", mm, e.sub(span, mm))
            idx = e.add(rel, crop_b)
        else:  # edge, constant, and reflect of a length-1 axis
            idx = e.binary("MINIMUM", e.binary("MAXIMUM", j, e.const(np.array(0, i32), tag="zero")),
                           e.const(np.array(size - 1, i32), tag="last"))
        shape = tuple(cur.shape[:d]) + (osize,) + tuple(cur.shape[d + 1 :])
        g = e.gather(cur, idx, d)
        if mode == "constant":
            inside = e.binary("LOGICAL_AND", e.binary("GREATER_EQUAL", j, e.const(np.array(0, i32), tag="zero")),
                              e.binary("LESS", j, e.const(np.array(size, i32), tag="size")))
            mask = e.reshape(inside, [osize if k == d else 1 for k in range(len(shape))])
            return e.select(mask, g, value, y=into)
        return e.reshape(g, shape, y=into) if into is not None else g
