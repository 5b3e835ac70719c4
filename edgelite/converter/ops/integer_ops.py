"""MatMulInteger and ConvInteger: exact int32 products of 8-bit tensors, in float32 builtins.

TFLite has no int32-accumulating product of uint8/int8 tensors with arbitrary zero
points, but float32 holds every integer below 2^24 exactly. So the operands are moved
to float32 *after* their zero points are taken off (``x - x_zp``: integers in
[-255, 255], exact), and the reduction dimension (K, or ``C_in / group * kH * kW`` for a
convolution) is cut into chunks whose worst-case ``sum |a_k| * |b_k|``, known at
conversion from the dtypes, the constant zero points and the constant weights, stays
below 2^24. Every partial sum of a chunk's ``BATCH_MATMUL`` is then an integer below
2^24 whatever the order of summation, so the chunk result is exact; it is ``CAST`` to
int32 and the chunks are ``ADD``-ed in int32 (exact). A node whose whole bound reaches
2^31 (where the ONNX reference's own int32 result would wrap) is refused.

Convolutions are registered in ``integer_conv`` (float32 CONV_2D in NHWC first); what
that does not cover takes ``lower_conv`` here, in the ONNX layout over *patches*
(``spatial_ext.patches``: the shifted input padded with 0, which is ``x_zp`` before the
shift, as the reference pads) as ``BATCH_MATMUL(W[1, g, C_out / g, C_in / g * K], patches[N, g, C_in / g * K, P])``.

``ProductPlan`` / ``exact_product`` are shared with ``qlinear`` (QLinearMatMul,
QLinearConv), which requantize the int32 result.

Example:
    >>> import numpy as np
    >>> from edgelite.converter.ops.integer_ops import chunk_bounds
    >>> chunk_bounds(np.full(1024, 255.0 * 255.0))[:2]   # 258 products of 255 * 255 < 2^24
    [(0, 258), (258, 516)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register

EXACT_F32 = 2**24  # every integer of smaller magnitude is a float32
INT32_LIMIT = 2**31 - 2  # |int32 results| kept below this (the requantization uses INT32_MAX as a sentinel)
QRANGES = {"int8": (-128, 127), "uint8": (0, 255)}


def dtype_name(v) -> str | None:
    return None if v is None or v.dtype is None else np.dtype(v.dtype).name


def chunk_bounds(term_bound: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` chunks of the reduction axis with ``sum(term_bound[chunk]) < 2^24``."""
    chunks, start, total = [], 0, 0.0
    for k, t in enumerate(term_bound.tolist()):
        if k > start and total + t >= EXACT_F32:
            chunks.append((start, k))
            start, total = k, 0.0
        total += t
    chunks.append((start, len(term_bound)))
    return chunks


@dataclass(frozen=True)
class Shifted:
    """One operand with its zero point taken off: how to make it, and |value| bounds."""

    value: object  # the Value (8-bit, run-time or constant)
    zero_point: object  # the zero-point Value or None
    zp_axis: int | None  # the operand axis a 1-D zero point runs along (None: per tensor)

    def constant_zp(self) -> np.ndarray | None:
        zp = self.zero_point
        if zp is None:
            return np.zeros((), np.int64)
        return np.asarray(zp.data, np.int64) if zp.is_constant else None

    def reason(self, what: str) -> str | None:
        if dtype_name(self.value) not in QRANGES:
            return f"{what} of type {dtype_name(self.value)} (int8 or uint8 expected)"
        zp = self.zero_point
        if zp is None:
            return None
        if dtype_name(zp) != dtype_name(self.value):
            return f"{what} zero point of type {dtype_name(zp)} for {dtype_name(self.value)} data"
        n = int(np.prod(zp.shape)) if zp.shape is not None else None
        if n == 1:
            return None
        if self.zp_axis is None or zp.shape is None or len(zp.shape) != 1:
            return f"{what} zero point of shape {zp.shape} (per tensor expected here)"
        if self.value.shape is None or zp.shape[0] != self.value.shape[self.zp_axis]:
            return f"{what} zero point of shape {zp.shape} does not match axis {self.zp_axis} of {self.value.shape}"
        return None

    def shifted_constant(self) -> np.ndarray | None:
        """``value - zero_point`` as int64 numbers when both are constants."""
        zp = self.constant_zp()
        if not self.value.is_constant or zp is None:
            return None
        x = np.asarray(self.value.data, np.int64)
        return x - self._broadcast_zp(zp, x.ndim)

    def bound(self) -> float:
        """The largest ``|value - zero_point|`` possible."""
        const = self.shifted_constant()
        if const is not None:
            return float(np.abs(const).max(initial=0))
        lo, hi = QRANGES[dtype_name(self.value)]
        zp = self.constant_zp()
        if zp is None:
            return float(hi - lo)  # run-time zero point: anywhere in the range
        return float(max(np.abs(zp - lo).max(initial=0), np.abs(hi - zp).max(initial=0)))

    def _broadcast_zp(self, zp: np.ndarray, ndim: int) -> np.ndarray:
        if zp.size == 1:
            return zp.reshape(())
        shape = [1] * ndim
        shape[self.zp_axis % ndim] = zp.size
        return zp.reshape(shape)

    def emit(self, e: Emitter):
        """The float32 Value ``value - zero_point`` (exact: integers in [-255, 255])."""
        const = self.shifted_constant()
        if const is not None:
            return e.const(const.astype(np.float32), tag="shifted")
        x = e.cast(self.value, np.float32)
        zp = self.zero_point
        if zp is None:
            return x
        if zp.is_constant:
            # ADD of -zp (the same integers): edgelite's float SUB with a broadcast constant is far slower than ADD
            neg = -self._broadcast_zp(np.asarray(zp.data, np.int64), len(x.shape))
            return e.add(x, e.const(neg.astype(np.float32), tag="neg_zp"))
        per_axis = self._broadcast_zp(np.zeros(zp.shape), len(x.shape)).shape
        z = e.reshape(e.cast(zp, np.float32), () if int(np.prod(zp.shape)) == 1 else per_axis)
        return e.sub(x, z)


def term_bounds(a: Shifted, b: Shifted, a_axis: int, b_axis: int, k: int) -> np.ndarray:
    """Per reduction index, a bound on ``|a_k * b_k|`` over all rows and columns."""
    def per_k(op: Shifted, axis: int) -> np.ndarray:
        const = op.shifted_constant()
        if const is None:
            return np.full(k, op.bound())
        moved = np.moveaxis(np.abs(const), axis, 0).reshape(k, -1)
        return moved.max(axis=1).astype(np.float64)

    return per_k(a, a_axis) * per_k(b, b_axis)


def bound_reason(tb: np.ndarray, extra: float = 0.0) -> str | None:
    total = float(tb.sum()) + extra
    if total > INT32_LIMIT:
        return f"the int32 result can reach {total:.3g} (|sum| must stay below 2^31 for an exact int32 product)"
    return None


def exact_product(e: Emitter, a, b, tb: np.ndarray):
    """``a @ b`` (float32 Values holding small integers, ``BATCH_MATMUL`` shapes) as an exact
    int32 Value: one ``BATCH_MATMUL`` per chunk of K (``chunk_bounds(tb)``), each ``CAST``
    to int32, summed with int32 ``ADD``."""
    acc = None
    for k0, k1 in chunk_bounds(tb):
        ra, rb = len(a.shape), len(b.shape)
        a_c = e.slice(a, [0] * (ra - 1) + [k0], [-1] * (ra - 1) + [k1 - k0])
        if b.is_constant:
            b_c = e.const(np.asarray(b.data)[..., k0:k1, :], tag="chunk")
        else:
            b_c = e.slice(b, [0] * (rb - 2) + [k0, 0], [-1] * (rb - 2) + [k1 - k0, -1])
        part = e.cast(e.matmul(a_c, b_c), np.int32)
        acc = part if acc is None else e.add(acc, part)
    return acc


# -- MatMul -------------------------------------------------------------------------------


def matmul_operands(node, b_index: int, a_zp_index: int, b_zp_index: int) -> tuple[Shifted, Shifted]:
    """A (input 0) and B with their zero points (``b_zp`` may run along B's columns)."""
    return Shifted(node.inputs[0], node.input(a_zp_index), None), Shifted(node.inputs[b_index], node.input(b_zp_index), -1)


def matmul_reason(node, a: Shifted, b: Shifted) -> str | None:
    if a.value.shape is None or b.value.shape is None:
        return "operands without static shapes"
    reason = a.reason("A") or b.reason("B")
    if reason:
        return reason
    return bound_reason(matmul_term_bounds(a, b))


def matmul_term_bounds(a: Shifted, b: Shifted) -> np.ndarray:
    k = int(a.value.shape[-1])
    return term_bounds(a, b, len(a.value.shape) - 1, max(len(b.value.shape) - 2, 0), k)


def lower_matmul(e: Emitter, a: Shifted, b: Shifted):
    """The exact int32 ``A @ B`` (numpy ``matmul`` shapes: 1-D operands as row / column)."""
    av, bv = a.emit(e), b.emit(e)
    ra, rb = len(av.shape), len(bv.shape)
    if ra == 1:
        av = e.reshape(av, (1, av.shape[0]))
    if rb == 1:
        bv = e.reshape(bv, (bv.shape[0], 1))
    c = exact_product(e, av, bv, matmul_term_bounds(a, b))
    if ra == 1 or rb == 1:
        shape = list(c.shape)
        if rb == 1:
            shape.pop(-1)
        if ra == 1:
            shape.pop(-2 if rb != 1 else -1)
        c = e.reshape(c, shape)
    return c


@register("MatMulInteger")
class MatMulInteger(OpConverter):
    """``(A - a_zp) @ (B - b_zp)`` in int32, exactly (see the module docstring). ``a_zp``
    per tensor (the reference subtracts a 1-D one along K, the spec along M: refused),
    ``b_zp`` per tensor or per column."""

    def check(self, node):
        a, b = matmul_operands(node, 1, 2, 3)
        return matmul_reason(node, a, b)

    def lower(self, node, out):
        e = Emitter(out, node.name)
        a, b = matmul_operands(node, 1, 2, 3)
        c = lower_matmul(e, a, b)
        e.reshape(c, node.outputs[0].shape, y=node.outputs[0])


# -- Conv ---------------------------------------------------------------------------------


def conv_reason(node, x: Shifted, w: Shifted) -> str | None:
    if x.value.shape is None or w.value.shape is None or node.outputs[0].shape is None:
        return "tensors without static shapes"
    if len(w.value.shape) < 3:
        return f"weights of rank {len(w.value.shape)}"
    group = int(node.attrs.get("group", 1))
    if x.value.shape[1] % group or w.value.shape[0] % group:
        return f"group={group} does not divide the channels"
    reason = x.reason("x") or w.reason("w")
    return reason or bound_reason(conv_term_bounds(node, x, w))


def conv_term_bounds(node, x: Shifted, w: Shifted) -> np.ndarray:
    """Bounds per index of the ``C_in / group * K`` reduction (ONNX weight order)."""
    ws = w.value.shape
    k = int(np.prod(ws[1:]))
    wconst = w.shifted_constant()
    if wconst is None:
        wb = np.full(k, w.bound())
    else:
        wb = np.abs(wconst).reshape(ws[0], k).max(axis=0).astype(np.float64)
    return wb * x.bound()


def lower_conv(e: Emitter, node, x: Shifted, w: Shifted):
    """The exact int32 convolution ``[N, C_out, *S_out]`` (ONNX layout) over patches."""
    from edgelite.converter.ops.spatial_ext import _geometry, patches

    xv, y = x.value, node.outputs[0]
    kernel = [int(k) for k in node.attrs.get("kernel_shape", w.value.shape[2:])]
    strides, dil, _, full, outs = _geometry(node, xv.shape, y.shape, kernel)
    n, cin = int(xv.shape[0]), int(xv.shape[1])
    cout, g = int(w.value.shape[0]), int(node.attrs.get("group", 1))
    win, table = patches(e, x.emit(e), kernel, strides, dil, full, outs, 0)
    k, p = table.shape
    cg = cin // g
    lhs = e.reshape(w.emit(e), (1, g, cout // g, cg * k))
    rhs = e.reshape(win, (n, g, cg * k, p))
    c = exact_product(e, lhs, rhs, conv_term_bounds(node, x, w))
    return e.reshape(c, (n, cout) + tuple(outs))


def conv_operands(node, x_zp_index: int, w_index: int, w_zp_index: int) -> tuple[Shifted, Shifted]:
    return Shifted(node.inputs[0], node.input(x_zp_index), None), Shifted(node.inputs[w_index], node.input(w_zp_index), 0)
