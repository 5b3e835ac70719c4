"""Selection and reordering ops: NonZero, Compress, ReverseSequence, CenterCropPad.

* NonZero: ``TRANSPOSE(WHERE(x != 0))`` (WHERE gives int64 ``[count, rank]``);
  the count is value-dependent, so the output is dynamic in the ``.tflite`` file and
  the declared (or inferred) ONNX output shape is only its first-run size.
* Compress: ``GATHER(x, RESHAPE(WHERE(condition), [-1]), axis)`` (``x`` flattened
  first when there is no ``axis``); dynamic like NonZero.
* ReverseSequence: ``y[t, b] = x[len[b] - 1 - t, b]`` for ``t < len[b]``, else
  ``x[t, b]``; the source time index is computed at run time on a ``[T, B]`` grid and
  a ``GATHER_ND`` with ``(time, batch)`` pairs moves the rest of each row.
* CenterCropPad: with static input and output shapes each axis is a centred crop
  (``SLICE`` from ``(in - out) // 2``) or a centred zero pad (``PAD`` with
  ``(out - in) // 2`` before); the run-time ``shape`` input is only read for its
  shape.

Example:
    >>> from edgelite.converter.ops.select_ext import center_crop_pad_plan
    >>> center_crop_pad_plan((20, 8, 3), (10, 9, 3))
    ([5, 0, 0], [10, 8, 3], [(0, 0), (0, 1), (0, 0)])
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register

_TFLITE_DTYPES = (np.float32, np.int32, np.int64, np.int8, np.uint8, np.int16, np.bool_, np.float16)


def _dtype_reason(v) -> str | None:
    if v.dtype is not None and np.dtype(v.dtype) not in [np.dtype(d) for d in _TFLITE_DTYPES]:
        return f"{np.dtype(v.dtype).name} tensors (no TFLite type)"
    return None


class _AnyTfliteDtype(OpConverter):
    """Data movement of any tensor type TFLite has, in the ONNX layout (the default)."""

    def check(self, node):
        return _dtype_reason(node.inputs[0])


def center_crop_pad_plan(in_shape, out_shape):
    """(slice begin, slice size, pad (before, after)) per axis of a centred crop-or-pad."""
    begin, size, pads = [], [], []
    for i, o in zip(in_shape, out_shape):
        i, o = int(i), int(o)
        if o <= i:
            begin.append((i - o) // 2)
            size.append(o)
            pads.append((0, 0))
        else:
            begin.append(0)
            size.append(i)
            pads.append(((o - i) // 2, o - i - (o - i) // 2))
    return begin, size, pads


@register("NonZero")
class NonZero(_AnyTfliteDtype):
    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, y = node.inputs[0], node.outputs[0]
        r, count = int(y.shape[0]), int(y.shape[1])
        cond = x if np.dtype(x.dtype) == np.bool_ else e.binary("NOT_EQUAL", x, e.const(np.array(0, x.dtype), tag="zero"))
        coords = e._tmp("where", (count, r), np.dtype(np.int64), None)
        out.emit("WHERE", [cond], [coords])
        e.transpose(coords, (1, 0), y=y)


@register("Compress")
class Compress(_AnyTfliteDtype):
    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, cond = node.inputs[0], node.inputs[1]
        y = node.outputs[0]
        axis = node.attrs.get("axis")
        if axis is None:
            x = e.reshape(x, (int(np.prod(x.shape)),))
            axis = 0
        axis = int(axis) % len(x.shape)
        count = int(y.shape[axis])
        c = cond if np.dtype(cond.dtype) == np.bool_ else e.cast(cond, np.bool_)
        coords = e._tmp("where", (count, 1), np.dtype(np.int64), None)
        out.emit("WHERE", [c], [coords])
        idx = e._tmp("idx", (count,), np.dtype(np.int64), None)
        from edgelite.schema.fb.ReshapeOptions import ReshapeOptionsT

        o = ReshapeOptionsT()
        o.newShape = [-1]
        out.emit("RESHAPE", [coords, e.const(np.array([-1], np.int32), tag="flat")], [idx], o)
        e.gather(x, e.cast(idx, np.int32), axis, y=y)


@register("ReverseSequence")
class ReverseSequence(_AnyTfliteDtype):
    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, lens = node.inputs[0], node.inputs[1]
        y = node.outputs[0]
        ta, ba = int(node.attrs.get("time_axis", 0)), int(node.attrs.get("batch_axis", 1))
        r = len(x.shape)
        rest = [d for d in range(r) if d not in (ta, ba)]
        perm = [ta, ba] + rest
        xt = e.transpose(x, perm)  # [T, B, ...]
        t_len, b_len = int(x.shape[ta]), int(x.shape[ba])
        i32 = np.int32
        t = e.const(np.arange(t_len, dtype=i32).reshape(t_len, 1), tag="time")
        ln = e.reshape(e.cast(lens, i32), (1, b_len))
        rev = e.sub(e.sub(ln, e.const(np.array(1, i32), tag="one")), t)  # len - 1 - t
        src = e.select(e.binary("LESS", t, ln), rev, t)  # [T, B]
        batch = e.const(np.broadcast_to(np.arange(b_len, dtype=i32), (t_len, b_len)).reshape(t_len, b_len, 1), tag="batch")
        pairs = e.concat([e.reshape(src, (t_len, b_len, 1)), batch], 2)
        moved = e._tmp("moved", xt.shape, x.dtype, None)
        out.emit("GATHER_ND", [xt, pairs], [moved])
        inv = list(np.argsort(perm))
        e.transpose(moved, inv, y=y) if inv != list(range(r)) else e.reshape(moved, y.shape, y=y)


@register("CenterCropPad")
class CenterCropPad(_AnyTfliteDtype):
    def lower(self, node, out):
        from edgelite.schema.fb.PadOptions import PadOptionsT

        e = Emitter(out, node.name)
        x, y = node.inputs[0], node.outputs[0]
        begin, size, pads = center_crop_pad_plan(x.shape, y.shape)
        cur = e.slice(x, begin, size)
        if any(p != (0, 0) for p in pads):
            out.emit("PAD", [cur, e.const(np.array(pads, np.int32), tag="paddings")], [y], PadOptionsT())
        else:
            e.reshape(cur, y.shape, y=y)
