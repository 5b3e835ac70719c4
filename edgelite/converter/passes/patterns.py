"""Pattern recognition: subgraphs exporters write for ops TFLite has natively.

* hard-swish: ``x * relu6(x + 3) / 6`` (Div or Mul by 1/6, either order),
  ``x * HardSigmoid(x)`` with alpha 1/6, beta 1/2 -> ``HardSwish``;
* GELU, erf form ``0.5 * x * (1 + erf(x / sqrt(2)))`` and tanh form
  ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))`` -> ``Gelu``
  (``approximate`` = "none" / "tanh");
* ``MatMul``/``Gemm`` with constant weights -> ``FullyConnected`` (edgelite domain),
  taking a following bias ``Add`` along.

Example:
    >>> from edgelite.converter.passes.patterns import recognize_patterns
    >>> recognize_patterns.__name__
    'recognize_patterns'
"""

from __future__ import annotations

import math

import numpy as np

from edgelite.converter.ir import Graph, Node, Value
from edgelite.converter.passes.qdq import fc_weight_quant

EDGELITE = "edgelite"


def _scalar(v: Value | None) -> float | None:
    if v is None or not v.is_constant or v.data.size != 1:
        return None
    return float(np.asarray(v.data).ravel()[0])


def _close(a: float | None, b: float, tol: float = 1e-3) -> bool:
    return a is not None and abs(a - b) <= tol * max(1.0, abs(b))


def _other(node: Node, v: Value) -> Value | None:
    """The input of a binary node that is not ``v``."""
    a, b = node.inputs[0], node.inputs[1]
    return b if a is v else a if b is v else None


def _sole(g: Graph, v: Value, cons) -> Node | None:
    c = cons.get(id(v), [])
    return c[0] if len(c) == 1 and not g.is_output(v) else None


def _replace(g: Graph, first: Node, last: Node, op_type: str, x: Value, attrs=None, domain="") -> None:
    """Replace the nodes between ``first`` and ``last`` with one node ``op_type(x)``."""
    new = g.add_node(op_type, [x], [last.outputs[0]], attrs or {}, name=last.name, domain=domain, before=first)
    new.outputs[0].producer = new
    # The old nodes are now dead (their outputs unread): dead-code elimination drops them.
    last.outputs = [g.new_value(last.name + "_dead")]


def _relu6_plus3(v: Value) -> Value | None:
    """If ``v = Clip(x + 3, 0, 6)`` (or Relu6 via Clip), return x."""
    clip = v.producer
    if (
        clip is None
        or clip.op_type != "Clip"
        or not (_close(clip.ann.clip_min, 0) and _close(clip.ann.clip_max, 6))
    ):
        return None
    add = clip.inputs[0].producer
    if add is None or add.op_type != "Add":
        return None
    for a, b in ((0, 1), (1, 0)):
        if _close(_scalar(add.inputs[b]), 3.0):
            return add.inputs[a]
    return None


def hard_swish(g: Graph) -> None:
    cons = g.consumers()
    for n in list(g.nodes):
        if (
            n.op_type == "HardSigmoid"
            and _close(n.attrs.get("alpha", 0.2), 1 / 6)
            and _close(n.attrs.get("beta", 0.5), 0.5)
        ):
            m = _sole(g, n.outputs[0], cons)
            if m is not None and m.op_type == "Mul" and _other(m, n.outputs[0]) is n.inputs[0]:
                _replace(g, n, m, "HardSwish", n.inputs[0])
            continue
        if n.op_type != "Clip":
            continue
        x = _relu6_plus3(n.outputs[0])
        if x is None:
            continue
        # x * clip / 6  |  x * (clip / 6)  |  (x * clip) * (1/6)  |  x * (clip * (1/6))
        c1 = _sole(g, n.outputs[0], cons)
        if c1 is None:
            continue
        if c1.op_type in ("Div", "Mul") and c1.inputs[0] is n.outputs[0]:
            k = _scalar(c1.inputs[1])
            if (c1.op_type == "Div" and _close(k, 6)) or (c1.op_type == "Mul" and _close(k, 1 / 6)):
                c2 = _sole(g, c1.outputs[0], cons)
                if c2 is not None and c2.op_type == "Mul" and _other(c2, c1.outputs[0]) is x:
                    _replace(g, n, c2, "HardSwish", x)
            continue
        if c1.op_type == "Mul" and _other(c1, n.outputs[0]) is x:
            c2 = _sole(g, c1.outputs[0], cons)
            if c2 is not None and c2.inputs[0] is c1.outputs[0]:
                k = _scalar(c2.inputs[1])
                if (c2.op_type == "Div" and _close(k, 6)) or (c2.op_type == "Mul" and _close(k, 1 / 6)):
                    _replace(g, n, c2, "HardSwish", x)
        cons = g.consumers()


def _gelu_tail(g: Graph, one_plus: Node, x: Value, cons) -> Node | None:
    """From ``y = 1 + f(x)``, find the node computing ``0.5 * x * y``; return it or None."""
    m1 = _sole(g, one_plus.outputs[0], cons)
    if m1 is None or m1.op_type != "Mul":
        return None
    other = _other(m1, one_plus.outputs[0])
    if other is x:  # (x * y) * 0.5
        m2 = _sole(g, m1.outputs[0], cons)
        if m2 is not None and m2.op_type == "Mul" and _close(_scalar(_other(m2, m1.outputs[0])), 0.5):
            return m2
        if (
            m2 is not None
            and m2.op_type == "Div"
            and m2.inputs[0] is m1.outputs[0]
            and _close(_scalar(m2.inputs[1]), 2.0)
        ):
            return m2
        return None
    half = other.producer if other is not None else None
    if half is not None and half.op_type == "Mul" and x in half.inputs and _close(_scalar(_other(half, x)), 0.5):
        return m1  # (0.5 * x) * y
    if _close(_scalar(other), 0.5):  # (y * 0.5) * x
        m2 = _sole(g, m1.outputs[0], cons)
        if m2 is not None and m2.op_type == "Mul" and _other(m2, m1.outputs[0]) is x:
            return m2
    return None


def _one_plus(g: Graph, v: Value, cons) -> Node | None:
    a = _sole(g, v, cons)
    if a is not None and a.op_type == "Add" and _close(_scalar(_other(a, v)), 1.0):
        return a
    return None


def gelu(g: Graph) -> None:
    cons = g.consumers()
    for n in list(g.nodes):
        if n.op_type == "Erf":
            d = n.inputs[0].producer
            if d is None:
                continue
            x = None
            if d.op_type == "Div" and _close(_scalar(d.inputs[1]), math.sqrt(2)):
                x = d.inputs[0]
            elif d.op_type == "Mul" and _close(_scalar(d.inputs[1]), 1 / math.sqrt(2)):
                x = d.inputs[0]
            first, approximate = d, "none"
        elif n.op_type == "Tanh":
            x, first = _tanh_gelu_input(n)
            approximate = "tanh"
        else:
            continue
        if x is None:
            continue
        # erf(x / sqrt 2) or tanh(...), then x * 0.5 * (1 + that): one Gelu
        a = _one_plus(g, n.outputs[0], cons)
        tail = _gelu_tail(g, a, x, cons) if a is not None else None
        if tail is not None:
            _replace(g, first, tail, "Gelu", x, {"approximate": approximate})
            cons = g.consumers()


def _cube_of(v: Value) -> Value | None:
    p = v.producer
    if p is None:
        return None
    if p.op_type == "Pow" and _close(_scalar(p.inputs[1]), 3.0):
        return p.inputs[0]
    if p.op_type == "Mul":
        a, b = p.inputs
        for sq, lin in ((a, b), (b, a)):
            q = sq.producer
            if q is not None and q.op_type == "Mul" and q.inputs[0] is q.inputs[1] is lin:
                return lin
    return None


def _tanh_gelu_input(tanh: Node):
    """``tanh(c * (x + 0.044715 * x^3))`` -> (x, first node of the pattern)."""
    m = tanh.inputs[0].producer
    if m is None or m.op_type != "Mul":
        return None, None
    for s, c in ((m.inputs[0], m.inputs[1]), (m.inputs[1], m.inputs[0])):
        if not _close(_scalar(c), math.sqrt(2 / math.pi)) or s.producer is None or s.producer.op_type != "Add":
            continue
        add = s.producer
        for x, k in ((add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])):
            kp = k.producer
            if kp is None or kp.op_type != "Mul":
                continue
            for cube, coef in ((kp.inputs[0], kp.inputs[1]), (kp.inputs[1], kp.inputs[0])):
                if _close(_scalar(coef), 0.044715) and _cube_of(cube) is x:
                    return x, m
    return None, None


def fully_connected(g: Graph) -> None:
    """``MatMul``/``Gemm`` with a constant 2-D weight -> ``FullyConnected`` (weights [out, in])."""
    cons = g.consumers()
    for n in list(g.nodes):
        if n.op_type == "MatMul":
            a, b = n.inputs
            if not b.is_constant or b.data.ndim != 2 or a.shape is None or len(a.shape) < 2:
                continue
            w, bias = b.data.T, None
        elif n.op_type == "Gemm":
            a, b = n.inputs[0], n.inputs[1]
            c = n.input(2)
            if not b.is_constant or n.attrs.get("transA", 0) or (c is not None and not c.is_constant):
                continue
            w = b.data if n.attrs.get("transB", 0) else b.data.T
            w = w * np.asarray(n.attrs.get("alpha", 1.0), w.dtype)
            bias = None
            if c is not None:
                cb = np.asarray(c.data) * np.asarray(n.attrs.get("beta", 1.0), c.data.dtype)
                if cb.size not in (1, w.shape[0]) or (cb.ndim == 2 and cb.shape[0] != 1):
                    continue
                bias = np.broadcast_to(cb.ravel(), (w.shape[0],)).copy()
        else:
            continue
        out = n.outputs[0]
        nxt = _sole(g, out, cons)
        last = n
        if bias is None and nxt is not None and nxt.op_type == "Add":
            bv = _other(nxt, out)
            if bv is not None and bv.is_constant and bv.data.size == w.shape[0] and bv.data.shape[-1] == w.shape[0]:
                bias = np.asarray(bv.data).ravel()
                last = nxt
        wv = g.const(np.ascontiguousarray(w.astype(b.data.dtype)), b.name + "_fc")
        wv.quant = fc_weight_quant(b, n.op_type == "MatMul" or not n.attrs.get("transB", 0), n.attrs.get("alpha", 1.0))
        inputs = [a, wv]
        if bias is not None:
            inputs.append(g.const(bias.astype(b.data.dtype), n.name + "_bias"))
        fc = g.add_node("FullyConnected", inputs, [last.outputs[0]], {}, name=n.name, domain=EDGELITE, before=n)
        fc.outputs[0].producer = fc
        g.remove_node(n)
        if last is not n:
            g.remove_node(last)
        cons = g.consumers()


def recognize_patterns(g: Graph) -> None:
    hard_swish(g)
    gelu(g)
