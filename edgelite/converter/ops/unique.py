"""Unique, as the ONNX reference (``np.unique``) computes it.

The input is seen as ``S`` slices of ``M`` values: without ``axis`` its ``n`` values
(``S = n``, ``M = 1``), with ``axis`` its slices along that axis (moved first, flattened).
From ``[S, S, M]`` comparisons of slice ``i`` with slice ``j``:

* equal slices: every value ``==``; without ``axis`` NaNs are equal to each other
  (numpy's ``equal_nan``), with ``axis`` a NaN makes its slice unequal to every slice
  (numpy compares the slices as records there);
* ``first[i]``: no equal slice before ``i``; ``rep[i]``: the first slice equal to ``i``
  (``i`` itself when none is);
* ``rank[i]`` of a first occurrence: ``sorted=1`` the number of first occurrences that
  sort before it (lexicographically, NaN above every number, a tie by position, as
  numpy's stable sort), ``sorted=0`` the number of first occurrences before it;
* the first occurrences ordered by rank: ``TOPK_V2`` of ``-key`` (``key = rank`` for them,
  ``S + i`` for the rest, all distinct), its first ``m = SUM(first)`` entries by a
  ``STRIDED_SLICE`` with a run-time end: ``indices``; ``Y = GATHER(x, indices, axis)``,
  ``counts`` the number of slices equal to each, ``inverse_indices = GATHER(rank, rep)``.

``Y``, ``indices`` and ``counts`` are run-time sized (dynamic outputs); the converter gives
them the bound of all ``S`` slices only where nothing else reads them
(``fold.unique_output_bounds``). ``sorted=0`` is refused where the reference takes rows of
the unflattened input instead of its unique slices (``np.take(x, indices, axis=0)``: a
rank > 1 input without ``axis``, or ``axis`` other than 0). The work is ``S * S * M``
elements, bounded by ``MAX_WORK``.

Example:
    >>> from edgelite.converter.ops.registry import CONVERTERS
    >>> "::Unique" in CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter, _options
from edgelite.converter.ops.registry import OpConverter, register

MAX_WORK = 1 << 22
_I32, _I64, _BOOL = np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.bool_)


def slices(node) -> tuple[int | None, int, int]:
    """(axis or None, S, M) of a Unique node."""
    x = node.inputs[0]
    if "axis" not in node.attrs:
        return None, int(np.prod(x.shape, dtype=np.int64)), 1
    axis = int(node.attrs["axis"]) % len(x.shape)
    s = int(x.shape[axis])
    return axis, s, int(np.prod(x.shape, dtype=np.int64)) // max(s, 1)


@register("Unique")
class Unique(OpConverter):
    def check(self, node):
        x = node.inputs[0]
        if np.dtype(x.dtype) not in (np.float32, _I32, _I64):
            return f"Unique of {x.dtype} (float32/int32/int64)"
        axis, s, m = slices(node)
        sorted_ = bool(node.attrs.get("sorted", 1))
        if not sorted_ and ((axis is None and len(x.shape) != 1) or (axis is not None and axis != 0)):
            return "Unique with sorted=0 of slices other than the leading ones (the reference takes rows of the input)"
        if s < 1 or m < 1 or s * s * m > MAX_WORK:
            return f"Unique of {s} slices of {m} (the lowering compares every pair: at most {MAX_WORK} values)"
        for o in node.outputs:
            if o is not None and o.shape is None:
                return f"Unique output {o.name!r} is read by another node (its length is known only at run time)"
        return None

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x = node.inputs[0]
        axis, s, m = slices(node)
        if axis is None:
            flat = e.reshape(x, (s,))
            x2 = e.reshape(flat, (s, m))
        else:
            perm = [axis] + [d for d in range(len(x.shape)) if d != axis]
            x2 = e.reshape(e.transpose(x, perm), (s, m))
        a, b = e.reshape(x2, (s, 1, m)), e.reshape(x2, (1, s, m))  # slice i, slice j
        same = e.binary("EQUAL", a, b)  # [S, S, M]
        sort_same, lt = same, e.binary("LESS", b, a)  # x[j] < x[i]
        if x.dtype.kind == "f":
            nan = e.binary("NOT_EQUAL", x2, x2)
            nan_a, nan_b = e.reshape(nan, (s, 1, m)), e.reshape(nan, (1, s, m))
            sort_same = e.binary("LOGICAL_OR", same, e.binary("LOGICAL_AND", nan_a, nan_b))
            lt = e.binary("LOGICAL_OR", lt, e.binary("LOGICAL_AND", nan_a, e.unary("LOGICAL_NOT", nan_b)))
            if axis is None:
                same = sort_same
        eye = e.const(np.eye(s, dtype=bool), tag="eye")
        eq = e.binary("LOGICAL_OR", self._all(e, same, s, m), eye)  # [S, S]
        before = e.const(np.arange(s)[None, :] < np.arange(s)[:, None], tag="before")  # j < i
        first = e.unary("LOGICAL_NOT", e.reduce("REDUCE_ANY", e.binary("LOGICAL_AND", eq, before), [1]))
        first_i = e.cast(first, _I32)
        j_idx = e.const(np.arange(s, dtype=np.int32).reshape(1, s), tag="j")
        rep = e.reduce("REDUCE_MIN", e.select(eq, j_idx, e.scalar(s, _I32)), [1])
        if bool(node.attrs.get("sorted", 1)):
            ahead = e.binary("LOGICAL_OR", self._lex_less(e, lt, sort_same, s, m),
                             e.binary("LOGICAL_AND", self._all(e, sort_same, s, m), before))
            rank = e.reduce("SUM", e.select(ahead, e.reshape(first_i, (1, s)), e.scalar(0, _I32)), [1])
        else:
            axis0 = e.const(np.array(0, np.int32), tag="axis0")
            rank = e.op("CUMSUM", [first_i, axis0], (s,), _I32, _options("CumsumOptions", exclusive=True))
        order = self._order(e, first, rank, s)
        count = e.reshape(e.reduce("SUM", first_i, [0]), (1,))
        picked = e.op("STRIDED_SLICE", [order, e.const(np.array([0], np.int32), tag="begin"), count,
                                        e.const(np.array([1], np.int32), tag="stride")], (s,), _I32,
                      _options("StridedSliceOptions"))
        y, indices, inverse, counts = (list(node.outputs) + [None] * 4)[:4]
        if y is not None:
            if axis is None:
                e.gather(flat, picked, 0, y=y)
            else:
                e.gather(x, picked, axis, y=y)
        if indices is not None:
            e.cast(picked, _I64, y=indices)
        if inverse is not None:
            e.cast(e.gather(rank, rep, 0), _I64, y=inverse)
        if counts is not None:
            count_all = e.reduce("SUM", e.cast(eq, _I32), [1])
            e.cast(e.gather(count_all, picked, 0), _I64, y=counts)

    @staticmethod
    def _all(e, v, s, m):
        """``[S, S, M]`` -> ``[S, S]``: every value."""
        return e.reshape(v, (s, s)) if m == 1 else e.reduce("REDUCE_ALL", v, [2])

    @staticmethod
    def _lex_less(e, lt, same, s, m):
        """Slice ``j`` sorts before slice ``i``: the first value where they differ is smaller."""
        if m == 1:
            return e.reshape(lt, (s, s))
        differ = e.cast(e.unary("LOGICAL_NOT", same), _I32)
        axis2 = e.const(np.array(2, np.int32), tag="axis2")
        earlier = e.op("CUMSUM", [differ, axis2], (s, s, m), _I32, _options("CumsumOptions", exclusive=True))
        leading = e.binary("EQUAL", earlier, e.scalar(0, _I32))  # every earlier value the same
        return e.reduce("REDUCE_ANY", e.binary("LOGICAL_AND", lt, leading), [2])

    @staticmethod
    def _order(e, first, rank, s):
        """Positions sorted by ``rank`` (first occurrences) then by position (the rest)."""
        key = e.select(first, rank, e.const(np.arange(s, 2 * s, dtype=np.int32), tag="rest"))
        neg = e.unary("NEG", key)
        vals = e.tmp((s,), _I32, tag="topk_vals")
        idx = e.tmp((s,), _I32, tag="topk_idx")
        e.out.emit("TOPK_V2", [neg, e.const(np.array(s, np.int32), tag="k")], [vals, idx], _options("TopKV2Options"))
        return idx
