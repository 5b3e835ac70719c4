"""Element-wise indexing: GatherElements and GatherND (with ``batch_dims``), and Gather's
run-time negative indices.

TFLite has no GatherElements. With static shapes, the element ``y[p]`` reads is at
flat offset ``base[p] + idx[p] * stride[axis]`` of the flattened data, where
``base[p] = sum(p[d] * stride[d] for d != axis)`` is a constant; so the op becomes
``GATHER(RESHAPE(data, [-1]), base + FLOOR_MOD(idx, dim) * stride)``. ``FLOOR_MOD``
maps ONNX's negative indices into ``[0, dim)`` (TFLite GATHER rejects negatives).

GatherND lowers to ``GATHER_ND`` on int32 indices (negatives wrapped per indexed
dimension); ``batch_dims = b`` prepends each element's batch coordinates to its
index tuple, a constant grid concatenated on the last axis.

Example:
    >>> from edgelite.converter.ops.indexing import strides
    >>> strides((2, 3, 4))
    [12, 4, 1]
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register
from edgelite.converter.ops.shape import Gather as _ShapeGather


def strides(shape) -> list[int]:
    out, acc = [], 1
    for d in reversed(list(shape)):
        out.append(acc)
        acc *= int(d)
    return out[::-1]


def index_dtype_reason(idx) -> str | None:
    """Why ``idx`` cannot be an index tensor (None when it can)."""
    if idx.dtype is not None and np.dtype(idx.dtype).kind not in "iu":
        return f"indices of type {idx.dtype}"
    return None


def wrap_indices(e: Emitter, idx, dims):
    """int32 indices with negatives wrapped: ``FLOOR_MOD(CAST(idx), dims)`` (``dims`` broadcasts)."""
    dims = np.asarray(dims, np.int32)
    if idx.is_constant:
        data = np.asarray(idx.data).astype(np.int64)
        return e.const(np.mod(data, dims).astype(np.int32), tag="idx")
    i32 = e.cast(idx, np.int32)
    return e.binary("FLOOR_MOD", i32, e.const(dims, tag="dims"))


def element_flat_indices(e: Emitter, data_shape, idx, axis: int):
    """GatherElements/ScatterElements: the flat position in ``data`` of every index of
    ``idx`` (its own coordinates, with ``idx[...]`` along ``axis``), as a 1-D int32 vector
    (TFLite broadcasting stops at 6 dimensions), negatives wrapped."""
    r = len(data_shape)
    st = strides(data_shape)
    grids = np.indices(idx.shape, dtype=np.int64)
    base = np.zeros(idx.shape, np.int64) + sum(grids[d] * st[d] for d in range(r) if d != axis)
    n = int(np.prod(idx.shape, dtype=np.int64))
    wrapped = wrap_indices(e, e.reshape(idx, (n,)), data_shape[axis])
    flat = wrapped if st[axis] == 1 else e.binary("MUL", wrapped, e.const(np.int32(st[axis]), tag="stride"))
    return e.binary("ADD", flat, e.const(base.reshape(n).astype(np.int32), tag="base"))


@register("GatherElements")
class GatherElements(OpConverter):
    def check(self, node):
        data, idx = node.inputs[0], node.inputs[1]
        if data.shape is not None and int(np.prod(data.shape)) >= 2**31:
            return "data too large for int32 flat indices"
        return index_dtype_reason(idx)

    def lower(self, node, out):
        e = Emitter(out, node.name)
        data, idx = node.inputs
        y = node.outputs[0]
        axis = int(node.attrs.get("axis", 0)) % len(data.shape)
        flat_idx = element_flat_indices(e, data.shape, idx, axis)
        flat = e.reshape(data, (int(np.prod(data.shape)),))
        if len(y.shape) == 1:
            e.gather(flat, flat_idx, 0, y=y)
        else:
            e.reshape(e.gather(flat, flat_idx, 0), y.shape, y=y)


@register("GatherND")
class GatherND(OpConverter):
    def check(self, node):
        idx = node.inputs[1]
        return index_dtype_reason(idx)

    def lower(self, node, out):
        e = Emitter(out, node.name)
        data, idx = node.inputs
        y = node.outputs[0]
        b = int(node.attrs.get("batch_dims", 0))
        k = int(idx.shape[-1])
        wrapped = wrap_indices(e, idx, data.shape[b : b + k])
        if b:
            lead = tuple(idx.shape[:-1])
            grid = np.indices(lead[:b], dtype=np.int32)  # [b, *batch]
            grid = grid.reshape((b,) + lead[:b] + (1,) * (len(lead) - b))
            grid = np.broadcast_to(grid, (b,) + lead).transpose(tuple(range(1, len(lead) + 1)) + (0,))
            from edgelite.schema.fb.ConcatenationOptions import ConcatenationOptionsT

            o = ConcatenationOptionsT()
            o.axis = len(lead)
            wrapped = e.op(
                "CONCATENATION",
                [e.const(np.ascontiguousarray(grid), tag="batch"), wrapped],
                lead + (b + k,),
                np.int32,
                o,
            )
        e.op("GATHER_ND", [data, wrapped], y.shape, y.dtype, y=y)


@register("Gather", after=_ShapeGather)
class GatherWrapped(_ShapeGather):
    """``shape.py``'s Gather, with run-time indices wrapped into ``[0, dim)`` first:
    ONNX allows negative indices, TFLite's GATHER rejects them."""

    def lower(self, node, out):
        data, idx = node.inputs
        e = Emitter(out, node.name)
        node.inputs[1] = wrap_indices(e, idx, data.shape[node.attrs["axis"]])
        try:
            super().lower(node, out)
        finally:
            node.inputs[1] = idx
