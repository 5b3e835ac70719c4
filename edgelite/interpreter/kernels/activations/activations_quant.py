"""Quantized activation kernels (int8 / uint8, some int16), bit-exact with LiteRT.

Follows LiteRT's ``activations.cc`` with its default (generic optimized) kernels:

* LOGISTIC, TANH (int8/uint8), ELU (int8), GELU (int8/uint8): a 256-entry lookup
  table built in ``prepare`` (see :mod:`.lut`).
* LOGISTIC, TANH (int16): in :mod:`.activations_quant16`.
* RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1: requantize by ``s_in / s_out``
  (MultiplyByQuantizedMultiplier) and clamp to the activation's quantized range.
* LEAKY_RELU: two multipliers, ``s_in / s_out`` for x >= zp and ``s_in alpha / s_out``
  below, each computed in float32 as LiteRT does.
* PRELU: ``s_in / s_out`` for x >= zp, ``s_in s_alpha / s_out`` times
  ``(x - zp)(alpha - zp_alpha)`` below, alpha broadcast against the input.
* HARD_SWISH: LiteRT's int16 fixed-point formula (``reference_ops::HardSwish``).

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> [type(k).__name__ for k in kernels_for("HARD_SWISH") if "Quant" in type(k).__name__]
    ['QuantizedHardSwish']
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute import lut
from edgelite.interpreter.kernels.base import INT8, Kernel, OpContext, register
from edgelite.interpreter.kernels.elementwise.elementwise_quant import (
    _round_half_away,
    as_6d,
    broadcast_shape,
    dtype_range,
    is_quantized,
    quant_params,
    unary_quant_params,
)
from edgelite.interpreter.compute.jit import njit

I8_U8 = (np.dtype(np.int8), np.dtype(np.uint8))
f32 = np.float32


def _unary_accepts(ctx: OpContext, dtypes) -> bool:
    if not ctx.inputs or not ctx.outputs:
        return False
    a, o = ctx.inputs[0], ctx.outputs[0]
    return (
        is_quantized(a, dtypes)
        and is_quantized(o, dtypes)
        and a.dtype == o.dtype
        and not a.quant.per_channel
        and not o.quant.per_channel
    )


# --------------------------------------------------------------------------------------
# Lookup-table activations
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LutParams:
    table: np.ndarray


class _LutKernel(Kernel):
    """Base of the 8-bit table kernels; subclasses name the float function."""

    dtypes = I8_U8

    def accepts(self, ctx: OpContext) -> bool:
        return _unary_accepts(ctx, self.dtypes)

    def transform(self, ctx: OpContext):
        raise NotImplementedError

    def check(self, ctx: OpContext) -> None:
        """Output quantization checks LiteRT makes for this op."""

    def prepare(self, ctx: OpContext) -> LutParams:
        a, o = ctx.input(0), ctx.outputs[0]
        ctx.set_output_shape(0, a.shape)
        self.check(ctx)
        s_in, z_in = quant_params(a)
        s_out, z_out = quant_params(o)
        return LutParams(lut.populate_lut_8bit(self.transform(ctx), s_in, z_in, s_out, z_out, a.dtype))

    def eval(self, p: LutParams, inputs, outputs) -> None:
        lut.apply_lut_8bit(p.table, inputs[0], outputs[0])

    def eval_jit(self, p: LutParams, inputs, outputs) -> None:
        lut.apply_lut_8bit_jit(p.table, inputs[0], outputs[0])


@register("LOGISTIC", priority=INT8)
class QuantizedLogistic8(_LutKernel):
    """int8/uint8 LOGISTIC; output scale must be 1/256 (LiteRT's check)."""

    def transform(self, ctx):
        return lut.logistic_f32

    def check(self, ctx):
        if quant_params(ctx.outputs[0])[0] != f32(1.0 / 256):
            raise ctx.fail("LOGISTIC output scale must be 1/256")


@register("TANH", priority=INT8)
class QuantizedTanh8(_LutKernel):
    """int8/uint8 TANH through a lookup table."""

    def transform(self, ctx):
        return lut.tanh_f32


@register("ELU", priority=INT8)
class QuantizedElu8(_LutKernel):
    """int8 ELU (alpha 1) through a lookup table (LiteRT has no uint8 ELU)."""

    dtypes = (np.dtype(np.int8),)

    def transform(self, ctx):
        return lut.elu_f32


@register("GELU", priority=INT8)
class QuantizedGelu8(_LutKernel):
    """int8/uint8 GELU, exact (erfc) or tanh-approximated per ``GeluOptions.approximate``."""

    def transform(self, ctx):
        approximate = bool(getattr(ctx.options, "approximate", False)) if ctx.options is not None else False
        return lut.gelu_approx_f32 if approximate else lut.gelu_f32


# --------------------------------------------------------------------------------------
# RELU family: requantize and clamp
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReluParams:
    in_zp: int
    out_zp: int
    mult: int
    shift: int
    act_min: int
    act_max: int
    single_rounding: bool


class _ReluBase(Kernel):
    lo: float | None = 0.0
    hi: float | None = None
    dtypes = I8_U8 + (np.dtype(np.int16),)

    def accepts(self, ctx: OpContext) -> bool:
        return _unary_accepts(ctx, self.dtypes)

    def prepare(self, ctx: OpContext) -> ReluParams:
        a = ctx.input(0)
        s_in, z_in, s_out, z_out = unary_quant_params(ctx)
        sr = fp.single_rounding_default()
        # double real_multiplier = input_scale / output_scale  (a float32 division)
        m, sh = fp.quantize_multiplier(float(f32(s_in) / f32(s_out)), sr)
        qmin, qmax = dtype_range(a.dtype)
        # zp + (int)roundf(limit / scale), in float32
        act_min = max(qmin, z_out + _round_half_away(float(f32(self.lo) / f32(s_out))))
        act_max = qmax if self.hi is None else min(qmax, z_out + _round_half_away(float(f32(self.hi) / f32(s_out))))
        return ReluParams(z_in, z_out, m, sh, act_min, act_max, sr)

    def eval(self, p: ReluParams, inputs, outputs) -> None:
        x = inputs[0].astype(np.int64) - p.in_zp
        r = fp.multiply_by_quantized_multiplier(x, p.mult, p.shift, p.single_rounding) + p.out_zp
        np.clip(r, p.act_min, p.act_max, out=r)
        outputs[0][...] = r

    def eval_jit(self, p: ReluParams, inputs, outputs) -> None:
        _relu_kernel(inputs[0].reshape(-1), outputs[0].reshape(-1), p.in_zp, p.out_zp, p.mult, p.shift,
                     p.act_min, p.act_max, p.single_rounding)


@njit
def _relu_kernel(x, out, in_zp, out_zp, m, sh, lo, hi, single):
    """LiteRT's quantized ReluX: out = clamp(zp_out + MBQM(x - zp_in, m, sh), lo, hi)."""
    for i in range(x.shape[0]):
        r = out_zp + fp.mbqm_scalar(np.int64(x[i]) - in_zp, m, sh, single)
        if r < lo:
            r = lo
        if r > hi:
            r = hi
        out[i] = r


@register("RELU", priority=INT8)
class QuantizedRelu(_ReluBase):
    """int8/uint8/int16 RELU with requantization."""


@register("RELU6", priority=INT8)
class QuantizedRelu6(_ReluBase):
    """int8/uint8/int16 RELU6 with requantization."""

    hi = 6.0


@register("RELU_N1_TO_1", priority=INT8)
class QuantizedReluN1To1(_ReluBase):
    """int8/uint8 RELU_N1_TO_1 with requantization."""

    lo, hi = -1.0, 1.0
    dtypes = I8_U8


@register("RELU_0_TO_1", priority=INT8)
class QuantizedRelu0To1(_ReluBase):
    """int8/uint8 RELU_0_TO_1 with requantization."""

    lo, hi = 0.0, 1.0
    dtypes = I8_U8


# --------------------------------------------------------------------------------------
# LEAKY_RELU
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeakyParams:
    in_zp: int
    out_zp: int
    m_id: int
    sh_id: int
    m_alpha: int
    sh_alpha: int
    qmin: int
    qmax: int
    single_rounding: bool


@register("LEAKY_RELU", priority=INT8)
class QuantizedLeakyRelu(Kernel):
    """int8/uint8/int16 LEAKY_RELU (LiteRT ``QuantizeLeakyRelu``)."""

    def accepts(self, ctx: OpContext) -> bool:
        return _unary_accepts(ctx, I8_U8 + (np.dtype(np.int16),))

    def prepare(self, ctx: OpContext) -> LeakyParams:
        a = ctx.input(0)
        s_in, z_in, s_out, z_out = unary_quant_params(ctx)
        alpha = f32(getattr(ctx.options, "alpha", 0.0) if ctx.options is not None else 0.0)
        sr = fp.single_rounding_default()
        # Both multipliers are float32 expressions in LiteRT.
        m_a, sh_a = fp.quantize_multiplier(float(f32(f32(s_in) * alpha) / f32(s_out)), sr)
        m_i, sh_i = fp.quantize_multiplier(float(f32(s_in) / f32(s_out)), sr)
        qmin, qmax = dtype_range(a.dtype)
        return LeakyParams(z_in, z_out, m_i, sh_i, m_a, sh_a, qmin, qmax, sr)

    def eval(self, p: LeakyParams, inputs, outputs) -> None:
        x = inputs[0].astype(np.int64) - p.in_zp
        mbqm = fp.multiply_by_quantized_multiplier
        r = np.where(
            x >= 0,
            mbqm(x, p.m_id, p.sh_id, p.single_rounding),
            mbqm(x, p.m_alpha, p.sh_alpha, p.single_rounding),
        ) + p.out_zp
        np.clip(r, p.qmin, p.qmax, out=r)
        outputs[0][...] = r

    def eval_jit(self, p: LeakyParams, inputs, outputs) -> None:
        _leaky_kernel(inputs[0].reshape(-1), outputs[0].reshape(-1), p.in_zp, p.out_zp, p.m_id, p.sh_id,
                      p.m_alpha, p.sh_alpha, p.qmin, p.qmax, p.single_rounding)


@njit
def _leaky_kernel(x, out, in_zp, out_zp, m_id, sh_id, m_a, sh_a, lo, hi, single):
    """out = clamp(zp_out + MBQM(v, identity or alpha multiplier), dtype range), v = x - zp_in."""
    for i in range(x.shape[0]):
        v = np.int64(x[i]) - in_zp
        if v >= 0:
            r = out_zp + fp.mbqm_scalar(v, m_id, sh_id, single)
        else:
            r = out_zp + fp.mbqm_scalar(v, m_a, sh_a, single)
        if r < lo:
            r = lo
        if r > hi:
            r = hi
        out[i] = r


# --------------------------------------------------------------------------------------
# PRELU
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreluParams:
    out_shape: tuple[int, ...]
    shape6: tuple[int, ...]
    in_offset: int
    alpha_offset: int
    out_zp: int
    m1: int
    sh1: int
    m2: int
    sh2: int
    qmin: int
    qmax: int
    single_rounding: bool


@register("PRELU", priority=INT8)
class QuantizedPrelu(Kernel):
    """int8/uint8 PRELU, alpha broadcast against the input (LiteRT ``reference_ops::Prelu``)."""

    def accepts(self, ctx: OpContext) -> bool:
        if len(ctx.inputs) < 2 or not _unary_accepts(ctx, I8_U8):
            return False
        al = ctx.inputs[1]
        return is_quantized(al, I8_U8) and al.dtype == ctx.inputs[0].dtype and not al.quant.per_channel

    def prepare(self, ctx: OpContext) -> PreluParams:
        a, al, o = ctx.input(0), ctx.input(1), ctx.outputs[0]
        shape = broadcast_shape(ctx, a.shape, al.shape)
        if shape != tuple(a.shape):
            raise ctx.fail(f"alpha {al.shape} must broadcast to the input's shape {a.shape}")
        ctx.set_output_shape(0, shape)
        s_in, z_in = quant_params(a)
        s_al, z_al = quant_params(al)
        s_out, z_out = quant_params(o)
        sr = fp.single_rounding_default()
        m1, sh1 = fp.quantize_multiplier(float(f32(s_in) / f32(s_out)), sr)
        m2, sh2 = fp.quantize_multiplier(float(f32(f32(s_in) * f32(s_al)) / f32(s_out)), sr)
        qmin, qmax = dtype_range(a.dtype)
        return PreluParams(shape, (1,) * (6 - len(shape)) + shape, -z_in, -z_al, z_out, m1, sh1, m2, sh2,
                           qmin, qmax, sr)

    def eval(self, p: PreluParams, inputs, outputs) -> None:
        x = inputs[0].astype(np.int64) + p.in_offset
        al = inputs[1].astype(np.int64) + p.alpha_offset
        mbqm = fp.multiply_by_quantized_multiplier
        r = np.where(x >= 0, mbqm(x, p.m1, p.sh1, p.single_rounding), mbqm(x * al, p.m2, p.sh2, p.single_rounding))
        r = r + p.out_zp
        np.clip(r, p.qmin, p.qmax, out=r)
        outputs[0][...] = r

    def eval_jit(self, p: PreluParams, inputs, outputs) -> None:
        _prelu_kernel(as_6d(inputs[0], p.shape6), as_6d(inputs[1], p.shape6), outputs[0].reshape(p.shape6),
                      p.in_offset, p.alpha_offset, p.out_zp, p.m1, p.sh1, p.m2, p.sh2, p.qmin, p.qmax,
                      p.single_rounding)


@njit
def _prelu_kernel(x, al, out, in_off, al_off, zo, m1, sh1, m2, sh2, lo, hi, single):
    """v = x + in_off; out = clamp(zo + (v >= 0 ? MBQM(v, m1, sh1) : MBQM(v * (al + al_off), m2, sh2)))."""
    d0, d1, d2, d3, d4, d5 = out.shape
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                for i3 in range(d3):
                    for i4 in range(d4):
                        for i5 in range(d5):
                            v = np.int64(x[i0, i1, i2, i3, i4, i5]) + in_off
                            if v >= 0:
                                r = fp.mbqm_scalar(v, m1, sh1, single)
                            else:
                                a = np.int64(al[i0, i1, i2, i3, i4, i5]) + al_off
                                r = fp.mbqm_scalar(v * a, m2, sh2, single)
                            r += zo
                            if r < lo:
                                r = lo
                            if r > hi:
                                r = hi
                            out[i0, i1, i2, i3, i4, i5] = r


# --------------------------------------------------------------------------------------
# HARD_SWISH
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HardSwishParams:
    in_zp: int
    out_zp: int
    out_m16: int
    out_exp: int
    relu_m16: int
    relu_exp: int
    qmin: int
    qmax: int


def _downscale_to_int16(m: int) -> int:
    """LiteRT's DownScaleInt32ToInt16Multiplier: round a Q0.31 multiplier to Q0.15."""
    if m >= (1 << 31) - 1 - (1 << 15):
        return 32767
    return (m + (1 << 15)) >> 16


@register("HARD_SWISH", priority=INT8)
class QuantizedHardSwish(Kernel):
    """int8/uint8 HARD_SWISH in LiteRT's int16 fixed-point arithmetic."""

    def accepts(self, ctx: OpContext) -> bool:
        return _unary_accepts(ctx, I8_U8)

    def prepare(self, ctx: OpContext) -> HardSwishParams:
        a, o = ctx.input(0), ctx.outputs[0]
        ctx.set_output_shape(0, a.shape)
        s_in, z_in = quant_params(a)
        s_out, z_out = quant_params(o)
        # All in float32, as in LiteRT's HardSwishPrepare.
        hires_input_scale = f32(1.0 / 128.0) * f32(s_in)
        reluish_scale = f32(3.0) / f32(32768.0)
        out_mult = hires_input_scale / f32(s_out)
        reluish_mult = hires_input_scale / reluish_scale
        # The double-rounding QuantizeMultiplier (no shift saturation) is the one used here.
        m_o, e_o = fp.quantize_multiplier(float(out_mult), False)
        m_r, e_r = fp.quantize_multiplier(float(reluish_mult), False)
        if e_o > 0:
            raise ctx.fail("HARD_SWISH needs output_scale >= input_scale / 128")
        qmin, qmax = dtype_range(a.dtype)
        return HardSwishParams(z_in, z_out, _downscale_to_int16(m_o), e_o, _downscale_to_int16(m_r), e_r, qmin, qmax)

    def eval(self, p: HardSwishParams, inputs, outputs) -> None:
        _hard_swish_ref(inputs[0].reshape(-1), outputs[0].reshape(-1), p.in_zp, p.out_zp, p.out_m16, p.out_exp,
                        p.relu_m16, p.relu_exp, p.qmin, p.qmax)

    def eval_jit(self, p: HardSwishParams, inputs, outputs) -> None:
        _hard_swish_kernel(inputs[0].reshape(-1), outputs[0].reshape(-1), p.in_zp, p.out_zp, p.out_m16,
                           p.out_exp, p.relu_m16, p.relu_exp, p.qmin, p.qmax)


def _srdhm16(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int16 values (int64 arrays)."""
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    s = ab + nudge
    r = np.where(s >= 0, s >> 15, -((-s) >> 15))
    return np.where((a == b) & (a == -32768), 32767, r)


def _sat16(v):
    return np.clip(v, -32768, 32767)


def _hard_swish_ref(x, out, in_zp, out_zp, m_o, e_o, m_r, e_r, qmin, qmax) -> None:
    v = x.astype(np.int64) - in_zp
    hires = v * 128
    pre_out = _srdhm16(hires, np.int64(m_o))
    rel = hires
    if e_r > 0:
        rel = _sat16(rel << (e_r - 1))
    rel = _srdhm16(rel, np.int64(m_r))
    if e_r > 0:
        rel = _sat16(rel << 1)
    if e_r < 0:
        rel = fp.rounding_divide_by_pot(rel, -e_r)
    rel = (rel + (1 << 15)) >> 1
    # SaturatingDoublingHighMul: (a * b) / 2**15 truncated toward zero (no rounding)
    ab = rel * pre_out
    pre = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    pre = np.where((rel == pre_out) & (rel == -32768), 32767, pre)
    r = fp.rounding_divide_by_pot(pre, -e_o) + out_zp
    np.clip(r, qmin, qmax, out=r)
    out[...] = r


@njit
def _srdhm16_scalar(a, b):
    if a == b and a == -32768:
        return np.int64(32767)
    ab = np.int64(a) * np.int64(b)
    if ab >= 0:
        return (ab + 16384) >> 15
    return -((-(ab + (1 - 16384))) >> 15)


@njit
def _hard_swish_kernel(x, out, in_zp, out_zp, m_o, e_o, m_r, e_r, qmin, qmax):
    """LiteRT's quantized HardSwish (reference_ops::HardSwish), one element at a time."""
    for i in range(x.shape[0]):
        hires = (np.int64(x[i]) - in_zp) * 128
        pre_out = _srdhm16_scalar(hires, m_o)
        rel = hires
        if e_r > 0:
            rel = min(max(rel << (e_r - 1), -32768), 32767)
        rel = _srdhm16_scalar(rel, m_r)
        if e_r > 0:
            rel = min(max(rel << 1, -32768), 32767)
        if e_r < 0:
            rel = fp.rdbpot_scalar(rel, -e_r)
        rel = (rel + 32768) >> 1
        if rel == pre_out and rel == -32768:
            pre = np.int64(32767)
        else:
            ab = rel * pre_out
            pre = ab >> 15 if ab >= 0 else -((-ab) >> 15)
        r = fp.rdbpot_scalar(pre, -e_o) + out_zp
        if r < qmin:
            r = qmin
        if r > qmax:
            r = qmax
        out[i] = r
