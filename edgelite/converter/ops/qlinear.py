"""QLinearMatMul and QLinearConv (ONNX Runtime's QOperator format), exactly as the ONNX
reference computes them.

The int32 accumulator ``C`` is the exact product of ``integer_ops`` (float32 chunks
below 2^24, added in int32), plus the bias. The reference then requantizes in numpy:
``y = clip(rint(C * (s_a * s_b / s_y) + y_zp))`` with the scale product in the scales'
own dtype (float32 or float16) and ``C * m`` in float64, rounding half to even. TFLite
has neither float64 arithmetic nor that rounding in its fixed-point requantization
(which is why TFLite's own int8 CONV_2D / FULLY_CONNECTED are *not* used: their
``MultiplyByQuantizedMultiplier`` rounds ties away from zero on a 31-bit multiplier and
differs from the reference by one step on some accumulators).

With constant scales and zero points, though, the reference's ``y = f(C)`` is a fixed,
non-decreasing step function of the integer ``C`` (per output channel), so it is
computed *at conversion* where it changes: ``T[q] = min{C : f(C) >= q}``, found by
binary search that runs the reference's own numpy expression. At run time:

1. ``C' = clamp(C, T[qmin + 1] - 1, T[qmax])`` in int32 (``f`` is flat outside);
2. an estimate ``e = clamp(ROUND(float32(C') * m + y_zp), qmin, qmax)``: float32 is
   within 2^-20 of the float64 value on the unsaturated range, so ``|e - f(C')| <= 1``;
3. the exact correction with two ``GATHER``-ed thresholds, in int32:
   ``y = e + [C' >= T[e + 1]] - [C' < T[e]]``.

Scales or zero points given as run-time tensors are refused (the float64 requantization
cannot be reproduced bit for bit from run-time float32 values with TFLite builtins).

Example:
    >>> import numpy as np
    >>> from edgelite.converter.ops.qlinear import thresholds
    >>> f = lambda c: np.clip(np.rint(c * np.float64(0.5)), 0, 3)   # y = round(C / 2)
    >>> thresholds(f, np.zeros(1), 0, 3, -10, 10).tolist()   # C where y reaches 1, 2, 3
    [[2, 3, 6]]

    (``C = 1`` and ``C = 5`` are ties that round to the even 0 and 2.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.integer_ops import (
    QRANGES,
    bound_reason,
    conv_operands,
    conv_reason,
    conv_term_bounds,
    dtype_name,
    lower_conv,
    lower_matmul,
    matmul_operands,
    matmul_reason,
    matmul_term_bounds,
)
from edgelite.converter.ops.registry import OpConverter, register

_I32_MIN, _I32_MAX = int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max)


def thresholds(f, chan: np.ndarray, qmin: int, qmax: int, lo: int, hi: int) -> np.ndarray:
    """``[nch, qmax - qmin]``: per channel and per level ``q`` in ``(qmin, qmax]``, the least
    ``C`` in ``[lo, hi + 1]`` with ``f(C) >= q`` (``hi + 1``: never reached).

    ``f`` maps an int32 array shaped ``[Q, *chan.shape]`` to levels (channel ``c`` at index
    ``c`` of the first channel axis) and must be non-decreasing in ``C``."""
    nch = chan.shape[0] if chan.ndim else 1
    tail = chan.shape[1:] if chan.ndim else ()
    q = np.arange(qmin + 1, qmax + 1, dtype=np.int64).reshape((-1, 1) + (1,) * len(tail))
    a = np.full((q.shape[0], nch) + tuple(tail), lo, np.int64)
    b = np.full_like(a, hi + 1)
    while np.any(a < b):
        active, mid = a < b, (a + b) // 2
        reached = f(mid.astype(np.int32)).astype(np.int64) >= q
        a, b = np.where(active & ~reached, mid + 1, a), np.where(active & reached, mid, b)
    return a.reshape(q.shape[0], nch).T


@dataclass(frozen=True)
class Requant:
    """The reference's requantization of one node, as conversion-time tables."""

    mult: np.ndarray  # [nch] float32: the reference's multiplier s_a * s_b / s_y per channel
    zero_point: int
    qmin: int
    qmax: int
    dtype: np.dtype
    table: np.ndarray  # [nch, qmax - qmin + 2] int32: INT32_MIN, T[qmin + 1 .. qmax], INT32_MAX

    @classmethod
    def build(cls, f, mult, zp, qmin, qmax, dtype, chan_shape, lo, hi) -> "Requant":
        t = thresholds(f, np.zeros(chan_shape), qmin, qmax, lo, hi)
        nch = t.shape[0]
        table = np.concatenate([np.full((nch, 1), _I32_MIN), t, np.full((nch, 1), _I32_MAX)], axis=1)
        m = np.broadcast_to(np.asarray(mult, np.float32).reshape(-1), (nch,))
        return cls(m, int(zp), qmin, qmax, np.dtype(dtype), table.astype(np.int32))

    def lower(self, e: Emitter, c, axis: int, y):
        """``y = f(c)`` for the int32 Value ``c`` whose channels run along ``axis``."""
        nch, width = self.table.shape
        shape = [1] * len(c.shape)
        if nch > 1:
            shape[axis] = nch

        def per_channel(v, dtype):
            return e.const(np.asarray(v, dtype).reshape(shape if nch > 1 else ()), tag="requant")

        c = e.binary("MAXIMUM", c, per_channel(self.table[:, 1].astype(np.int64) - 1, np.int32))
        c = e.binary("MINIMUM", c, per_channel(self.table[:, width - 2], np.int32))
        est = e.mul(e.cast(c, np.float32), per_channel(self.mult, np.float32))
        if self.zero_point:
            est = e.add(est, e.scalar(float(self.zero_point), np.float32))
        est = e.cast(e.clamp(e.unary("ROUND", est), float(self.qmin), float(self.qmax)), np.int32)
        idx = e.add(est, per_channel(np.arange(nch) * width - self.qmin, np.int32))
        flat = e.const(self.table.reshape(-1), tag="thresholds")
        low, high = e.gather(flat, idx, 0), e.gather(flat, e.add(idx, e.scalar(1, np.int32)), 0)
        up = e.cast(e.binary("GREATER_EQUAL", c, high), np.int32)
        down = e.cast(e.binary("LESS", c, low), np.int32)
        q = e.sub(e.add(est, up), down)
        e.cast(e.reshape(q, y.shape), self.dtype, y=y)


def _constants(node, indices, what) -> str | None:
    for i in indices:
        v = node.input(i)
        if v is not None and not v.is_constant:
            return (f"{what} input {i} ({v.name}) is a run-time tensor: the reference requantizes in float64, "
                    "which TFLite builtins reproduce bit for bit only from constant scales and zero points")
    return None


def _scale_reason(node, indices) -> str | None:
    kinds = {dtype_name(node.inputs[i]) for i in indices}
    if not kinds <= {"float32", "float16"} or len(kinds) != 1:
        return f"scales of types {sorted(k or '?' for k in kinds)} (one of float32 / float16 expected)"
    return None


def _mult_reason(mult: np.ndarray) -> str | None:
    m = np.asarray(mult, np.float64)
    if not np.all(np.isfinite(m)) or np.any(m <= 0) or np.any(m > 2.0**90):
        return f"requantization multiplier {m.reshape(-1)[:4].tolist()} is not a positive finite number"
    return None


def _arr(node, i):
    v = node.input(i)
    return None if v is None else np.asarray(v.data)


# -- QLinearMatMul ----------------------------------------------------------------------

_MM_SCALES, _MM_ZPS = (1, 4, 6), (2, 5, 7)


def _matmul_requant(node) -> Requant:
    a_scale, b_scale, y_scale, y_zp = _arr(node, 1), _arr(node, 4), _arr(node, 6), _arr(node, 7)
    dtype = y_zp.dtype if y_zp is not None else np.dtype(node.inputs[0].dtype)
    qmin, qmax = QRANGES[np.dtype(dtype).name]
    mult = a_scale * b_scale / y_scale
    nch = int(mult.size)

    def f(c):  # onnx/reference/ops/op_qlinear_matmul.py, from C on
        d = c * (a_scale * b_scale / y_scale)
        if y_zp is not None:
            d += y_zp
        return np.clip(np.rint(d), qmin, qmax).astype(dtype)

    a, b = matmul_operands(node, 3, 2, 5)
    bound = int(matmul_term_bounds(a, b).sum())
    zp = 0 if y_zp is None else int(y_zp.reshape(-1)[0])
    return Requant.build(f, mult, zp, qmin, qmax, dtype, (nch,), -bound - 1, bound + 1)


@register("QLinearMatMul")
class QLinearMatMul(OpConverter):
    """Exact int32 ``(a - a_zp) @ (b - b_zp)`` requantized like the reference, for constant
    scales and zero points (``b_scale`` / ``b_zp`` per tensor or per column)."""

    def check(self, node):
        reason = _constants(node, _MM_SCALES + _MM_ZPS, "scale / zero point") or _scale_reason(node, _MM_SCALES)
        if reason:
            return reason
        a, b = matmul_operands(node, 3, 2, 5)
        reason = matmul_reason(node, a, b)
        if reason:
            return reason
        mult = _arr(node, 1) * _arr(node, 4) / _arr(node, 6)
        n = node.outputs[0].shape[-1] if node.outputs[0].shape else None
        if mult.size > 1 and (mult.ndim != 1 or mult.size != n):
            return f"scales of shapes giving a multiplier of shape {mult.shape} (per tensor or per column expected)"
        y_zp = node.input(7)
        if y_zp is not None and (dtype_name(y_zp) not in QRANGES or int(np.prod(y_zp.shape)) != 1):
            return f"y_zero_point of type {dtype_name(y_zp)} and shape {y_zp.shape} (one int8 / uint8 value expected)"
        return _mult_reason(mult)

    def lower(self, node, out):
        e = Emitter(out, node.name)
        a, b = matmul_operands(node, 3, 2, 5)
        c = lower_matmul(e, a, b)
        _matmul_requant(node).lower(e, c, len(c.shape) - 1, node.outputs[0])


# -- QLinearConv ------------------------------------------------------------------------

_CONV_SCALES, _CONV_ZPS = (1, 4, 6), (2, 5, 7)


def _bias_bound(node) -> float:
    b = _arr(node, 8)
    return 0.0 if b is None else float(np.abs(b.astype(np.int64)).max(initial=0))


def _conv_requant(node) -> Requant:
    x_scale, w_scale, y_scale, y_zp = _arr(node, 1), _arr(node, 4), _arr(node, 6), _arr(node, 7)
    dtype = y_zp.dtype if y_zp is not None else np.dtype(node.inputs[0].dtype)
    qmin, qmax = (-128, 127) if np.dtype(dtype) == np.int8 else (0, 255)
    per_channel = np.size(w_scale) > 1
    ws = np.expand_dims(w_scale, (0, 2, 3)) if per_channel else w_scale

    def f(c):  # onnx/reference/ops/op_qlinear_conv.py, from ``res`` on ([Q, C_out, 1, 1] here)
        r = c * (x_scale * ws / y_scale)
        if y_zp is not None:
            r += y_zp
        return np.round(np.clip(r, qmin, qmax)).astype(dtype)

    x, w = conv_operands(node, 2, 3, 5)
    bound = int(conv_term_bounds(node, x, w).sum() + _bias_bound(node))
    mult = x_scale * w_scale / y_scale
    zp = 0 if y_zp is None else int(np.asarray(y_zp).reshape(-1)[0])
    chan = (int(np.size(w_scale)), 1, 1) if per_channel else ()
    return Requant.build(f, mult, zp, qmin, qmax, dtype, chan, -bound - 1, bound + 1)


@register("QLinearConv")
class QLinearConv(OpConverter):
    """Exact int32 convolution (``integer_ops.lower_conv``) plus the constant int32 bias,
    requantized like the reference, for constant scales and zero points (``w_scale`` /
    ``w_zp`` per tensor or per output channel)."""

    def check(self, node):
        reason = _constants(node, _CONV_SCALES + _CONV_ZPS, "scale / zero point") or _scale_reason(node, _CONV_SCALES)
        if reason:
            return reason
        if node.input(8) is not None and (not node.inputs[8].is_constant or dtype_name(node.inputs[8]) != "int32"):
            return "bias that is not a constant int32 tensor"
        x, w = conv_operands(node, 2, 3, 5)
        reason = conv_reason(node, x, w)
        if reason:
            return reason
        reason = bound_reason(conv_term_bounds(node, x, w), _bias_bound(node))
        if reason:
            return reason
        w_scale = _arr(node, 4)
        if np.size(w_scale) > 1 and (np.ndim(w_scale) != 1 or np.size(w_scale) != w.value.shape[0]):
            return f"w_scale of shape {np.shape(w_scale)} (per tensor or per output channel expected)"
        y_zp = node.input(7)
        if y_zp is not None and (dtype_name(y_zp) not in QRANGES or int(np.prod(y_zp.shape)) != 1):
            return f"y_zero_point of type {dtype_name(y_zp)} and shape {y_zp.shape} (one int8 / uint8 value expected)"
        for i in (1, 6):
            if np.size(_arr(node, i)) != 1:
                return f"input {i} scale of shape {np.shape(_arr(node, i))} (one value expected)"
        return _mult_reason(_arr(node, 1) * w_scale / _arr(node, 6))

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, w = conv_operands(node, 2, 3, 5)
        c = lower_conv(e, node, x, w)
        b = _arr(node, 8)
        if b is not None:
            c = e.add(c, e.const(b.astype(np.int32).reshape((1, -1) + (1,) * (len(c.shape) - 2)), tag="bias"))
        _conv_requant(node).lower(e, c, 1, node.outputs[0])
