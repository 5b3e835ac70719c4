"""NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, decomposed into TFLite builtins.

For scores ``x [N, C, d...]`` and integer targets ``t [N, d...]``:

* ``onehot = ONE_HOT(t, C, axis=1)`` (all zeros where ``t`` is outside ``[0, C)``);
* ``picked = SUM(onehot * x, axis 1)`` is ``x[n, t[n, d...], d...]``;
* per-position weight ``w = SUM(onehot * weight[C, 1...], axis 1)`` (1 without weights),
  times ``t != ignore_index`` when ``ignore_index`` is set;
* ``loss = -picked * w``; reduction ``none`` keeps it, ``sum`` adds it up, ``mean``
  divides the sum by ``SUM(w)`` (ONNX's weighted mean).

SoftmaxCrossEntropyLoss runs the same on ``log_softmax(x, axis=1)`` (written with
``REDUCE_MAX``/``EXP``/``SUM``/``LOG`` so no transpose is needed) and can also return it.

Example:
    >>> from edgelite.converter.ops import registry, load_all
    >>> load_all()
    >>> registry.key("NegativeLogLikelihoodLoss") in registry.CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter, _options
from edgelite.converter.ops.registry import OpConverter, register

_F32 = np.dtype(np.float32)


def log_softmax_axis1(e: Emitter, x, y=None):
    """``x - max - log(sum(exp(x - max)))`` over axis 1 (``LOG_SOFTMAX`` when that is the last axis)."""
    if len(x.shape) == 2:
        return e.softmax(x, log=True, y=y)
    shifted = e.sub(x, e.reduce("REDUCE_MAX", x, [1], keep=True))
    lse = e.unary("LOG", e.reduce("SUM", e.unary("EXP", shifted), [1], keep=True))
    return e.sub(shifted, lse, y=y)


def nll(e: Emitter, node, logp, target, weight, loss_out) -> None:
    """The weighted negative log-likelihood of ``logp`` at ``target`` into ``loss_out``."""
    c = int(logp.shape[1])
    dt = logp.dtype
    onehot = e._tmp("onehot", tuple(target.shape[:1]) + (c,) + tuple(target.shape[1:]), dt, None)
    depth = e.const(np.array(c, np.int32), tag="depth")
    on, off = e.scalar(1.0, dt), e.scalar(0.0, dt)
    e.out.emit("ONE_HOT", [target, depth, on, off], [onehot], _options("OneHotOptions", axis=1))
    picked = e.reduce("SUM", e.mul(onehot, logp), [1], keep=False)
    w = None
    if weight is not None:
        wb = e.reshape(weight, (c,) + (1,) * (len(logp.shape) - 2))
        w = e.reduce("SUM", e.mul(onehot, wb), [1], keep=False)
    if "ignore_index" in node.attrs:
        ii = e.const(np.array(node.attrs["ignore_index"], target.dtype), tag="ignore_index")
        valid = e.cast(e.binary("NOT_EQUAL", target, ii), dt)
        w = valid if w is None else e.mul(w, valid)
    reduction = node.attrs.get("reduction", "mean")
    if reduction == "none":
        if w is None:
            e.unary("NEG", picked, y=loss_out)
        else:
            e.mul(e.unary("NEG", picked), w, y=loss_out)
        return
    neg = e.unary("NEG", picked if w is None else e.mul(picked, w))
    if reduction == "sum":
        staged_sum(e, neg, y=loss_out)
    elif w is None:
        count = e.scalar(float(np.prod(neg.shape, dtype=np.int64)), dt)
        e.div(staged_sum(e, neg), count, y=loss_out)
    else:
        e.div(staged_sum(e, neg), staged_sum(e, w), y=loss_out)


def staged_sum(e: Emitter, v, y=None):
    """The sum of every element of ``v`` as a scalar, in stages of at most 64 terms.

    A float32 ``SUM`` accumulates one term after another, so its rounding error grows
    with the count; summing short rows first keeps it close to an exact sum, and so
    close between runtimes (LiteRT sums in float32, edgelite's reference in float64).
    """
    n = int(np.prod(v.shape, dtype=np.int64))
    v = e.reshape(v, (n,))
    while n > 64:
        k = max(d for d in range(1, 65) if n % d == 0)
        if k == 1:  # a large prime count: one long row
            break
        n //= k
        v = e.reduce("SUM", e.reshape(v, (n, k)), [1], keep=False)
    return e.reduce("SUM", v, [0], keep=False, y=y)


class _Loss(OpConverter):
    def check(self, node):
        x, t = node.inputs[0], node.inputs[1]
        if x.dtype is not None and x.dtype != _F32:
            return f"{x.dtype} scores (float32 only)"
        if t.dtype is not None and t.dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
            return f"{t.dtype} targets"
        if x.shape is not None and len(x.shape) < 2:
            return "scores of rank < 2"
        if node.attrs.get("reduction", "mean") not in ("none", "sum", "mean"):
            return f"reduction={node.attrs.get('reduction')!r}"
        return None


    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, t = node.inputs[0], node.inputs[1]
        loss = node.outputs[0]
        log_prob = node.outputs[1] if len(node.outputs) > 1 and node.op_type == "SoftmaxCrossEntropyLoss" else None
        flat = len(x.shape) > 3  # [N, C, d1, d2, ...] -> [N, C, D]: TFLite broadcasts up to 6-D
        if flat:
            d = int(np.prod(x.shape[2:], dtype=np.int64))
            x, t = e.reshape(x, (x.shape[0], x.shape[1], d)), e.reshape(t, (t.shape[0], d))
        if node.op_type == "SoftmaxCrossEntropyLoss":
            x = log_softmax_axis1(e, x, y=None if flat else log_prob)
            if flat and log_prob is not None:
                e.reshape(x, None, y=log_prob)
        per_position = flat and node.attrs.get("reduction", "mean") == "none"
        tmp = e._tmp("loss", t.shape, x.dtype, None) if per_position else loss
        nll(e, node, x, t, node.input(2), tmp)
        if per_position:
            e.reshape(tmp, None, y=loss)


@register("NegativeLogLikelihoodLoss")
class NegativeLogLikelihoodLoss(_Loss):
    """``-x[n, t, d...]`` weighted and reduced (module docstring)."""


@register("SoftmaxCrossEntropyLoss")
class SoftmaxCrossEntropyLoss(_Loss):
    """The negative log-likelihood of ``log_softmax(x, axis=1)``; output 1 is that log-softmax."""
