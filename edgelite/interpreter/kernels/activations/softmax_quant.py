"""Quantized SOFTMAX and LOG_SOFTMAX, bit-exact with LiteRT's default kernels.

int8 / uint8 input (``optimized_ops::Softmax`` / ``LogSoftmax`` on x86, which is what
the ``ai-edge-litert`` wheel runs without a delegate): a 256-entry float32 table
``table[255 - d] = expf(-input_scale * beta * d)`` is built in ``prepare``; per row,

* SOFTMAX: ``sum = sum_j table_at(max - x_j)`` accumulated left to right in float32,
  ``inv = 1 / (sum * out_scale)``, ``out_j = round(table_at(max - x_j) * inv) + zp``
  (uint8 output: ``(int)(p + 0.5f)``), clamped to the output type (int8, uint8 or int16);
* LOG_SOFTMAX: ``log_sum = logf(sum)``, ``out_j = rint(in_scale / out_scale * x_j -
  (in_scale * max + log_sum) / out_scale) + zp``, clamped.

LiteRT's aarch64 builds compute int8 -> int8 and uint8 -> uint8 SOFTMAX with a uint16
table instead (``SoftmaxInt8LUT``, ``compute/softmax_lut_arm``); edgelite does so where
``platform_rounding.target()`` is ``arm``.

int16 SOFTMAX (``reference_ops::SoftmaxInt16``): ``x - max`` rescaled so [-10, 0]
maps onto [-65535, 0], looked up in a 513-entry ``exp`` table, summed in Q16.15,
inverted through a ``1 / (1 + x)`` table after normalising the sum, then
multiplied back.

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> [type(k).__name__ for k in kernels_for("SOFTMAX") if "Quant" in type(k).__name__]
    ['QuantizedSoftmax', 'QuantizedSoftmaxInt16']
"""

from __future__ import annotations

import math

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute import lut, platform_rounding, softmax_lut_arm
from edgelite.interpreter.kernels.base import INT16, INT8, Kernel, OpContext, register
from edgelite.interpreter.kernels.elementwise.elementwise_quant import dtype_range, is_quantized, quant_params
from edgelite.interpreter.compute.jit import njit

f32 = np.float32
I8_U8 = (np.dtype(np.int8), np.dtype(np.uint8))


def _exp_table(input_scale: float, beta: float) -> np.ndarray:
    """``table[255 - v] = expf((-input_scale * beta) * v)`` for v in [0, 255], float32."""
    scale = f32(-f32(input_scale) * f32(beta))
    table = np.zeros(256, np.float32)
    for v in range(256):
        table[255 - v] = lut.expf(f32(scale * f32(v)))
    return table


def _beta(ctx: OpContext) -> float:
    # SoftmaxOptions.beta has no schema default of 1; LiteRT reads 0 as 0, and an op
    # without options gets beta 1 from its parser's defaults.
    return 1.0 if ctx.options is None else float(ctx.options.beta)


def _rows(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1)


@dataclass(frozen=True)
class SoftmaxParams:
    table: np.ndarray  # float32[256]
    out_scale: float
    out_zp: int
    out_min: int
    out_max: int
    uint8_out: bool
    arm_table: np.ndarray | None = None  # uint16 table of LiteRT's aarch64 form (softmax_lut_arm)


@register("SOFTMAX", priority=INT8)
class QuantizedSoftmax(Kernel):
    """int8/uint8 SOFTMAX (output of the input's type, or int16) through a float table."""

    def accepts(self, ctx: OpContext) -> bool:
        if not ctx.inputs or not ctx.outputs:
            return False
        a, o = ctx.inputs[0], ctx.outputs[0]
        if not (is_quantized(a, I8_U8) and is_quantized(o)):
            return False
        return o.dtype == a.dtype or np.dtype(o.dtype) == np.int16

    def prepare(self, ctx: OpContext) -> SoftmaxParams:
        a, o = ctx.input(0), ctx.outputs[0]
        if len(a.shape) < 1:
            raise ctx.fail("SOFTMAX needs an input of rank >= 1")
        ctx.set_output_shape(0, a.shape)
        s_in, _ = quant_params(a)
        s_out, z_out = quant_params(o)
        if np.dtype(a.dtype) == np.int8 and np.dtype(o.dtype) == np.int8:
            if z_out != -128 or abs(s_out - 1 / 256) > 0.001 / 256:
                raise ctx.fail("int8 SOFTMAX output must be quantized with scale 1/256, zero_point -128")
        lo, hi = dtype_range(o.dtype)
        # LiteRT's aarch64 builds take another algorithm when the output type is the input's
        arm = np.dtype(o.dtype) == np.dtype(a.dtype) and platform_rounding.target() == "arm"
        return SoftmaxParams(_exp_table(s_in, _beta(ctx)), s_out, z_out, lo, hi, np.dtype(o.dtype) == np.uint8,
                             softmax_lut_arm.uint16_exp_table(s_in, _beta(ctx)) if arm else None)

    def eval(self, p: SoftmaxParams, inputs, outputs) -> None:
        if p.arm_table is not None:
            softmax_lut_arm.softmax_rows(_rows(inputs[0]), p.arm_table, p.out_scale, p.out_zp, p.out_min, p.out_max,
                                         _rows(outputs[0]))
            return
        x = _rows(inputs[0]).astype(np.int64)
        mx = x.max(axis=1, keepdims=True)
        e = p.table[255 - (mx - x)]  # table_offset[x] with table_offset = table + 255 - max
        s = np.zeros(x.shape[0], np.float32)
        for j in range(x.shape[1]):  # sequential float32 sum, as the C loop
            s += e[:, j]
        inv = f32(1.0) / (s * f32(p.out_scale))
        prob = e * inv[:, None]
        if p.uint8_out:
            q = (prob + f32(0.5)).astype(np.int64)
        else:
            # std::round of a float: half away from zero
            q = (np.sign(prob) * np.floor(np.abs(prob) + f32(0.5))).astype(np.int64) + p.out_zp
        np.clip(q, p.out_min, p.out_max, out=q)
        _rows(outputs[0])[...] = q

    def eval_jit(self, p: SoftmaxParams, inputs, outputs) -> None:
        if p.arm_table is not None:  # integer after the table: vectorized numpy is fast enough
            return self.eval(p, inputs, outputs)
        _softmax8_kernel(_rows(inputs[0]), _rows(outputs[0]), p.table, f32(p.out_scale), p.out_zp, p.out_min,
                         p.out_max, p.uint8_out)


@njit
def _softmax8_kernel(x, out, table, out_scale, out_zp, lo, hi, uint8_out):
    """optimized_ops::Softmax for 8-bit input: per row, float32 table sum, then
    out = round(table[255 - (max - x)] / (sum * out_scale)) + zp, clamped."""
    one = np.float32(1.0)
    half = np.float32(0.5)
    for r in range(x.shape[0]):
        mx = np.int64(x[r, 0])
        for j in range(x.shape[1]):
            if np.int64(x[r, j]) > mx:
                mx = np.int64(x[r, j])
        s = np.float32(0.0)
        for j in range(x.shape[1]):
            s = np.float32(s + table[255 - (mx - np.int64(x[r, j]))])
        inv = np.float32(one / np.float32(s * out_scale))
        for j in range(x.shape[1]):
            prob = np.float32(table[255 - (mx - np.int64(x[r, j]))] * inv)
            if uint8_out:
                q = np.int64(np.float32(prob + half))
            else:
                q = np.int64(np.floor(np.float32(abs(prob) + half)))
                if prob < 0:
                    q = -q
                q += out_zp
            if q < lo:
                q = lo
            if q > hi:
                q = hi
            out[r, j] = q


# --------------------------------------------------------------------------------------
# int16 SOFTMAX
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SoftmaxInt16Params:
    exp_lut: np.ndarray
    recip_lut: np.ndarray
    mult: int
    shift: int
    single_rounding: bool


@register("SOFTMAX", priority=INT16)
class QuantizedSoftmaxInt16(Kernel):
    """int16 SOFTMAX (zero points 0, output scale 1/32768), 1-D to 4-D."""

    def accepts(self, ctx: OpContext) -> bool:
        if not ctx.inputs or not ctx.outputs:
            return False
        dt = (np.dtype(np.int16),)
        return is_quantized(ctx.inputs[0], dt) and is_quantized(ctx.outputs[0], dt)

    def prepare(self, ctx: OpContext) -> SoftmaxInt16Params:
        a, o = ctx.input(0), ctx.outputs[0]
        if not 1 <= len(a.shape) <= 4:
            raise ctx.fail("int16 SOFTMAX supports 1-D to 4-D tensors")
        ctx.set_output_shape(0, a.shape)
        s_in, z_in = quant_params(a)
        s_out, z_out = quant_params(o)
        if z_in or z_out or abs(s_out - 1 / 32768) > 0.001 / 32768:
            raise ctx.fail("int16 SOFTMAX needs zero points 0 and output scale 1/32768")
        rng = 65535.0
        exp_lut = lut.populate_lut_int16(math.exp, 10.0 / rng, 32767, 2.0 / rng, 0)
        recip_lut = lut.populate_lut_int16(lambda v: 1.0 / (1.0 + v), 1.0 / rng, -32768, 2.0 / rng, 0)
        sr = fp.single_rounding_default()
        m, sh = fp.quantize_multiplier(float(s_in) * _beta(ctx) / (10.0 / 65535.0), sr)
        return SoftmaxInt16Params(exp_lut, recip_lut, m, sh, sr)

    def eval(self, p: SoftmaxInt16Params, inputs, outputs) -> None:
        x = _rows(inputs[0]).astype(np.int64)
        diff = x - x.max(axis=1, keepdims=True)
        scaled = fp.multiply_by_quantized_multiplier(diff, p.mult, p.shift, p.single_rounding) + 32767
        e = lut.lut_lookup_int16(np.clip(scaled, -32768, 32767), p.exp_lut)
        total = e.sum(axis=1)
        # headroom_plus_one = CountLeadingZeros(uint32(sum))
        hp1 = np.array([32 - int(t).bit_length() if t > 0 else 32 for t in (total & 0xFFFFFFFF)], np.int64)
        shifted = ((total << (hp1 - 1)) + (1 << 13)) >> 14
        sym = np.clip(shifted - ((1 << 15) + (1 << 16)), -32768, 32767)
        recip = lut.lut_lookup_int16(sym, p.recip_lut)
        right = (31 - hp1)[:, None]
        r = (e * recip[:, None] + (np.int64(1) << (right - 1))) >> right
        _rows(outputs[0])[...] = np.clip(r, 0, 32767)


# --------------------------------------------------------------------------------------
# LOG_SOFTMAX
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogSoftmaxParams:
    table: np.ndarray
    in_scale: float
    out_scale: float
    out_zp: int
    out_min: int
    out_max: int


@register("LOG_SOFTMAX", priority=INT8)
class QuantizedLogSoftmax(Kernel):
    """int8/uint8 LOG_SOFTMAX (output scale 16/256, zero point 127 / 255)."""

    def accepts(self, ctx: OpContext) -> bool:
        if not ctx.inputs or not ctx.outputs:
            return False
        a, o = ctx.inputs[0], ctx.outputs[0]
        return is_quantized(a, I8_U8) and is_quantized(o, I8_U8) and a.dtype == o.dtype

    def prepare(self, ctx: OpContext) -> LogSoftmaxParams:
        a, o = ctx.input(0), ctx.outputs[0]
        ctx.set_output_shape(0, a.shape)
        s_in, _ = quant_params(a)
        s_out, z_out = quant_params(o)
        want_zp = 127 if np.dtype(o.dtype) == np.int8 else 255
        if s_out != 16.0 / 256 or z_out != want_zp:
            raise ctx.fail(f"LOG_SOFTMAX output must be quantized with scale 16/256, zero_point {want_zp}")
        lo, hi = dtype_range(o.dtype)
        return LogSoftmaxParams(_exp_table(s_in, 1.0), s_in, s_out, z_out, lo, hi)

    def eval(self, p: LogSoftmaxParams, inputs, outputs) -> None:
        x = _rows(inputs[0]).astype(np.int64)
        mx = x.max(axis=1)
        e = p.table[255 - (mx[:, None] - x)]
        s = np.zeros(x.shape[0], np.float32)
        for j in range(x.shape[1]):
            s += e[:, j]
        log_sum = np.array([lut.f32(math.log(float(v))) for v in s], np.float32)
        scale = f32(p.in_scale) / f32(p.out_scale)
        pre = (f32(p.in_scale) * mx.astype(np.float32) + log_sum) / f32(p.out_scale)
        log_prob = scale * x.astype(np.float32) - pre[:, None]
        q = np.rint(log_prob).astype(np.int64) + p.out_zp
        np.clip(q, p.out_min, p.out_max, out=q)
        _rows(outputs[0])[...] = q
