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

Scales or zero points given as run-time tensors (the backend suite's cases) take
``RuntimeRequant`` instead, exact while ``|C| <= 2^19``: then ``C * m`` needs at most 43
bits, and one checks that the reference's two float64 roundings never move a value
across or onto a rounding boundary, so it computes exactly ``rint(C * m + y_zp)``. ``m`` is
rebuilt as numpy computes it (float32 ``MUL`` / ``DIV``, each rounded to float16 by a
``CAST`` when the scales are float16, as numpy's half loops round their float32 result);
``C * m`` is an exact sum of four float32 products (Veltkamp's split of ``m``, a 7-bit
split of ``C``), and the two rounding decisions around a float32 estimate are taken
from the sign of an exact expansion (Shewchuk's Grow-Expansion of error-free TwoSums).
Longer reductions with run-time scales are refused.

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
from edgelite.converter.ops.integer_conv import channels_last_reason, lower_channels_last
from edgelite.converter.ops.layout_rules import ChannelsLast
from edgelite.converter.ops.registry import OpConverter, register
from edgelite.errors import ConversionError

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
        """The tables of ``f`` for accumulators in ``[lo, hi]`` (``-2^31 < lo``, ``hi < 2^31 - 1``: the
        thresholds then fit int32 and ``C >= INT32_MAX`` is never true)."""
        if not (_I32_MIN < lo and hi < _I32_MAX):
            raise ConversionError(f"[lowering] accumulator range [{lo}, {hi}] leaves no room in int32 for the thresholds")
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


RUNTIME_EXACT_LIMIT = 2**19  # |C| bound under which the run-time requantization is exact


def _two_sum(e: Emitter, a, b):
    """Knuth's error-free sum: ``s + err == a + b`` exactly (round to nearest)."""
    s = e.add(a, b)
    bb = e.sub(s, a)
    return s, e.add(e.sub(a, e.sub(s, bb)), e.sub(b, bb))


def _grow(e: Emitter, comps: list, b) -> list:
    """Shewchuk's Grow-Expansion: the nonoverlapping expansion (increasing magnitude, zeros
    allowed) of ``sum(comps) + b``, for a nonoverlapping increasing ``comps``."""
    q, out = b, []
    for x in comps:
        q, h = _two_sum(e, q, x)
        out.append(h)
    return out + [q]


def _sign_holder(e: Emitter, comps: list):
    """The largest nonzero component: it has the expansion's sign (0 when all are 0)."""
    s, zero = comps[0], e.scalar(0.0, np.float32)
    for x in comps[1:]:
        s = e.select(e.binary("NOT_EQUAL", x, zero), x, s)
    return s


@dataclass(frozen=True)
class RuntimeRequant:
    """``y = clip(rint_half_even(C * m + z))`` for run-time ``m`` and ``z``, exactly, while
    ``|C| <= 2^19`` (module docstring).

    Why the reference's float64 is exact rounding there: ``C * m = C * M * 2^e`` (``M`` the
    24-bit significand) has at most 43 bits, so ``fl64(C * m)`` is exact. If ``m >= 2^-21``
    then ``e >= -44`` and, on the range that does not saturate (``|C m + z| < 2^9``), every
    bit of ``C m + z`` lies in ``[2^-44, 2^8]``: 53 bits, so the ``+ z`` is exact too (a
    saturated value stays beyond the integer clip bound, which rounding cannot cross). If
    ``m < 2^-21`` then ``|C m| < 1/4`` and both give ``z``."""

    qmin: int
    qmax: int
    dtype: np.dtype
    half: bool  # float16 scales: every scale operation is rounded to float16

    def multiplier(self, e: Emitter, s1, s2, s3, shape2=None):
        """``s1 * s2 / s3`` in the scales' type, as float32 (``s2`` reshaped to ``shape2``)."""
        def f32(v, shape=None):
            v = e.cast(v, np.float32)
            return e.reshape(v, shape if shape is not None else ()) if int(np.prod(v.shape)) == 1 or shape else v

        def rounded(v):
            return e.cast(e.cast(v, np.float16), np.float32) if self.half else v

        p = rounded(e.mul(f32(s1), f32(s2, shape2)))
        return rounded(e.div(p, f32(s3)))

    def lower(self, e: Emitter, c, m, zp, y):
        f32 = np.float32
        k = lambda v: e.scalar(v, f32)  # noqa: E731
        z = e.reshape(e.cast(zp, f32), ()) if zp is not None else k(0.0)
        # |m| > 2^10 saturates every C != 0, |m| < 2^-40 leaves every C at y_zp: clamp, so
        # every product below is a normal float32
        m = e.select(e.binary("LESS", e.unary("ABS", m), k(2.0**-40)), k(0.0), e.clamp(m, -(2.0**10), 2.0**10))
        big = e.mul(m, k(4097.0))  # Veltkamp: m = mh + ml, 12 and 11 significant bits
        mh = e.sub(big, e.sub(big, m))
        ml = e.sub(m, mh)
        ch_i = e.mul(e.binary("FLOOR_DIV", c, e.scalar(128, np.int32)), e.scalar(128, np.int32))
        ch, cl = e.cast(ch_i, f32), e.cast(e.sub(c, ch_i), f32)  # 12 and 7 significant bits
        t = [e.mul(ch, mh)]
        for part in (e.mul(ch, ml), e.mul(cl, mh), e.mul(cl, ml)):
            t = _grow(e, t, part)  # C * m exactly, as 4 nonoverlapping components
        est = e.unary("ROUND", e.add(e.mul(e.cast(c, f32), m), z))
        est = e.clamp(est, float(self.qmin - 1), float(self.qmax + 1))
        est_i = e.cast(est, np.int32)
        odd = e.binary("EQUAL", e.binary("FLOOR_MOD", est_i, e.scalar(2, np.int32)), e.scalar(1, np.int32))
        base = e.sub(z, est)  # -(est - z): C*m - (est - z +- 1/2) is the expansion plus this -+ 1/2
        above = _sign_holder(e, _grow(e, t, e.sub(base, k(0.5))))
        below = _sign_holder(e, _grow(e, t, e.add(base, k(0.5))))
        zero = k(0.0)
        up = e.binary("LOGICAL_OR", e.binary("GREATER", above, zero),
                      e.binary("LOGICAL_AND", e.binary("EQUAL", above, zero), odd))
        down = e.binary("LOGICAL_OR", e.binary("LESS", below, zero),
                        e.binary("LOGICAL_AND", e.binary("EQUAL", below, zero), odd))
        q = e.sub(e.add(est_i, e.cast(up, np.int32)), e.cast(down, np.int32))
        q = e.clamp(q, self.qmin, self.qmax)
        e.cast(e.reshape(q, y.shape), self.dtype, y=y)


def _all_constant(node, indices) -> bool:
    return all(node.input(i) is None or node.inputs[i].is_constant for i in indices)


def _runtime_reason(node, bound: float) -> str | None:
    if bound > RUNTIME_EXACT_LIMIT:
        return (f"run-time scales / zero points with an accumulator that can reach {bound:.3g}: the reference "
                f"requantizes in float64, reproduced exactly here only while |accumulator| <= 2^19 "
                "(make the scales and zero points constants)")
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


def _y_zp_reason(node, i: int) -> str | None:
    y_zp = node.input(i)
    if y_zp is not None and (dtype_name(y_zp) not in QRANGES or y_zp.shape is None or int(np.prod(y_zp.shape)) != 1):
        return f"y_zero_point of type {dtype_name(y_zp)} and shape {y_zp.shape} (one int8 / uint8 value expected)"
    return None


def _size(node, i: int) -> int | None:
    v = node.input(i)
    return None if v is None or v.shape is None else int(np.prod(v.shape))


def _out_dtype(node, zp_index: int) -> np.dtype:
    y_zp = node.input(zp_index)
    return np.dtype(y_zp.dtype if y_zp is not None else node.inputs[0].dtype)


# -- QLinearMatMul ----------------------------------------------------------------------

_MM_SCALES, _MM_ZPS = (1, 4, 6), (2, 5, 7)


def _matmul_requant(node) -> Requant:
    a_scale, b_scale, y_scale, y_zp = _arr(node, 1), _arr(node, 4), _arr(node, 6), _arr(node, 7)
    dtype = _out_dtype(node, 7)
    qmin, qmax = QRANGES[dtype.name]
    mult = a_scale * b_scale / y_scale

    def f(c):  # onnx/reference/ops/op_qlinear_matmul.py, from C on
        d = c * (a_scale * b_scale / y_scale)
        if y_zp is not None:
            d += y_zp
        return np.clip(np.rint(d), qmin, qmax).astype(dtype)

    bound = int(matmul_term_bounds(*matmul_operands(node, 3, 2, 5)).sum())
    zp = 0 if y_zp is None else int(y_zp.reshape(-1)[0])
    return Requant.build(f, mult, zp, qmin, qmax, dtype, (int(mult.size),), -bound, bound)


@register("QLinearMatMul")
class QLinearMatMul(OpConverter):
    """Exact int32 ``(a - a_zp) @ (b - b_zp)`` requantized like the reference: through
    conversion-time thresholds when scales and zero points are constants, else with
    ``RuntimeRequant`` (short reductions only). ``b_scale`` / ``b_zp`` per tensor or per
    column, the others per tensor."""

    def check(self, node):
        a, b = matmul_operands(node, 3, 2, 5)
        reason = _scale_reason(node, _MM_SCALES) or matmul_reason(node, a, b) or _y_zp_reason(node, 7)
        if reason:
            return reason
        n = node.outputs[0].shape[-1] if node.outputs[0].shape else None
        if _size(node, 1) != 1 or _size(node, 6) != 1 or _size(node, 4) not in (1, n):
            return (f"scales of shapes {[node.inputs[i].shape for i in _MM_SCALES]} "
                    "(per tensor, b_scale per tensor or per column expected)")
        if _all_constant(node, _MM_SCALES + _MM_ZPS):
            return _mult_reason(_arr(node, 1) * _arr(node, 4) / _arr(node, 6))
        return _runtime_reason(node, float(matmul_term_bounds(a, b).sum()))

    def lower(self, node, out):
        e = Emitter(out, node.name)
        a, b = matmul_operands(node, 3, 2, 5)
        c = lower_matmul(e, a, b)
        y = node.outputs[0]
        if _all_constant(node, _MM_SCALES + _MM_ZPS):
            _matmul_requant(node).lower(e, c, len(c.shape) - 1, y)
            return
        dtype = _out_dtype(node, 7)
        rq = RuntimeRequant(*QRANGES[dtype.name], dtype, dtype_name(node.inputs[1]) == "float16")
        m = rq.multiplier(e, node.inputs[1], node.inputs[4], node.inputs[6])
        rq.lower(e, c, m, node.input(7), y)


# -- QLinearConv ------------------------------------------------------------------------

_CONV_SCALES, _CONV_ZPS = (1, 4, 6), (2, 5, 7)


def _bias_bound(node) -> float:
    b = _arr(node, 8)
    return 0.0 if b is None else float(np.abs(b.astype(np.int64)).max(initial=0))


def _conv_range(dtype: np.dtype) -> tuple[int, int]:
    return (-128, 127) if dtype == np.int8 else (0, 255)  # as the reference clips


def _conv_requant(node) -> Requant:
    x_scale, w_scale, y_scale, y_zp = _arr(node, 1), _arr(node, 4), _arr(node, 6), _arr(node, 7)
    dtype = _out_dtype(node, 7)
    qmin, qmax = _conv_range(dtype)
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
    return Requant.build(f, mult, zp, qmin, qmax, dtype, chan, -bound, bound)


def _conv_reason(node) -> str | None:
    reason = _scale_reason(node, _CONV_SCALES) or _y_zp_reason(node, 7)
    if reason:
        return reason
    if node.input(8) is not None and (not node.inputs[8].is_constant or dtype_name(node.inputs[8]) != "int32"):
        return "bias that is not a constant int32 tensor"
    x, w = conv_operands(node, 2, 3, 5)
    reason = conv_reason(node, x, w)
    if reason:
        return reason
    bound = conv_term_bounds(node, x, w)
    reason = bound_reason(bound, _bias_bound(node))
    if reason:
        return reason
    cout, ws = w.value.shape[0], node.inputs[4].shape
    if _size(node, 1) != 1 or _size(node, 6) != 1 or _size(node, 4) not in (1, cout):
        shapes = [node.inputs[i].shape for i in _CONV_SCALES]
        return f"scales of shapes {shapes} (w_scale per tensor or per output channel)"
    if _size(node, 4) > 1 and (len(ws) != 1 or len(w.value.shape) != 4):
        return (f"per-channel w_scale of shape {ws} on weights of rank {len(w.value.shape)} "
                "(1-D w_scale, 2-D convolution)")
    if _all_constant(node, _CONV_SCALES + _CONV_ZPS):
        return _mult_reason(_arr(node, 1) * _arr(node, 4) / _arr(node, 6))
    return _runtime_reason(node, float(bound.sum()) + _bias_bound(node))


def _conv_output(e: Emitter, node, c, axis: int) -> None:
    """The bias added to the int32 accumulator ``c`` (output channels along ``axis``), then
    the reference's requantization into the node's output."""
    b = _arr(node, 8)
    tail = (1,) * (len(c.shape) - 1 - axis)
    if b is not None:
        c = e.add(c, e.const(b.astype(np.int32).reshape((-1,) + tail), tag="bias"))
    y = node.outputs[0]
    if _all_constant(node, _CONV_SCALES + _CONV_ZPS):
        _conv_requant(node).lower(e, c, axis, y)
        return
    dtype = _out_dtype(node, 7)
    rq = RuntimeRequant(*_conv_range(dtype), dtype, dtype_name(node.inputs[1]) == "float16")
    shape2 = (_size(node, 4),) + tail if _size(node, 4) > 1 else None
    m = rq.multiplier(e, node.inputs[1], node.inputs[4], node.inputs[6], shape2)
    rq.lower(e, c, m, node.input(7), y)


@register("QLinearConv")
class QLinearConvChannelsLast(ChannelsLast, OpConverter):
    """QLinearConv whose product ``integer_conv.lower_channels_last`` takes (float32
    CONV_2D / DEPTHWISE_CONV_2D chunks in NHWC, exact): first strategy. Bias and
    requantization as ``QLinearConv``'s, along the last (channel) axis."""

    def applies(self, node):
        return _conv_reason(node) is None and channels_last_reason(node, *conv_operands(node, 2, 3, 5)) is None

    def check(self, node):
        return _conv_reason(node)

    def lower(self, node, out):
        e = Emitter(out, node.name)
        c = lower_channels_last(e, node, *conv_operands(node, 2, 3, 5))
        _conv_output(e, node, c, len(c.shape) - 1)


@register("QLinearConv", after=QLinearConvChannelsLast)
class QLinearConv(OpConverter):
    """Exact int32 convolution over patches (``integer_ops.lower_conv``) plus the constant
    int32 bias, requantized like the reference: through conversion-time thresholds when
    scales and zero points are constants, else with ``RuntimeRequant`` (short reductions
    only). ``w_scale`` / ``w_zp`` per tensor or per output channel (2-D convolutions)."""

    def check(self, node):
        return _conv_reason(node)

    def lower(self, node, out):
        e = Emitter(out, node.name)
        _conv_output(e, node, lower_conv(e, node, *conv_operands(node, 2, 3, 5)), 1)
