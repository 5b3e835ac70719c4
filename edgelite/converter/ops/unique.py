"""Unique without ``axis``, over a 1-D input (``sorted=0``) or any input, flattened (``sorted=1``).

``np.unique``'s answer (the ONNX reference), from ``[n, n]`` comparisons of the ``n``
flattened values (NaNs equal to each other and above every number, as numpy's
``equal_nan`` sorting has them):

* ``first[i]``: no equal value before ``i``; ``rep[i]``: the first ``j`` equal to ``x[i]``;
* ``rank[i]`` of a first occurrence: ``sorted=1`` the number of distinct values below
  it, ``sorted=0`` the number of first occurrences before it (exclusive ``CUMSUM``);
* the first occurrences ordered by rank: ``TOPK_V2`` of ``-key`` (``key = rank`` for them,
  ``n + i`` for the rest, all distinct), its first ``m = SUM(first)`` entries by a
  ``STRIDED_SLICE`` with a run-time end: ``indices``; ``Y = GATHER(x, indices)``,
  ``counts = GATHER(SUM_j(x == x[j]), indices)``, ``inverse_indices = GATHER(rank, rep)``.

``Y``, ``indices`` and ``counts`` are run-time sized (dynamic outputs); the converter gives
them the bound ``(n,)`` only where nothing else reads them (``fold.unique_output_bounds``).
With ``axis`` (equal slices, lexicographic order) it is refused; ``sorted=0`` of a rank > 1
input too: the reference then takes rows of the unflattened input (``np.take(x, indices, axis=0)``).
The work is ``n * n`` elements, so ``n`` is bounded by ``MAX_N``.

Example:
    >>> from edgelite.converter.ops.registry import CONVERTERS
    >>> "::Unique" in CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter, _options
from edgelite.converter.ops.registry import OpConverter, register

MAX_N = 2048
_I32, _I64, _BOOL = np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.bool_)


@register("Unique")
class Unique(OpConverter):
    def check(self, node):
        x = node.inputs[0]
        if "axis" in node.attrs:
            return "Unique with axis (slices compared and sorted whole: not lowered)"
        if np.dtype(x.dtype) not in (np.float32, _I32, _I64):
            return f"Unique of {x.dtype} (float32/int32/int64)"
        sorted_ = bool(node.attrs.get("sorted", 1))
        if not sorted_ and len(x.shape) != 1:
            return "Unique with sorted=0 of a rank > 1 input (the reference takes rows of the unflattened input)"
        n = int(np.prod(x.shape, dtype=np.int64))
        if not 1 <= n <= MAX_N:
            return f"Unique of {n} values (1 to {MAX_N}: the lowering compares every pair)"
        for o in node.outputs:
            if o is not None and o.shape is None:
                return f"Unique output {o.name!r} is read by another node (its length is known only at run time)"
        return None

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x = node.inputs[0]
        n = int(np.prod(x.shape, dtype=np.int64))
        xf = e.reshape(x, (n,))
        col, row = e.reshape(xf, (n, 1)), e.reshape(xf, (1, n))  # x[i], x[j]
        eq = e.binary("EQUAL", col, row)
        nan_col = nan_row = None
        if x.dtype.kind == "f":
            nan = e.binary("NOT_EQUAL", xf, xf)
            nan_col, nan_row = e.reshape(nan, (n, 1)), e.reshape(nan, (1, n))
            eq = e.binary("LOGICAL_OR", eq, e.binary("LOGICAL_AND", nan_col, nan_row))
        before = e.const(np.arange(n)[None, :] < np.arange(n)[:, None], tag="before")  # j < i
        dup = e.reduce("REDUCE_ANY", e.binary("LOGICAL_AND", eq, before), [1])
        first = e.unary("LOGICAL_NOT", dup)
        first_i = e.cast(first, _I32)
        j_idx = e.const(np.arange(n, dtype=np.int32).reshape(1, n), tag="j")
        rep = e.reduce("REDUCE_MIN", e.select(eq, j_idx, e.scalar(n, _I32)), [1])
        zero = e.scalar(0, _I32)
        if bool(node.attrs.get("sorted", 1)):
            less = e.binary("LESS", row, col)  # x[j] < x[i]
            if nan_col is not None:  # a NaN is above every number
                less = e.binary("LOGICAL_OR", less, e.binary("LOGICAL_AND", nan_col, e.unary("LOGICAL_NOT", nan_row)))
            rank = e.reduce("SUM", e.select(less, e.reshape(first_i, (1, n)), zero), [1])
        else:
            axis0 = e.const(np.array(0, np.int32), tag="axis0")
            rank = e.op("CUMSUM", [first_i, axis0], (n,), _I32, _options("CumsumOptions", exclusive=True))
        order = self._order(e, first, rank, n)
        m = e.reshape(e.reduce("SUM", first_i, [0]), (1,))
        picked = e.op("STRIDED_SLICE", [order, e.const(np.array([0], np.int32), tag="begin"), m,
                                        e.const(np.array([1], np.int32), tag="stride")], (n,), _I32,
                      _options("StridedSliceOptions"))
        y, indices, inverse, counts = (list(node.outputs) + [None] * 4)[:4]
        if y is not None:
            e.gather(xf, picked, 0, y=y)
        if indices is not None:
            e.cast(picked, _I64, y=indices)
        if inverse is not None:
            e.cast(e.gather(rank, rep, 0), _I64, y=inverse)
        if counts is not None:
            count_all = e.reduce("SUM", e.cast(eq, _I32), [1])
            e.cast(e.gather(count_all, picked, 0), _I64, y=counts)

    @staticmethod
    def _order(e, first, rank, n):
        """Positions sorted by ``rank`` (first occurrences) then by position (the rest)."""
        key = e.select(first, rank, e.const(np.arange(n, 2 * n, dtype=np.int32), tag="rest"))
        neg = e.unary("NEG", key)
        vals = e.tmp((n,), _I32, tag="topk_vals")
        idx = e.tmp((n,), _I32, tag="topk_idx")
        e.out.emit("TOPK_V2", [neg, e.const(np.array(n, np.int32), tag="k")], [vals, idx], _options("TopKV2Options"))
        return idx
