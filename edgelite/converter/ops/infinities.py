"""Keeping ONNX's infinities through float ``Add`` / ``Sub``.

LiteRT's built-in float ADD and SUB clamp their result to the fused activation's range,
which for "no activation" is ``[-FLT_MAX, FLT_MAX]``: ``-inf + x`` comes out as
``-3.4e38`` (XNNPACK keeps ``-inf``, so the same file even differs between delegates).
ONNX models use ``-inf`` on purpose, in attention masks above all: a fully masked row
must stay ``-inf`` so that the ``Softmax`` gives NaN and the model's own guard turns it
into zeros; clamped, the row becomes uniform and the model returns a plausible but
wrong answer.

So an ``Add``/``Sub`` that may see an infinity (an operand reachable from a constant
holding one) is lowered as the clamped op followed by two ``SELECT_V2``s that put back
what IEEE arithmetic gives: ``-inf`` where an operand contributes ``-inf``, ``+inf`` where
one contributes ``+inf``, NaN where both do. Finite sums that overflow still saturate
(no operand tells that apart cheaply); values that cannot carry an infinity (bounded
ops such as Softmax or Sigmoid, integer and bool tensors) keep the single op.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter

# Float ops whose output is finite (or NaN) whatever their inputs: infinities stop here.
_BOUNDED = frozenset({"Softmax", "Sigmoid", "Tanh", "Erf", "Sin", "Cos", "HardSigmoid", "Shape", "Size"})


def may_be_infinite(v, memo: dict) -> bool:
    """Whether float value ``v`` can hold ±inf: a constant holding one, or the output of
    an unbounded op with such an input (walked through producers once, memoized)."""
    if v is None or v.dtype is None or np.dtype(v.dtype).kind != "f":
        return False
    key = id(v)
    if key in memo:
        return memo[key]
    memo[key] = False  # cycles cannot occur in a DAG; this also bounds the recursion
    if v.is_constant:
        result = bool(np.isinf(np.asarray(v.data)).any())
    else:
        node = v.producer
        result = node is not None and node.op_type not in _BOUNDED and any(
            may_be_infinite(i, memo) for i in node.inputs if i is not None
        )
    memo[key] = result
    return result


def restore_infinities(out, name: str, op: str, a, b, clamped, y) -> None:
    """``y`` = ``clamped`` (the result of LiteRT's ADD/SUB on ``a``, ``b``) with IEEE infinities."""
    e = Emitter(out, name)
    dt = np.dtype(y.dtype)
    inf = e.const(np.array(np.inf, dt), tag="inf")
    ninf = e.const(np.array(-np.inf, dt), tag="ninf")
    a_pos, a_neg = e.binary("EQUAL", a, inf), e.binary("EQUAL", a, ninf)
    b_pos, b_neg = e.binary("EQUAL", b, inf), e.binary("EQUAL", b, ninf)
    if op == "SUB":
        b_pos, b_neg = b_neg, b_pos  # a - b: b's +inf contributes -inf
    pos = e.binary("LOGICAL_OR", a_pos, b_pos)
    neg = e.binary("LOGICAL_OR", a_neg, b_neg)
    # pos and neg together: inf - inf, NaN; the clamped op already gives NaN there.
    both = e.binary("LOGICAL_AND", pos, neg)
    lone_pos = e.binary("LOGICAL_AND", pos, e.unary("LOGICAL_NOT", both, dtype=np.bool_))
    lone_neg = e.binary("LOGICAL_AND", neg, e.unary("LOGICAL_NOT", both, dtype=np.bool_))
    t = e.select(lone_pos, inf, clamped)
    e.select(lone_neg, ninf, t, y=y)
