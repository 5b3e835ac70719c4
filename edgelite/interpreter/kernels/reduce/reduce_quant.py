"""Quantized reductions: MEAN, SUM, REDUCE_MAX, REDUCE_MIN, ARG_MAX, ARG_MIN.

LiteRT's ``reduce.cc`` (MEAN and SUM use the optimized registrations) computes a
quantized MEAN / SUM (int8, uint8, int16) in one of two ways:

1. MEAN with ``keep_dims``, a 4-D 8-bit input and the axis values exactly {1, 2}
   (global average pooling, ``optimized_integer_ops::Mean``):
   ``MBQM(sum(x), s_in / (n s_out)) + zp_out - round(zp_in s_in / s_out)``, the real
   multiplier and the bias computed in float32. The kernel walks the channels of
   each thread's slice in blocks of 16 with SIMD code (NEON, emulated with SSE on x86)
   whose MBQM rounds the second step half up (``fixedpoint.gemm_mode()``); the
   channels left over after the last full block go through the scalar MBQM (half
   away from zero). Measured on negative exact ties (a MobileNet's global pool).
   Threads split the channels as ``optimized_integer_ops::Mean`` does: at most
   ``depth // 8`` of them, slices as even as possible.
2. any other MEAN (``reference_ops::QuantizedMeanOrSum``, integer only):
   ``MBQM(sum(x) - n zp_in, M) + zp_out`` clamped, ``M`` being ``s_in / s_out``
   with ``1 / n`` folded in: ``q' = (q << k) / n``, ``shift' = shift - k``,
   ``k = min(floor(log2 n), 32, 31 + shift)``.
3. SUM (``optimized_ops::QuantizedMeanOrSum``, float32):
   ``round(sum(x) * s - zp_in * s * n) + zp_out`` clamped, ``s = s_in / s_out``.

REDUCE_MAX/MIN and ARG_MAX/MIN work on the stored integers.

Axes come from a constant input (``prepare`` needs them to size the output).

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> [type(k).__name__ for k in kernels_for("MEAN") if "Quant" in type(k).__name__]
    ['QuantizedMeanSum']
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.errors import UnsupportedOperatorError
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.kernels.base import INT8, Kernel, OpContext, register
from edgelite.interpreter.kernels.elementwise.elementwise_quant import (
    dtype_range,
    is_quantized,
    quant_params,
    unary_quant_params,
)
from edgelite.interpreter.compute.jit import njit

f32 = np.float32
PATH_GAP, PATH_INT, PATH_FLOAT_SUM = 0, 1, 2


def _resolve_axes(ctx: OpContext) -> tuple[int, ...]:
    """The distinct, non-negative axes of the constant axis input."""
    ax = ctx.input(1)
    if ax.data is None:
        raise UnsupportedOperatorError(
            f"{ctx.op_name} (operator {ctx.op_index}): the axis input must be constant",
            [(ctx.op_name, str(ctx.op_index))],
        )
    rank = len(ctx.input(0).shape)
    out: list[int] = []
    for a in np.asarray(ax.data).reshape(-1).tolist():
        a = int(a)
        if not -rank <= a < max(rank, 1):
            raise ctx.fail(f"axis {a} out of range for rank {rank}")
        a = a + rank if a < 0 else a
        if a not in out:
            out.append(a)
    return tuple(out)


def _out_shape(shape: tuple, axes: tuple, keep_dims: bool) -> tuple:
    if keep_dims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _keep_dims(ctx: OpContext) -> bool:
    return bool(getattr(ctx.options, "keepDims", False)) if ctx.options is not None else False


def _simd_block_mask(depth: int, num_threads: int) -> np.ndarray:
    """Which channels LiteRT's global-pool MEAN computes in 16-wide SIMD blocks.

    The channels are split over ``min(max(depth // 8, 1), num_threads)`` slices, the
    i-th ending at ``start + (depth - start) // (slices - i)``; each slice runs full
    blocks of 16 from its start, then a scalar tail.
    """
    mask = np.zeros(depth, dtype=bool)
    slices = min(max(depth // 8, 1), max(int(num_threads), 1))
    start = 0
    for i in range(slices):
        end = start + (depth - start) // (slices - i)
        d = start
        while d <= end - 16:
            mask[d:d + 16] = True
            d += 16
        start = end
    return mask


@dataclass(frozen=True)
class ReduceParams:
    path: int
    axes: tuple[int, ...]
    out_shape: tuple[int, ...]
    count: int
    in_zp: int
    out_zp: int
    mult: int
    shift: int
    bias: int
    fscale: float
    fbias: float
    qmin: int
    qmax: int
    mode: int  # fixedpoint.ROUND_* form of the MBQM
    block_mode: int = 0  # PATH_GAP: the form of the channels in 16-wide SIMD blocks
    block_mask: np.ndarray | None = None  # PATH_GAP: bool per channel, True inside a block
    # JIT: the input seen as (outer, reduced, inner) when the axes are consecutive
    rows3: tuple[int, int, int] | None = None
    acc: np.ndarray | None = None  # (inner,) int32 scratch of the JIT kernel


@register("MEAN", "SUM", priority=INT8)
class QuantizedMeanSum(Kernel):
    """int8/uint8/int16 MEAN (global-average-pooling path or the integer path) and SUM
    (rescaled to the output quantization and clamped)."""

    def accepts(self, ctx: OpContext) -> bool:
        if len(ctx.inputs) < 2 or not ctx.outputs:
            return False
        a, o = ctx.inputs[0], ctx.outputs[0]
        return is_quantized(a) and is_quantized(o) and a.dtype == o.dtype and not a.quant.per_channel

    def prepare(self, ctx: OpContext) -> ReduceParams:
        compute_sum = ctx.op_name == "SUM"
        a = ctx.input(0)
        axes = _resolve_axes(ctx)
        keep = _keep_dims(ctx)
        shape = tuple(a.shape)
        out_shape = _out_shape(shape, axes, keep)
        s_in, z_in, s_out, z_out = unary_quant_params(ctx, out_shape)
        dt = np.dtype(a.dtype)
        count = int(np.prod([shape[i] for i in axes], dtype=np.int64)) if axes else 1
        sr = fp.single_rounding_default()
        mode = fp.default_mode()
        mult, shift = fp.quantize_multiplier(float(s_in) / float(s_out), sr)
        bias = 0
        fscale = fbias = 0.0
        block_mode, block_mask = mode, None
        n_axis_values = np.asarray(ctx.input(1).data).size
        if (not compute_sum and keep and len(shape) == 4 and sorted(axes) == [1, 2] and n_axis_values == 2
                and dt in (np.dtype(np.int8), np.dtype(np.uint8))):
            path = PATH_GAP
            temp = f32(f32(f32(z_in) * f32(s_in)) / f32(s_out))
            temp = temp + f32(0.5) if temp > 0 else temp - f32(0.5)
            bias = z_out - int(temp)
            real = float(f32(s_in) / f32(f32(count) * f32(s_out)))
            mult, shift = fp.quantize_multiplier(real, sr)
            block_mode = fp.gemm_mode()
            block_mask = _simd_block_mask(shape[3], ctx.num_threads)
        elif compute_sum:
            # optimized_ops::QuantizedMeanOrSum: float32 rescale of the raw sum
            path = PATH_FLOAT_SUM
            scale = f32(s_in) / f32(s_out)
            fscale = float(scale)
            fbias = float(f32(f32(f32(-z_in) * scale) * f32(count)))
        else:
            path = PATH_INT
            if not compute_sum and count > 0:
                k = min(count.bit_length() - 1, 32, 31 + shift)
                mult = (mult << k) // count
                shift = shift - k
        qmin, qmax = dtype_range(dt)
        rows3 = acc = None
        ax = sorted(axes)
        if path != PATH_FLOAT_SUM and ax and ax == list(range(ax[0], ax[-1] + 1)):
            rows3 = (int(np.prod(shape[: ax[0]], dtype=np.int64)), count, int(np.prod(shape[ax[-1] + 1 :], dtype=np.int64)))
            acc = np.zeros(rows3[2], np.int32)
            if block_mask is None:
                block_mask = np.zeros(rows3[2], dtype=bool)
        return ReduceParams(path, axes, out_shape, count, z_in, z_out, mult, shift, bias, fscale, fbias, qmin, qmax, mode,
                            block_mode, block_mask, rows3, acc)

    def eval(self, p: ReduceParams, inputs, outputs) -> None:
        x = inputs[0]
        out = outputs[0]
        if x.size == 0:
            out[...] = 0
            return
        total = x.sum(axis=p.axes, dtype=np.int64) if p.axes else x.astype(np.int64)
        total = fp._wrap_int32(total)  # LiteRT's int32 temp_sum
        if p.path == PATH_GAP:
            acc = fp.multiply_by_quantized_multiplier(total, p.mult, p.shift, mode=p.mode)
            if p.block_mode != p.mode and p.block_mask.any():
                blocked = fp.multiply_by_quantized_multiplier(total, p.mult, p.shift, mode=p.block_mode)
                acc = np.where(p.block_mask, blocked, acc)
            acc = acc + p.bias
        elif p.path == PATH_FLOAT_SUM:
            v = np.asarray(total, np.float32) * f32(p.fscale) + f32(p.fbias)
            acc = (np.sign(v) * np.floor(np.abs(v) + f32(0.5))).astype(np.int64) + p.out_zp
        else:
            shifted = fp._wrap_int32(total - np.int64(p.in_zp) * p.count)
            acc = fp.multiply_by_quantized_multiplier(shifted, p.mult, p.shift, mode=p.mode) + p.out_zp
        out[...] = np.clip(acc, p.qmin, p.qmax).reshape(p.out_shape)

    def eval_jit(self, p: ReduceParams, inputs, outputs) -> None:
        x = inputs[0]
        if p.rows3 is None or x.size == 0:
            return self.eval(p, inputs, outputs)
        if p.path == PATH_GAP:
            before, after = 0, p.bias
        else:
            before, after = -p.in_zp * p.count, p.out_zp
        _mean_rows(x.reshape(p.rows3), p.acc, p.block_mask, p.mult, p.shift, p.mode, p.block_mode, before, after,
                   p.qmin, p.qmax, outputs[0].reshape(p.rows3[0], p.rows3[2]))


@njit
def _mean_rows(x, acc, block_mask, m, shift, mode, block_mode, before, after, lo, hi, out):
    """MEAN over the middle axis of ``x`` (outer, n, inner), paths 1 and 2 of the
    module docstring: out[o, c] = clamp(MBQM(int32(sum_i x[o, i, c] + before), m, shift)
    + after, lo, hi), the MBQM in ``block_mode`` where ``block_mask[c]`` (the global
    pool's SIMD blocks), else ``mode``. The sum runs over contiguous rows of ``inner``
    values (vectorized), wrapping in int32 like LiteRT's ``temp_sum``."""
    outer, n, inner = x.shape
    for o in range(outer):
        for cc in range(inner):
            acc[cc] = 0
        for i in range(n):
            row = x[o, i]
            for cc in range(inner):
                acc[cc] += row[cc]
        for cc in range(inner):
            t = np.int64(np.int32(np.int64(acc[cc]) + before))
            v = fp.mbqm_scalar(t, m, shift, block_mode if block_mask[cc] else mode) + after
            v = max(v, lo)
            out[o, cc] = min(v, hi)


@dataclass(frozen=True)
class MaxMinParams:
    axes: tuple[int, ...]
    out_shape: tuple[int, ...]
    is_max: bool


@register("REDUCE_MAX", "REDUCE_MIN", priority=INT8)
class QuantizedReduceMaxMin(Kernel):
    """int8/uint8/int16 REDUCE_MAX and REDUCE_MIN on the stored integers."""

    def accepts(self, ctx: OpContext) -> bool:
        if len(ctx.inputs) < 2 or not ctx.outputs:
            return False
        a, o = ctx.inputs[0], ctx.outputs[0]
        return is_quantized(a) and is_quantized(o) and a.dtype == o.dtype

    def prepare(self, ctx: OpContext) -> MaxMinParams:
        a, o = ctx.input(0), ctx.outputs[0]
        if quant_params(a) != quant_params(o):
            raise ctx.fail("input and output must share scale and zero_point")
        axes = _resolve_axes(ctx)
        out_shape = _out_shape(tuple(a.shape), axes, _keep_dims(ctx))
        ctx.set_output_shape(0, out_shape)
        return MaxMinParams(axes, out_shape, ctx.op_name == "REDUCE_MAX")

    def eval(self, p: MaxMinParams, inputs, outputs) -> None:
        x = inputs[0]
        if x.size == 0:
            lo, hi = dtype_range(x.dtype)
            outputs[0][...] = lo if p.is_max else hi
            return
        fn = np.max if p.is_max else np.min
        outputs[0][...] = fn(x, axis=p.axes).reshape(p.out_shape) if p.axes else x


@dataclass(frozen=True)
class ArgParams:
    axis: int
    is_max: bool


@register("ARG_MAX", "ARG_MIN", priority=INT8)
class QuantizedArg(Kernel):
    """ARG_MAX and ARG_MIN over int8/uint8 quantized input (stored integers compared)."""

    def accepts(self, ctx: OpContext) -> bool:
        if len(ctx.inputs) < 2 or not ctx.outputs:
            return False
        a = ctx.inputs[0]
        return (
            a is not None
            and np.dtype(a.dtype) in (np.dtype(np.int8), np.dtype(np.uint8))  # LiteRT: no int16
            and a.quant is not None
            and np.dtype(ctx.outputs[0].dtype) in (np.dtype(np.int32), np.dtype(np.int64))
        )

    def prepare(self, ctx: OpContext) -> ArgParams:
        axes = _resolve_axes(ctx)
        if len(axes) != 1:
            raise ctx.fail("needs exactly one axis")
        shape = tuple(ctx.input(0).shape)
        ctx.set_output_shape(0, shape[: axes[0]] + shape[axes[0] + 1:])
        return ArgParams(axes[0], ctx.op_name == "ARG_MAX")

    def eval(self, p: ArgParams, inputs, outputs) -> None:
        # numpy returns the first index among equal extremes, as LiteRT does.
        fn = np.argmax if p.is_max else np.argmin
        outputs[0][...] = fn(inputs[0], axis=p.axis)
