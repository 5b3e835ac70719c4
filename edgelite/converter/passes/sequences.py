"""``static_sequences``: ONNX sequences of a length known at conversion, as stacked tensors.

A ``.tflite`` has no sequence type. A sequence inside the graph whose length is fixed at
conversion and whose elements share one shape and dtype is held as one tensor with a
leading axis of that length (``S[i]`` is element ``i``); the sequence ops become tensor
ops on it, positions fed at run time included:

* ``SequenceConstruct(x1..xn)``: ``Concat`` of the elements reshaped to ``[1, ...]``;
  ``SequenceEmpty`` + ``SequenceInsert`` build the same.
* ``SequenceAt(S, p)``: ``Gather(S, p)`` with ``p`` negative counted from the end.
* ``SequenceInsert(S, t, p)`` / ``SequenceErase(S, p)``: ``Gather`` of ``Concat(S, t)``
  (or of ``S``) at indices computed from ``p`` (``j``, the new element, or ``j -+ 1``).
* ``SequenceLength``: the constant ``n``.
* ``SplitToSequence`` (no split, or equal constant pieces) and ``ConcatFromSequence``
  (``new_axis`` 0 or 1): ``Transpose`` / ``Reshape`` of the stacked tensor.

A ``SplitToSequence`` whose run-time ``split`` gives pieces of unknown sizes still has a
known length (the length of ``split``): it is resolved when ``SequenceLength`` is its only
reader. Sequences that do not fit (elements of different shapes, lengths known only at run
time, sequences at the graph boundary) are left as they are, and ``check_supported``
reports their nodes. So are element types some of LiteRT's GATHER / CONCATENATION /
TRANSPOSE kernels lack (float64, float16, ...).

Example:
    >>> from edgelite.converter.passes.sequences import static_sequences
    >>> static_sequences.__name__
    'static_sequences'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgelite.converter.ir import Graph, Node, Value

_I64 = np.dtype(np.int64)
SEQUENCE_OPS = frozenset({"SequenceConstruct", "SequenceEmpty", "SequenceInsert", "SequenceErase", "SequenceAt",
                          "SequenceLength", "SplitToSequence", "ConcatFromSequence"})


@dataclass
class _Seq:
    """A resolved sequence: ``n`` elements of ``shape``/``dtype`` stacked in ``stacked``
    (None when n is 0, or when only the length is known)."""

    n: int
    stacked: Value | None
    shape: tuple | None
    dtype: np.dtype | None


class _Rewriter:
    def __init__(self, g: Graph, node: Node):
        self.g, self.node = g, node

    def op(self, op_type: str, inputs, attrs=None, shape=None, dtype=None) -> Value:
        y = self.g.new_value(f"{self.node.name}_{op_type.lower()}", shape, dtype)
        self.g.add_node(op_type, list(inputs), [y], attrs or {}, name=f"{self.node.name}_{op_type}", before=self.node)
        return y

    def const(self, value, dtype=_I64) -> Value:
        return self.g.const(np.asarray(value, dtype), f"{self.node.name}_c")

    def stack1(self, x: Value) -> Value:
        """``x`` as a one-element stack ``[1, *shape]``."""
        return self.op("Reshape", [x, self.const((1,) + tuple(x.shape))], shape=(1,) + tuple(x.shape), dtype=x.dtype)

    def position(self, p: Value | None, n: int, default: int) -> Value:
        """A position input as a non-negative int64 scalar (negative counts from ``n``)."""
        if p is None:
            return self.const(default % max(n, 1) if default < 0 else default)
        p = p if np.dtype(p.dtype) == _I64 else self.op("Cast", [p], {"to": 7}, shape=p.shape, dtype=_I64)
        p = self.op("Reshape", [p, self.const(np.zeros(0, np.int64))], shape=(), dtype=_I64)
        neg = self.op("Less", [p, self.const(0)], shape=(), dtype=np.dtype(bool))
        return self.op("Where", [neg, self.op("Add", [p, self.const(n)], shape=(), dtype=_I64), p], shape=(), dtype=_I64)

    def gather(self, s: _Seq, idx: Value, n_out: int) -> Value:
        return self.op("Gather", [s.stacked, idx], {"axis": 0}, shape=(n_out,) + tuple(s.shape), dtype=s.dtype)


# Element types LiteRT's GATHER, CONCATENATION and TRANSPOSE all take.
_STACKABLE = {np.dtype(t) for t in (np.float32, np.int32, np.int64, np.int8, np.uint8, np.bool_)}


def _same(values) -> bool:
    return all(v.shape is not None and v.dtype is not None for v in values) and \
        len({(tuple(v.shape), np.dtype(v.dtype)) for v in values}) == 1 and np.dtype(values[0].dtype) in _STACKABLE


def _resolve(g: Graph, node: Node, seqs: dict[int, _Seq]) -> _Seq | Value | None:
    """The resolved output of ``node`` (a ``_Seq``, or a tensor for At/Length/ConcatFromSequence),
    or None when it does not fit."""
    r = _Rewriter(g, node)
    op, ins = node.op_type, node.inputs
    seq = seqs.get(id(ins[0])) if ins and ins[0] is not None else None
    if op == "SequenceEmpty":
        return _Seq(0, None, None, None)
    if op == "SequenceConstruct":
        if not ins or not _same(ins):
            return None
        parts = [r.stack1(x) for x in ins]
        shape = tuple(ins[0].shape)
        stacked = parts[0] if len(parts) == 1 else r.op("Concat", parts, {"axis": 0}, (len(parts),) + shape, ins[0].dtype)
        return _Seq(len(ins), stacked, shape, np.dtype(ins[0].dtype))
    if op == "SplitToSequence":
        return _split(r, node)
    if seq is None:
        return None
    if op == "SequenceLength":
        return r.const(seq.n)
    if seq.stacked is None and not (op == "SequenceInsert" and seq.n == 0):
        return None  # only the length is known
    if op == "SequenceAt":
        if seq.n == 0:
            return None
        return r.op("Gather", [seq.stacked, r.position(node.input(1), seq.n, 0)], {"axis": 0}, seq.shape, seq.dtype)
    if op == "SequenceInsert":
        t = ins[1]
        if t.shape is None or t.dtype is None or np.dtype(t.dtype) not in _STACKABLE or (seq.n and (tuple(t.shape) != seq.shape or np.dtype(t.dtype) != seq.dtype)):
            return None
        one = r.stack1(t)
        shape, n = tuple(t.shape), seq.n
        if n == 0:
            return _Seq(1, one, shape, np.dtype(t.dtype))
        both = r.op("Concat", [seq.stacked, one], {"axis": 0}, (n + 1,) + shape, seq.dtype)
        if node.input(2) is None:
            return _Seq(n + 1, both, shape, seq.dtype)
        p = r.position(node.input(2), n, n)
        j = r.const(np.arange(n + 1))
        before = r.op("Less", [j, p], shape=(n + 1,), dtype=np.dtype(bool))
        at = r.op("Equal", [j, p], shape=(n + 1,), dtype=np.dtype(bool))
        after = r.op("Where", [at, r.const(n), r.op("Sub", [j, r.const(1)], shape=(n + 1,), dtype=_I64)],
                     shape=(n + 1,), dtype=_I64)
        idx = r.op("Where", [before, j, after], shape=(n + 1,), dtype=_I64)
        s = _Seq(n + 1, both, shape, seq.dtype)
        return _Seq(n + 1, r.gather(s, idx, n + 1), shape, seq.dtype)
    if op == "SequenceErase":
        n = seq.n
        if n == 0:
            return None
        p = r.position(node.input(1), n, -1)
        j = r.const(np.arange(n - 1))
        idx = r.op("Where", [r.op("Less", [j, p], shape=(n - 1,), dtype=np.dtype(bool)), j,
                             r.op("Add", [j, r.const(1)], shape=(n - 1,), dtype=_I64)], shape=(n - 1,), dtype=_I64)
        return _Seq(n - 1, r.gather(seq, idx, n - 1), seq.shape, seq.dtype)
    if op == "ConcatFromSequence":
        return _concat(r, node, seq)
    return None


def _split(r: _Rewriter, node: Node) -> _Seq | None:
    x, split = node.inputs[0], node.input(1)
    if x.shape is None and split is None:
        return None
    axis = int(node.attrs.get("axis", 0))
    keep = bool(node.attrs.get("keepdims", 1))
    if split is not None and not split.is_constant:
        if split.shape is not None and len(split.shape) == 1:
            return _Seq(int(split.shape[0]), None, None, x.dtype)  # only the length is known
        return None
    if x.shape is None or x.dtype is None or np.dtype(x.dtype) not in _STACKABLE:
        return None
    rank = len(x.shape)
    axis %= rank
    size = int(x.shape[axis])
    if split is None:
        pieces = [1] * size
    else:
        sv = np.asarray(split.data).astype(np.int64)
        pieces = [int(sv)] * -(-size // int(sv)) if sv.ndim == 0 else [int(v) for v in sv]
        keep = True  # with an explicit split the pieces keep the axis
    if sum(pieces) != size or len(set(pieces)) != 1:
        return None  # unequal pieces (a scalar split leaving a shorter last one) do not stack
    k, n = pieces[0], len(pieces)
    # [.., n*k, ..] -> [.., n, k, ..] -> [n, .., k, ..]
    rest = list(x.shape[:axis]) + [n, k] + list(x.shape[axis + 1:])
    y = r.op("Reshape", [x, r.const(rest)], shape=tuple(rest), dtype=x.dtype)
    perm = [axis] + [i for i in range(rank + 1) if i != axis]
    elem = list(x.shape[:axis]) + [k] + list(x.shape[axis + 1:])
    y = r.op("Transpose", [y], {"perm": perm}, shape=(n,) + tuple(elem), dtype=x.dtype)
    if not keep:
        elem = elem[:axis] + elem[axis + 1:]
        y = r.op("Reshape", [y, r.const([n] + elem)], shape=(n,) + tuple(elem), dtype=x.dtype)
    return _Seq(n, y, tuple(elem), np.dtype(x.dtype))


def _concat(r: _Rewriter, node: Node, seq: _Seq) -> Value | None:
    if seq.n == 0:
        return None
    rank = len(seq.shape)
    new_axis = bool(node.attrs.get("new_axis", 0))
    axis = int(node.attrs["axis"])
    axis %= rank + 1 if new_axis else rank
    # S is [n, d0, ..]: move the sequence axis to ``axis``.
    perm = list(range(1, axis + 1)) + [0] + list(range(axis + 1, rank + 1))
    moved_shape = tuple(seq.shape[:axis]) + (seq.n,) + tuple(seq.shape[axis:])
    y = r.op("Transpose", [seq.stacked], {"perm": perm}, shape=moved_shape, dtype=seq.dtype)
    if new_axis:
        return y
    merged = tuple(seq.shape[:axis]) + (seq.n * seq.shape[axis],) + tuple(seq.shape[axis + 1:])
    return r.op("Reshape", [y, r.const(merged)], shape=merged, dtype=seq.dtype)


def static_sequences(g: Graph) -> None:
    """Resolve every sequence of static length and common element shape (module docstring)."""
    from edgelite.converter.passes.fold import shape_inference_and_folding

    if not any(n.op_type in SEQUENCE_OPS and n.domain in ("", "ai.onnx") for n in g.nodes):
        return
    if any(g.is_output(o) for n in g.nodes if n.op_type in SEQUENCE_OPS for o in n.outputs
           if n.op_type not in ("SequenceAt", "SequenceLength", "ConcatFromSequence")):
        return  # a sequence at the graph boundary: nothing to resolve it into
    seqs: dict[int, _Seq] = {}
    for node in list(g.nodes):
        if node.op_type not in SEQUENCE_OPS or node.domain not in ("", "ai.onnx"):
            continue
        out = _resolve(g, node, seqs)
        if out is None:
            continue
        if isinstance(out, _Seq):
            seqs[id(node.outputs[0])] = out
        else:
            g.replace_uses(node.outputs[0], out)
    for node in list(g.nodes):
        if node.op_type in ("SequenceAt", "SequenceLength", "ConcatFromSequence") and not _read(g, node.outputs[0]):
            g.remove_node(node)
    for node in reversed(list(g.nodes)):
        if node.op_type in SEQUENCE_OPS and not _read(g, node.outputs[0]):
            g.remove_node(node)
    shape_inference_and_folding(g)


def _read(g: Graph, v: Value) -> bool:
    return g.is_output(v) or any(any(x is v for x in n.inputs) for n in g.nodes)
