"""Einsum with one or two operands, as TFLite builtins.

* A letter repeated inside one operand (a diagonal, ``ii->i``) multiplies by an identity
  mask over those two axes and sums one of them away;
* letters only one operand has and the output lacks are summed first (``SUM``);
* two operands contract with one ``BATCH_MATMUL``: operand A is transposed to
  ``[batch, kept_A, contracted]`` and reshaped to ``[B, M, K]``, operand B to
  ``[B, K, N]``, and the product is reshaped and transposed to the output's order.

``...`` stands for the leading dimensions, named by letters the equation does not use.

Example:
    >>> from edgelite.converter.ops.einsum import parse
    >>> parse("bij,bjk->bik", [3, 3])
    (['bij', 'bjk'], 'bik')
    >>> parse("ij", [2])
    (['ij'], 'ij')
"""

from __future__ import annotations

import string

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register


def parse(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    """Operand subscripts and output subscripts with ``...`` expanded (implicit output made explicit)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ValueError(f"{len(terms)} subscripts for {len(ranks)} operands")
    free = [c for c in string.ascii_letters if c not in eq]
    ell_rank = max((r - (len(t) - 3) for t, r in zip(terms, ranks) if "..." in t), default=0)
    ell = "".join(free[:ell_rank])
    out_terms = []
    for t, r in zip(terms, ranks):
        if "..." in t:
            n = r - (len(t) - 3)
            t = t.replace("...", ell[ell_rank - n :])
        if len(t) != r:
            raise ValueError(f"subscripts {t!r} for an operand of rank {r}")
        out_terms.append(t)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        letters = "".join(out_terms)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    return out_terms, out


def _diagonal(e: Emitter, x, sub: str):
    """Remove repeated letters of one operand by taking diagonals."""
    while len(set(sub)) != len(sub):
        c = next(ch for ch in sub if sub.count(ch) > 1)
        i = sub.index(c)
        j = sub.index(c, i + 1)
        n = int(x.shape[i])
        mask_shape = [1] * len(sub)
        mask_shape[i] = mask_shape[j] = n
        eye = np.eye(n, dtype=x.dtype).reshape(mask_shape)
        x = e.reduce("SUM", e.mul(x, e.const(eye, tag="eye")), [j], keep=False)
        sub = sub[:j] + sub[j + 1 :]
    return x, sub


def _sum_out(e: Emitter, x, sub: str, keep: set[str]):
    axes = [i for i, c in enumerate(sub) if c not in keep]
    if not axes:
        return x, sub
    return e.reduce("SUM", x, axes, keep=False), "".join(c for c in sub if c in keep)


def _to_order(e: Emitter, x, sub: str, order: str):
    return e.transpose(x, [sub.index(c) for c in order])


@register("Einsum")
class Einsum(OpConverter):
    def check(self, node):
        if len(node.inputs) not in (1, 2):
            return f"{len(node.inputs)} operands (1 or 2 supported)"
        for v in node.inputs:
            if v.dtype is not None and v.dtype != np.dtype(np.float32):
                return f"{v.dtype} operands (float32 only)"
            if v.shape is None:
                return "operands without static shapes"
        try:
            terms, out = parse(node.attrs["equation"], [len(v.shape) for v in node.inputs])
        except (KeyError, ValueError) as err:
            return f"equation {node.attrs.get('equation')!r}: {err}"
        sizes: dict[str, int] = {}
        for t, v in zip(terms, node.inputs):
            for c, d in zip(t, v.shape):
                if sizes.setdefault(c, int(d)) != int(d):
                    return f"letter {c!r} has sizes {sizes[c]} and {d} (broadcasting is not supported)"
        if len(set(out)) != len(out) or any(c not in sizes for c in out):
            return f"output subscripts {out!r}"
        return None

    def lower(self, node, out):
        e = Emitter(out, node.name)
        y = node.outputs[0]
        terms, target = parse(node.attrs["equation"], [len(v.shape) for v in node.inputs])
        xs = []
        for v, t in zip(node.inputs, terms):
            x, t = _diagonal(e, v, t)
            xs.append((x, t))
        if len(xs) == 1:
            x, t = _sum_out(e, *xs[0], keep=set(target))
            res = _to_order(e, x, t, target)
            e.reshape(res, None, y=y)
            return
        (a, ta), (b, tb) = xs
        a, ta = _sum_out(e, a, ta, set(target) | set(tb))
        b, tb = _sum_out(e, b, tb, set(target) | set(ta))
        batch = [c for c in ta if c in tb and c in target]
        contract = [c for c in ta if c in tb and c not in target]
        a_kept = [c for c in ta if c not in tb]
        b_kept = [c for c in tb if c not in ta]
        size = dict(zip(ta, a.shape)) | dict(zip(tb, b.shape))

        def prod(cs):
            return int(np.prod([size[c] for c in cs], dtype=np.int64))

        a = _to_order(e, a, ta, "".join(batch + a_kept + contract))
        b = _to_order(e, b, tb, "".join(batch + contract + b_kept))
        a = e.reshape(a, (prod(batch), prod(a_kept), prod(contract)))
        b = e.reshape(b, (prod(batch), prod(contract), prod(b_kept)))
        p = e.matmul(a, b)
        order = batch + a_kept + b_kept
        p = e.reshape(p, tuple(size[c] for c in order))
        e.reshape(_to_order(e, p, "".join(order), target), None, y=y)
