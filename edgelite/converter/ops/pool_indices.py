"""MaxPool with its ``Indices`` output, as the ONNX reference scans a window.

The reference takes a window's first in-bounds value, then each later one that is
strictly greater: the value is the maximum and the index its first position, except
that a NaN taken first stays (a NaN later is never taken). On the patches
``[N, C, K, P]`` of ``spatial_ext.patches`` (``K`` window offsets, ``P`` output positions):

* ``good`` = in bounds and not NaN; ``M = REDUCE_MAX(good ? x : -inf)`` over ``K``;
  ``k* = REDUCE_MIN(good and x == M ? k : K)``: the first position holding it;
* the window's first in-bounds value ``f`` (a constant offset per position): where it is
  NaN the output is it and ``k*`` its offset;
* ``Indices = (n * C + c) * prod(spatial) + T[k*, p]``, ``T`` the constant table of each
  window element's flat index in the input's spatial block, row-major for
  ``storage_order=0`` and column-major for ``storage_order=1`` (as the reference computes it).

Example:
    >>> from edgelite.converter.ops.registry import STRATEGIES
    >>> [type(s).__name__ for s in STRATEGIES["::MaxPool"]][-1]
    'MaxPoolWithIndices'
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register
from edgelite.converter.ops.spatial_ext import PoolPatches, _geometry, _PatchPool, patch_table, patches

_I32, _I64 = np.dtype(np.int32), np.dtype(np.int64)


def wants_indices(node) -> bool:
    """Whether the MaxPool node has an ``Indices`` output."""
    return node.op_type == "MaxPool" and len(node.outputs) > 1 and node.outputs[1] is not None


@register("MaxPool", after=PoolPatches)
class MaxPoolWithIndices(_PatchPool, OpConverter):
    """MaxPool whose ``Indices`` output exists (the strategies before it do not apply to it)."""

    def check(self, node):
        if "kernel_shape" not in node.attrs:
            return "no kernel_shape"
        if np.dtype(node.inputs[0].dtype) != np.float32:
            return f"MaxPool with Indices of {node.inputs[0].dtype} (float32 only)"
        if int(node.attrs.get("storage_order", 0)) not in (0, 1):
            return f"storage_order={node.attrs.get('storage_order')}"
        return None

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, y, ind = node.inputs[0], node.outputs[0], node.outputs[1]
        kernel = [int(k) for k in node.attrs["kernel_shape"]]
        strides, dil, _, full, outs = _geometry(node, x.shape, y.shape, kernel)
        n, c = int(x.shape[0]), int(x.shape[1])
        spatial = tuple(int(s) for s in x.shape[2:])
        order = "F" if int(node.attrs.get("storage_order", 0)) == 1 else "C"
        flat_index = np.full(tuple(s + b + a for s, (b, a) in zip(spatial, full)), -1, np.int64)
        flat_index[tuple(slice(b, b + s) for s, (b, _) in zip(spatial, full))] = np.arange(
            int(np.prod(spatial))).reshape(spatial, order=order)
        table, _ = patch_table(spatial, kernel, strides, dil, full, outs)
        where = flat_index.reshape(-1)[table]  # [K, P]: input index, -1 in the padding
        k, p = table.shape
        inside = where >= 0
        first_k = inside.argmax(0)  # the first in-bounds offset per position
        win, _ = patches(e, x, kernel, strides, dil, full, outs, 0.0)  # [N, C, K, P]
        not_nan = e.binary("EQUAL", win, win)
        good = e.binary("LOGICAL_AND", not_nan, e.const(inside.reshape(1, 1, k, p), tag="inside"))
        minus_inf = e.scalar(-np.inf, np.float32)
        m = e.reduce("REDUCE_MAX", e.select(good, win, minus_inf), [2], keep=True)  # [N, C, 1, P]
        hit = e.binary("LOGICAL_AND", good, e.binary("EQUAL", win, m))
        offsets = e.const(np.arange(k, dtype=np.int32).reshape(1, 1, k, 1), tag="offsets")
        best_k = e.reduce("REDUCE_MIN", e.select(hit, offsets, e.scalar(k, _I32)), [2])  # [N, C, P]
        first = e.gather(e.reshape(win, (n, c, k * p)), e.const((first_k * p + np.arange(p)).astype(np.int32), tag="first"), 2)
        first_nan = e.binary("NOT_EQUAL", first, first)
        best_k = e.select(first_nan, e.const(first_k.astype(np.int32), tag="first_k"), best_k)
        value = e.select(first_nan, first, e.reshape(m, (n, c, p)))
        e.reshape(value, y.shape, y=y)
        pos = e.add(e.mul(best_k, e.scalar(p, _I32)), e.const(np.arange(p, dtype=np.int32), tag="positions"))
        idx = e.gather(e.const(where.reshape(-1), tag="where"), e.reshape(pos, (n * c * p,)), 0)
        base = (np.arange(n * c, dtype=np.int64) * int(np.prod(spatial))).reshape(n, c, 1)
        total = e.add(e.reshape(idx, (n, c, p)), e.const(base, tag="base"))
        e.reshape(total, ind.shape, y=ind)
