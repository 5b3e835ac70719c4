"""Scatter (opset <= 10), ScatterElements and ScatterND, every ``reduction``; TensorScatter
(one DYNAMIC_UPDATE_SLICE when the whole cache has one write position, else densely);
MaxUnpool (a ``none`` scatter of the values into zeros at their flat indices).

TFLite's SCATTER_ND only adds into zeros, so these ops are written densely instead,
exact for every dtype and reduction. With static shapes the data is viewed as rows
``D[N, S]`` (ScatterElements: every element is a row, ``S = 1``; ScatterND with
``k``-tuples: ``N = prod(shape[:k])`` slices of ``S = prod(shape[k:])``), each of the
``U`` updates ``V[U, S]`` targets row ``T[u]`` (computed at run time from the indices,
negatives wrapped with ``FLOOR_MOD``), and ``hit[u, n] = (T[u] == n)``:

* ``add`` / ``mul``: ``D + SUM_u(hit ? V : 0)``, ``D * REDUCE_PROD_u(hit ? V : 1)``;
* ``max`` / ``min``: ``MAXIMUM(D, REDUCE_MAX_u(hit ? V : lowest))`` (and MIN);
* ``none``: the last update hitting a row wins (ONNX's reference order):
  ``last[n] = REDUCE_MAX_u(hit ? u : -1)``, ``SELECT(last >= 0, GATHER(V, last), D)``.

The work is ``U * N * S`` elements, fine for the index-sized updates these ops see.
MaxUnpool scatters every input value (``U`` of them) into the ``N`` output elements, so it
is refused when ``U * N`` passes ``MAX_UNPOOL_WORK``.

Example:
    >>> from edgelite.converter.ops.scatter import row_strides
    >>> row_strides((4, 3, 2), 2)
    [3, 1]
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.indexing import element_flat_indices, index_dtype_reason, strides, wrap_indices
from edgelite.converter.ops.registry import OpConverter, register

_REDUCTIONS = ("none", "add", "mul", "max", "min")


def row_strides(shape, k: int) -> list[int]:
    """Strides, in rows of ``prod(shape[k:])`` elements, of the first ``k`` dimensions."""
    return strides(tuple(shape[:k]))


def _extreme(dtype, low: bool):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return -np.inf if low else np.inf
    if dt.kind == "b":
        return not low
    info = np.iinfo(dt)
    return info.min if low else info.max


def scatter_rows(e: Emitter, data2, targets, upd2, reduction: str, y2=None, rows: int | None = None):
    """``data2[N, S]`` with ``upd2[U, S]`` scattered into rows ``targets[U]`` (int32).
    ``rows``: ``N`` when ``data2`` is one row broadcast to all (``reduction="none"`` only)."""
    n, s = (int(d) for d in data2.shape)
    n = n if rows is None else rows
    u = int(upd2.shape[0])
    dt = data2.dtype
    hit = e.binary("EQUAL", e.reshape(targets, (u, 1)), e.const(np.arange(n, dtype=np.int32).reshape(1, n), tag="rows"))
    if reduction == "none":
        order = e.const(np.arange(u, dtype=np.int32).reshape(u, 1), tag="order")
        last = e.reduce("REDUCE_MAX", e.select(hit, order, e.const(np.array(-1, np.int32), tag="miss")), [0], keep=False)
        picked = e.gather(upd2, e.binary("MAXIMUM", last, e.const(np.array(0, np.int32), tag="zero")), 0)
        has = e.reshape(e.binary("GREATER_EQUAL", last, e.const(np.array(0, np.int32), tag="zero")), (n, 1))
        return e.select(has, picked, data2, y=y2)
    hit3 = e.reshape(hit, (u, n, 1))
    upd3 = e.reshape(upd2, (u, 1, s))
    if reduction == "add":
        red = e.reduce("SUM", e.select(hit3, upd3, e.const(np.array(0, dt), tag="id")), [0], keep=False)
        return e.add(data2, red, y=y2)
    if reduction == "mul":
        red = e.reduce("REDUCE_PROD", e.select(hit3, upd3, e.const(np.array(1, dt), tag="id")), [0], keep=False)
        return e.mul(data2, red, y=y2)
    low = reduction == "max"
    fill = e.const(np.array(_extreme(dt, low), dt), tag="id")
    red = e.reduce("REDUCE_MAX" if low else "REDUCE_MIN", e.select(hit3, upd3, fill), [0], keep=False)
    return e.binary("MAXIMUM" if low else "MINIMUM", data2, red, y=y2)


class _Scatter(OpConverter):
    def check(self, node):
        red = node.attrs.get("reduction", "none")
        if red not in _REDUCTIONS:
            return f"reduction={red!r}"
        data, idx = node.inputs[0], node.inputs[1]
        if index_dtype_reason(idx):
            return index_dtype_reason(idx)
        if data.dtype is not None and np.dtype(data.dtype) not in (np.float32, np.int32, np.int64):
            if not (red == "none" and np.dtype(data.dtype) in (np.int8, np.uint8, np.int16, np.bool_)):
                return f"{red} scatter of {np.dtype(data.dtype).name} data"
        if data.shape is not None and int(np.prod(data.shape)) >= 2**31:
            return "data too large for int32 indices"
        return None


@register("ScatterElements", "Scatter")
class ScatterElements(_Scatter):
    def lower(self, node, out):
        e = Emitter(out, node.name)
        data, idx, upd = node.inputs[:3]
        y = node.outputs[0]
        axis = int(node.attrs.get("axis", 0)) % len(data.shape)
        t = element_flat_indices(e, data.shape, idx, axis)
        u = int(np.prod(idx.shape, dtype=np.int64))
        n = int(np.prod(data.shape, dtype=np.int64))
        res = scatter_rows(e, e.reshape(data, (n, 1)), t, e.reshape(upd, (u, 1)), node.attrs.get("reduction", "none"))
        e.reshape(res, y.shape, y=y)


@register("ScatterND")
class ScatterND(_Scatter):
    def lower(self, node, out):
        e = Emitter(out, node.name)
        data, idx, upd = node.inputs[:3]
        y = node.outputs[0]
        k = int(idx.shape[-1])
        u = int(np.prod(idx.shape[:-1], dtype=np.int64))
        n = int(np.prod(data.shape[:k], dtype=np.int64))
        s = int(np.prod(data.shape[k:], dtype=np.int64))
        wrapped = wrap_indices(e, e.reshape(idx, (u, k)), np.asarray(data.shape[:k]).reshape(1, k))
        rs = np.asarray(row_strides(data.shape, k), np.int32).reshape(1, k)
        t = e.reduce("SUM", e.mul(wrapped, e.const(rs, tag="row_strides")), [1], keep=False)
        res = scatter_rows(e, e.reshape(data, (n, s)), t, e.reshape(upd, (u, s)), node.attrs.get("reduction", "none"))
        e.reshape(res, y.shape, y=y)


class _TensorScatter(_Scatter):
    def check(self, node):
        if node.attrs.get("mode", "linear") not in ("linear", "circular"):
            return f"mode={node.attrs.get('mode')!r}"
        cache, w = node.inputs[0], node.input(2)
        if w is not None and w.dtype is not None and np.dtype(w.dtype).kind not in "iu":
            return f"write_indices of type {w.dtype}"
        if cache.dtype is not None and np.dtype(cache.dtype).name not in ("float32", "int32", "int64", "int8", "uint8", "int16", "bool"):
            return f"cache of type {np.dtype(cache.dtype).name}"
        return None

    @staticmethod
    def axis(node) -> int:
        return int(node.attrs.get("axis", -2)) % len(node.inputs[0].shape)


@register("TensorScatter")
class TensorScatterSlice(_TensorScatter):
    """KV-cache update with one write position for the whole cache (batch 1, or no
    ``write_indices``) in ``linear`` mode: one DYNAMIC_UPDATE_SLICE of the update at
    ``[0, ..., write_indices[0], ..., 0]`` (position ``axis``). ONNX leaves a write past
    the cache's end undefined; DYNAMIC_UPDATE_SLICE clamps the start so it fits."""

    def applies(self, node):
        cache, w = node.inputs[0], node.input(2)
        if node.attrs.get("mode", "linear") != "linear" or cache.shape is None:
            return False
        return w is None or (len(cache.shape) > 0 and cache.shape[0] == 1)

    def lower(self, node, out):
        e = Emitter(out, node.name)
        cache, upd = node.inputs[0], node.inputs[1]
        w = node.input(2)
        y = node.outputs[0]
        at_axis = np.zeros(len(cache.shape), np.int32)
        at_axis[self.axis(node)] = 1
        if w is None:
            start = e.const(np.zeros_like(at_axis), tag="start")
        elif w.is_constant:
            start = e.const(at_axis * np.int32(np.asarray(w.data).reshape(-1)[0]), tag="start")
        else:
            start = e.mul(e.const(at_axis, tag="at_axis"), e.reshape(e.cast(w, np.int32), (1,)))
        e.op("DYNAMIC_UPDATE_SLICE", [cache, upd, start], y.shape, y.dtype, y=y)


@register("TensorScatter", after=TensorScatterSlice)
class TensorScatter(_TensorScatter):
    """KV-cache update: ``update[p, l]`` goes to ``cache[p, write_indices[batch(p)] + l]`` along
    ``axis`` (modulo the cache length in ``circular`` mode); ``p`` runs over the leading
    dimensions, the first of which is the batch."""

    def lower(self, node, out):
        e = Emitter(out, node.name)
        cache, upd = node.inputs[0], node.inputs[1]
        w = node.input(2)
        y = node.outputs[0]
        axis = self.axis(node)
        p = int(np.prod(cache.shape[:axis], dtype=np.int64))
        m, ln = int(cache.shape[axis]), int(upd.shape[axis])
        s = int(np.prod(cache.shape[axis + 1 :], dtype=np.int64))
        b = int(cache.shape[0]) if axis > 0 else 1
        batch_of = (np.arange(p) // max(p // b, 1)).astype(np.int32)
        if w is None:
            start = e.const(np.zeros((p, 1), np.int32), tag="start")
        else:
            start = e.reshape(e.gather(e.cast(w, np.int32), e.const(batch_of, tag="batch_of"), 0), (p, 1))
        pos = e.add(start, e.const(np.arange(ln, dtype=np.int32).reshape(1, ln), tag="offsets"))  # [P, L]
        if node.attrs.get("mode", "linear") == "circular":
            pos = e.binary("FLOOR_MOD", pos, e.const(np.array(m, np.int32), tag="length"))
        t = e.add(pos, e.const((np.arange(p, dtype=np.int32) * m).reshape(p, 1), tag="row_base"))
        res = scatter_rows(e, e.reshape(cache, (p * m, s)), e.reshape(t, (p * ln,)), e.reshape(upd, (p * ln, s)), "none")
        e.reshape(res, y.shape, y=y)


# Largest U * N of a MaxUnpool (the [U, N] hit matrix); beyond it the dense scatter is too big.
MAX_UNPOOL_WORK = 1 << 24


@register("MaxUnpool")
class MaxUnpool(OpConverter):
    """The reference's MaxUnpool: ``u.flat[I.flat[k]] = X.flat[k]`` into zeros of the shape the
    pooling implies (``(in - 1) * stride - pads + kernel``), the last write winning and
    negative indices wrapped as numpy does; then, with an ``output_shape`` input, that
    result in the leading corner of zeros of ``output_shape`` (a ``PAD`` at the end of
    each dimension, read at run time when the shape is not constant; a smaller
    ``output_shape`` fails there, as in the reference)."""

    @staticmethod
    def unpooled_shape(node) -> tuple[int, ...]:
        x = node.inputs[0]
        kernel = list(node.attrs["kernel_shape"])
        k = len(kernel)
        strides = list(node.attrs.get("strides", [1] * k))
        pads = list(node.attrs.get("pads", [0] * 2 * k))
        spatial = [(x.shape[2 + d] - 1) * strides[d] - (pads[d] + pads[k + d]) + kernel[d] for d in range(k)]
        return tuple(x.shape[:2]) + tuple(int(v) for v in spatial)

    def check(self, node):
        x, idx, y = node.inputs[0], node.inputs[1], node.outputs[0]
        if np.dtype(x.dtype) != np.float32:
            return f"MaxUnpool of {x.dtype} (float32 only)"
        if index_dtype_reason(idx):
            return index_dtype_reason(idx)
        if "kernel_shape" not in node.attrs:
            return "MaxUnpool without kernel_shape"
        if y.shape is None:
            return "MaxUnpool with a run-time output_shape and no known output shape (declare the output's shape)"
        inner = self.unpooled_shape(node)
        if len(inner) != len(y.shape) or any(a > b for a, b in zip(inner, y.shape)):
            return f"MaxUnpool output {list(y.shape)} smaller than the unpooled {list(inner)}"
        u, n = int(np.prod(x.shape, dtype=np.int64)), int(np.prod(inner, dtype=np.int64))
        if u * n > MAX_UNPOOL_WORK:
            return (f"MaxUnpool of {u} values into {n} elements (the exact scatter, last write winning, "
                    f"takes {u}x{n} > {MAX_UNPOOL_WORK} comparisons; TFLite's SCATTER_ND adds duplicates)")
        return None

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, idx, y = node.inputs[0], node.inputs[1], node.outputs[0]
        shape = node.input(2)
        inner = self.unpooled_shape(node)
        u, n = int(np.prod(x.shape, dtype=np.int64)), int(np.prod(inner, dtype=np.int64))
        t = wrap_indices(e, e.reshape(idx, (u,)), n)
        res = scatter_rows(e, e.const(np.zeros((1, 1), x.dtype), tag="zero"), t, e.reshape(x, (u, 1)), "none", rows=n)
        if shape is None or shape.is_constant:
            if tuple(y.shape) == inner:
                e.reshape(res, y.shape, y=y)
                return
            pads = np.array([[0, b - a] for a, b in zip(inner, y.shape)], np.int32)
            e.op("PAD", [e.reshape(res, inner), e.const(pads, tag="pads")], y.shape, y.dtype, y=y)
            return
        # [[0, output_shape[d] - inner[d]]] at run time
        grow = e.sub(e.cast(shape, np.int32), e.const(np.array(inner, np.int32), tag="inner"))
        r = len(inner)
        pads = e.concat([e.const(np.zeros((r, 1), np.int32), tag="before"), e.reshape(grow, (r, 1))], axis=1)
        e.op("PAD", [e.reshape(res, inner), pads], y.shape, y.dtype, y=y)
