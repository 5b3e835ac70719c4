"""Quantized (int8 / uint8 / int16) binary elementwise kernels, bit-exact with LiteRT.

ADD, SUB, MUL, SQUARED_DIFFERENCE, MAXIMUM and MINIMUM on quantized tensors, with
numpy broadcasting up to 6-D and fused activations. The arithmetic is LiteRT's
integer kernels' (``reference_integer_ops/add.h``, ``mul.h``, ``squared_difference.cc``):

* ADD/SUB: each input gets its offset (``-zero_point``), is shifted left by
  ``left_shift`` (20 for 8-bit, 15 for int16), rescaled by ``s_i / (2 max(s1, s2))``,
  the two are added (subtracted), and the sum is rescaled by
  ``2 max(s1, s2) / (2**left_shift s_out)``. int16 with power-of-two scales and
  ``pot_scale_int16`` (the option's default) uses the older saturating Q0.15 add.
  The last bit follows LiteRT 2.3's x86 kernels as measured: 8-bit ADD rescales its
  inputs in a SIMD form on blocks of 16 (int8) or 8 (uint8) and in gemmlowp's form on
  the remainder (:func:`add_rescale_forms`); int16 ADD of same-shape inputs rescales
  them with one rounding.
* MUL: ``MBQM((x1 - z1)(x2 - z2), s1 s2 / s_out) + z_out``, the real multiplier
  computed in float32 as LiteRT does.
* SQUARED_DIFFERENCE: like SUB with ``left_shift`` 7, then the difference squared is
  rescaled by ``(2 max)**2 / (2**14 s_out)``.
* MAXIMUM/MINIMUM compare the stored integers, as LiteRT does (the spec requires the
  inputs and output to share their quantization; no requantization happens).

The module also holds the helpers the other quantized kernel files share
(:func:`quant_params`, :func:`activation_range`, :func:`is_quantized`).

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> any(type(k).__name__ == "QuantizedAdd" for k in kernels_for("ADD"))
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgelite.errors import UnsupportedOperatorError
from edgelite.interpreter import fixedpoint as fp
from edgelite.interpreter.kernels.base import Kernel, OpContext, TensorInfo, register
from edgelite.interpreter.kernels.jit import njit

QUANT_DTYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))

# ActivationFunctionType codes of the schema.
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3


# --------------------------------------------------------------------------------------
# Shared helpers of the quantized kernel files
# --------------------------------------------------------------------------------------


def is_quantized(t: TensorInfo | None, dtypes=QUANT_DTYPES) -> bool:
    """A tensor of one of ``dtypes`` with per-tensor quantization parameters."""
    return (
        t is not None
        and np.dtype(t.dtype) in dtypes
        and t.quant is not None
        and t.quant.scale.size >= 1
    )


def quant_params(t: TensorInfo) -> tuple[float, int]:
    """``(scale, zero_point)`` of a per-tensor quantized tensor (scale as float32)."""
    return float(np.float32(t.quant.scale[0])), int(t.quant.zero_point[0])


def dtype_range(dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _round_half_away(x: float) -> int:
    """C's ``std::round`` of a double (half away from zero)."""
    r = np.floor(abs(x) + 0.5)
    return int(-r if x < 0 else r)


def activation_range(ctx: OpContext, activation: int, out: TensorInfo) -> tuple[int, int]:
    """LiteRT's CalculateActivationRangeQuantized for the output's dtype.

    A fused RELU / RELU6 / RELU_N1_TO_1 becomes the quantized values of 0, 6, -1, 1
    (``zp + round(f / scale)``, the division in float32), intersected with the
    dtype's range.
    """
    qmin, qmax = dtype_range(out.dtype)
    scale = np.float32(out.quant.scale[0])
    zp = int(out.quant.zero_point[0])

    def q(f: float) -> int:
        return zp + _round_half_away(float(np.float32(f) / scale))

    if activation == ACT_NONE:
        return qmin, qmax
    if activation == ACT_RELU:
        return max(qmin, q(0.0)), qmax
    if activation == ACT_RELU6:
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == ACT_RELU_N1_TO_1:
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise UnsupportedOperatorError(
        f"{ctx.op_name} (operator {ctx.op_index}): fused activation {activation} is not supported "
        "on quantized tensors",
        [(ctx.op_name, str(ctx.op_index))],
    )


def broadcast_shape(ctx: OpContext, a: tuple, b: tuple) -> tuple[int, ...]:
    """numpy broadcasting of two shapes, limited to 6-D like LiteRT's kernels."""
    try:
        shape = np.broadcast_shapes(a, b)
    except ValueError:
        raise ctx.fail(f"input shapes {a} and {b} do not broadcast") from None
    if len(shape) > 6:
        raise ctx.fail(f"broadcasting supports at most 6 dimensions, got {len(shape)}")
    return tuple(int(d) for d in shape)


def as_6d(a: np.ndarray, shape6: tuple[int, ...]) -> np.ndarray:
    """A read-only 6-D broadcast view of ``a`` (no copy)."""
    return np.broadcast_to(a.reshape((1,) * (6 - a.ndim) + a.shape), shape6)


def _pad6(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (1,) * (6 - len(shape)) + tuple(shape)


def _fused_activation(options) -> int:
    return int(getattr(options, "fusedActivationFunction", 0) or 0) if options is not None else 0


def _is_pot(scale: float) -> tuple[bool, int]:
    """LiteRT's CheckedLog2: whether ``scale`` is a power of two, and the rounded log2."""
    log2 = np.log2(np.float64(scale))
    rounded = int(np.round(log2))
    return bool(abs(log2 - rounded) < 1e-3), rounded


# --------------------------------------------------------------------------------------
# ADD / SUB / SQUARED_DIFFERENCE: inputs rescaled to a common scale, then combined
# --------------------------------------------------------------------------------------

OP_ADD, OP_SUB, OP_SQDIFF = 0, 1, 2


@dataclass(frozen=True)
class AddSubParams:
    op: int
    out_shape: tuple[int, ...]
    shape6: tuple[int, ...]
    left_shift: int
    in1_offset: int
    in2_offset: int
    in1_mult: int
    in1_shift: int
    in2_mult: int
    in2_shift: int
    out_mult: int
    out_shift: int
    out_offset: int
    act_min: int
    act_max: int
    single_rounding: bool
    # int16 power-of-two path (LiteRT's older saturating add): shifts of each input
    pot_int16: bool = False
    # 8-bit ADD: which input-rescaling form each output element gets (flat, uint8
    # ``FORM_*`` codes; see :func:`add_rescale_forms`), or None for FORM_SCALAR everywhere
    forms: np.ndarray | None = None
    # int16 ADD (general scales): LiteRT rescales the inputs with one rounding
    input_single_rounding: bool = False


def _binary_accepts(ctx: OpContext) -> bool:
    if len(ctx.inputs) < 2 or not ctx.outputs:
        return False
    a, b, o = ctx.inputs[0], ctx.inputs[1], ctx.outputs[0]
    return (
        is_quantized(a)
        and is_quantized(b)
        and is_quantized(o)
        and a.dtype == b.dtype == o.dtype
        and not a.quant.per_channel
        and not b.quant.per_channel
        and not o.quant.per_channel
    )


class _AddSubBase(Kernel):
    op_code = OP_ADD

    def accepts(self, ctx: OpContext) -> bool:
        return _binary_accepts(ctx)

    def prepare(self, ctx: OpContext) -> AddSubParams:
        a, b, o = ctx.input(0), ctx.input(1), ctx.outputs[0]
        shape = broadcast_shape(ctx, a.shape, b.shape)
        ctx.set_output_shape(0, shape)
        s1, z1 = quant_params(a)
        s2, z2 = quant_params(b)
        so, zo = quant_params(o)
        act = _fused_activation(ctx.options)
        act_min, act_max = activation_range(ctx, act, o)
        sr = fp.single_rounding_default()
        int16 = np.dtype(o.dtype) == np.int16
        if int16 and (z1 or z2 or zo):
            raise ctx.fail("int16 inputs and output must have zero_point 0")
        if self.op_code == OP_SQDIFF:
            left_shift = 7
            twice_max = 2.0 * max(s1, s2)
            m1, sh1 = fp.quantize_multiplier(s1 / twice_max, sr)
            m2, sh2 = fp.quantize_multiplier(s2 / twice_max, sr)
            mo, sho = fp.quantize_multiplier(twice_max * twice_max / ((1 << (2 * left_shift)) * so), sr)
            return AddSubParams(OP_SQDIFF, shape, _pad6(shape), left_shift, -z1, -z2, m1, sh1, m2, sh2,
                                mo, sho, zo, act_min, act_max, sr)
        pot = False
        if int16:
            pot_option = True if ctx.options is None else bool(getattr(ctx.options, "potScaleInt16", True))
            if pot_option:
                p1, l1 = _is_pot(s1)
                p2, l2 = _is_pot(s2)
                po, lo = _is_pot(so)
                pot = p1 and p2 and po
        if pot:
            sh1, sh2 = l1 - lo, l2 - lo
            if self.op_code == OP_SUB:
                # LiteRT's int16 POT SUB negates the second input and adds.
                pass
            if not (sh1 == 0 or sh2 == 0) or sh1 > 0 or sh2 > 0:
                raise ctx.fail("int16 power-of-two scales: only one input may be rescaled, and only down")
            if tuple(a.shape) != tuple(b.shape):
                raise UnsupportedOperatorError(
                    f"{ctx.op_name} (operator {ctx.op_index}): int16 power-of-two path needs equal shapes",
                    [(ctx.op_name, str(ctx.op_index))],
                )
            return AddSubParams(self.op_code, shape, _pad6(shape), 0, 0, 0, 0, sh1, 0, sh2, 0, 0, 0,
                                act_min, act_max, sr, pot_int16=True)
        left_shift = 15 if int16 else 20
        twice_max = 2.0 * max(s1, s2)
        m1, sh1 = fp.quantize_multiplier(s1 / twice_max, sr)
        m2, sh2 = fp.quantize_multiplier(s2 / twice_max, sr)
        mo, sho = fp.quantize_multiplier(twice_max / ((1 << left_shift) * so), sr)
        forms = None
        if self.op_code == OP_ADD and not int16:
            forms = add_rescale_forms(tuple(a.shape), tuple(b.shape), np.dtype(o.dtype) == np.int8)
        # Measured on ai-edge-litert 2.3 (tie-heavy int16 tests): its int16 ADD of two
        # same-shape inputs rounds the input rescaling once (64-bit, half up) and the
        # output twice; broadcasting int16 ADD and int16 SUB round twice throughout.
        same_shape = _fivefold_plan(tuple(a.shape), tuple(b.shape)) is None
        in_sr = sr or (int16 and self.op_code == OP_ADD and same_shape)
        return AddSubParams(self.op_code, shape, _pad6(shape), left_shift, -z1, -z2, m1, sh1, m2, sh2,
                            mo, sho, zo, act_min, act_max, sr, forms=forms, input_single_rounding=in_sr)

    def eval(self, p: AddSubParams, inputs, outputs) -> None:
        x1 = inputs[0].astype(np.int64)
        x2 = inputs[1].astype(np.int64)
        if p.pot_int16:
            outputs[0][...] = _pot_int16(p, x1, x2).reshape(p.out_shape)
            return
        mbqm = fp.multiply_by_quantized_multiplier
        if p.forms is not None:
            a = _rescale_by_form(np.broadcast_to(x1 + p.in1_offset, p.out_shape).reshape(-1), p.left_shift,
                                 p.in1_mult, p.in1_shift, p.forms, p.single_rounding)
            b = _rescale_by_form(np.broadcast_to(x2 + p.in2_offset, p.out_shape).reshape(-1), p.left_shift,
                                 p.in2_mult, p.in2_shift, p.forms, p.single_rounding)
        else:
            in_sr = p.input_single_rounding
            a = mbqm((x1 + p.in1_offset) << p.left_shift, p.in1_mult, p.in1_shift, in_sr)
            b = mbqm((x2 + p.in2_offset) << p.left_shift, p.in2_mult, p.in2_shift, in_sr)
        if p.op == OP_ADD:
            raw = a + b
        elif p.op == OP_SUB:
            raw = a - b
        else:
            d = a - b
            raw = fp._wrap_int32(d * d)
        r = mbqm(raw, p.out_mult, p.out_shift, p.single_rounding) + p.out_offset
        np.clip(r, p.act_min, p.act_max, out=r)
        outputs[0][...] = r.reshape(p.out_shape) if p.forms is not None else np.broadcast_to(r, p.out_shape)

    def eval_jit(self, p: AddSubParams, inputs, outputs) -> None:
        if p.pot_int16:
            return self.eval(p, inputs, outputs)
        forms = p.forms if p.forms is not None else _NO_FORMS
        _addsub_kernel(
            as_6d(inputs[0], p.shape6), as_6d(inputs[1], p.shape6), outputs[0].reshape(p.shape6),
            p.op, p.left_shift, p.in1_offset, p.in2_offset, p.in1_mult, p.in1_shift, p.in2_mult,
            p.in2_shift, p.out_mult, p.out_shift, p.out_offset, p.act_min, p.act_max, p.single_rounding,
            forms, p.forms is not None, p.input_single_rounding,
        )


# How LiteRT's optimized 8-bit ADD rescales an input, per output element. Its kernels
# (``optimized_ops.h`` / ``optimized_integer_ops/add.h``) run a SIMD loop over blocks of
# a contiguous run and a scalar loop over the run's remainder, and the two loops round
# differently (measured on ai-edge-litert 2.3, x86; tie-heavy tests pin each form):
FORM_SCALAR = 0  # MBQM(v << 20, m, shift): SRDHM, then RoundingDivideByPOT (ties away from 0)
FORM_PRESHIFT = 1  # int8 elementwise SIMD: SRDHM(v << (20 + shift), m), the shift folded in first
FORM_FLOOR = 2  # uint8 elementwise / scalar-broadcast SIMD: SRDHM(v << 20, m) >> -shift (floor)

_NO_FORMS = np.zeros(1, dtype=np.uint8)


def _fivefold_plan(shape1: tuple, shape2: tuple):
    """LiteRT's ProcessBroadcastShapes: ``None`` when no broadcast is needed, the string
    ``"generic"`` for its slow 6-D path, else ``(y3, y4)`` of the five-fold loop nest
    (``y4``: the contiguous run both inputs share; ``y3``: the run one input repeats)."""
    n = max(len(shape1), len(shape2))
    e1 = (1,) * (n - len(shape1)) + tuple(shape1)
    e2 = (1,) * (n - len(shape2)) + tuple(shape2)
    if e1 == e2:
        return None
    fast = None  # the input whose innermost differing dimension is 1
    for d1, d2 in zip(reversed(e1), reversed(e2)):
        if d1 == d2:
            continue
        if d1 == 1:
            fast = 0
        elif d2 == 1:
            fast = 1
        else:
            return "generic"
        break
    sa, sb = (e1, e2) if fast == 0 else (e2, e1)
    i = n - 1
    y = [1, 1, 1, 1, 1]
    for slot, test in ((4, lambda a, b: a == b), (3, lambda a, b: a == 1), (2, lambda a, b: a == b),
                       (1, lambda a, b: b == 1), (0, lambda a, b: a == b)):
        while i >= 0 and test(sa[i], sb[i]):
            y[slot] *= sb[i] if slot in (4, 3, 0) else sa[i]
            i -= 1
    if i >= 0:
        return "generic"
    return y[3], y[4]


def add_rescale_forms(shape1: tuple, shape2: tuple, int8: bool) -> np.ndarray | None:
    """Which ``FORM_*`` each output element of an 8-bit ADD gets in LiteRT, flat.

    Same shapes: one run over the whole tensor, SIMD blocks of 16 (int8,
    FORM_PRESHIFT) or 8 (uint8, FORM_FLOOR). Five-fold broadcasts: runs of ``y4``
    elements, or, when ``y4 == 1``, runs of ``y3`` against one repeated value (SIMD
    blocks of 8, FORM_FLOOR). Generic broadcasts take the reference kernel
    (FORM_SCALAR everywhere, returned as ``None``).

    Example:
        >>> add_rescale_forms((20,), (20,), True).tolist()[14:18]
        [1, 1, 0, 0]
    """
    plan = _fivefold_plan(shape1, shape2)
    if plan == "generic":
        return None
    size = int(np.prod(np.broadcast_shapes(tuple(shape1), tuple(shape2)), dtype=np.int64))
    if plan is None:
        run, block, simd = size, (16 if int8 else 8), (FORM_PRESHIFT if int8 else FORM_FLOOR)
    else:
        y3, y4 = plan
        if y4 > 1:
            run, block, simd = y4, (16 if int8 else 8), (FORM_PRESHIFT if int8 else FORM_FLOOR)
        else:
            run, block, simd = y3, 8, FORM_FLOOR
    pos = np.arange(size, dtype=np.int64) % run
    return np.where(pos < run - run % block, simd, FORM_SCALAR).astype(np.uint8)


def _rescale_by_form(v: np.ndarray, left_shift: int, m: int, shift: int, forms: np.ndarray,
                     single_rounding: bool) -> np.ndarray:
    """An offset input ``v`` (flat, int64) rescaled element by element in its ``FORM_*``."""
    scalar = fp.multiply_by_quantized_multiplier(v << left_shift, m, shift, single_rounding)
    pre = left_shift + shift
    if pre >= 0:
        preshift = fp.saturating_rounding_doubling_high_mul(fp._wrap_int32(v << pre), m)
    else:
        preshift = fp.saturating_rounding_doubling_high_mul(v >> -pre, m)
    floor = fp.saturating_rounding_doubling_high_mul(fp._wrap_int32(v << left_shift), m) >> max(-shift, 0)
    return np.where(forms == FORM_SCALAR, scalar, np.where(forms == FORM_PRESHIFT, preshift, floor))


@njit
def _rescale_form_scalar(v, left_shift, m, shift, form, single):
    """Scalar :func:`_rescale_by_form` for the JIT kernel."""
    if form == 1:
        pre = left_shift + shift
        if pre >= 0:
            return fp.srdhm_scalar(fp.wrap_int32_scalar(v << pre), m)
        return fp.srdhm_scalar(v >> (-pre), m)
    if form == 2:
        right = -shift if shift < 0 else 0
        return fp.srdhm_scalar(fp.wrap_int32_scalar(v << left_shift), m) >> right
    return fp.mbqm_scalar(v << left_shift, m, shift, single)


def _pot_int16(p: AddSubParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """LiteRT's int16 power-of-two ADD/SUB: one input rounded down to the other's
    scale (RoundingDivideByPOT), then a saturating Q0.15 add."""
    if p.op == OP_SUB:
        # Sub's POT path works on the negated second input (saturated to int16).
        x2 = np.minimum(-x2, 32767)
    if p.in1_shift == 0:
        a, b = x1, fp.rounding_divide_by_pot(x2, -p.in2_shift)
    else:
        a, b = fp.rounding_divide_by_pot(x1, -p.in1_shift), x2
    r = np.clip(a + b, -32768, 32767)
    return np.clip(r, p.act_min, p.act_max)


@njit
def _addsub_kernel(x1, x2, out, op, left_shift, off1, off2, m1, sh1, m2, sh2, mo, sho, zo, lo, hi, single,
                   forms, use_forms, in_single):
    """LiteRT's quantized ADD / SUB / SQUARED_DIFFERENCE over 6-D broadcast views.

    a = MBQM((x1 + off1) << left_shift, m1, sh1); b = likewise;
    out = clamp(MBQM(a + b | a - b | (a - b)**2, mo, sho) + zo, lo, hi)
    (reference_integer_ops/add.h, squared_difference.cc). With ``use_forms`` the
    inputs are rescaled in the per-element ``FORM_*`` of ``forms`` (flat, output order);
    otherwise with single rounding when ``in_single``.
    """
    d0, d1, d2, d3, d4, d5 = out.shape
    flat = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                for i3 in range(d3):
                    for i4 in range(d4):
                        for i5 in range(d5):
                            u1 = np.int64(x1[i0, i1, i2, i3, i4, i5]) + off1
                            u2 = np.int64(x2[i0, i1, i2, i3, i4, i5]) + off2
                            if use_forms:
                                form = forms[flat]
                                a = _rescale_form_scalar(u1, left_shift, m1, sh1, form, single)
                                b = _rescale_form_scalar(u2, left_shift, m2, sh2, form, single)
                            else:
                                a = fp.mbqm_scalar(u1 << left_shift, m1, sh1, in_single)
                                b = fp.mbqm_scalar(u2 << left_shift, m2, sh2, in_single)
                            flat += 1
                            if op == 0:
                                raw = a + b
                            elif op == 1:
                                raw = a - b
                            else:
                                raw = fp.wrap_int32_scalar((a - b) * (a - b))
                            r = fp.mbqm_scalar(raw, mo, sho, single) + zo
                            if r < lo:
                                r = lo
                            if r > hi:
                                r = hi
                            out[i0, i1, i2, i3, i4, i5] = r


@register("ADD")
class QuantizedAdd(_AddSubBase):
    """int8/uint8/int16 ADD (LiteRT ``add.cc``, quantized path)."""

    op_code = OP_ADD


@register("SUB")
class QuantizedSub(_AddSubBase):
    """int8/uint8/int16 SUB (LiteRT ``sub.cc``, quantized path)."""

    op_code = OP_SUB


@register("SQUARED_DIFFERENCE")
class QuantizedSquaredDifference(_AddSubBase):
    """int8 SQUARED_DIFFERENCE (LiteRT ``squared_difference.cc``)."""

    op_code = OP_SQDIFF

    def accepts(self, ctx: OpContext) -> bool:
        # LiteRT's SQUARED_DIFFERENCE takes int8 but not uint8 / int16.
        return _binary_accepts(ctx) and np.dtype(ctx.inputs[0].dtype) == np.int8


# --------------------------------------------------------------------------------------
# MUL
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MulParams:
    out_shape: tuple[int, ...]
    shape6: tuple[int, ...]
    in1_offset: int
    in2_offset: int
    out_mult: int
    out_shift: int
    out_offset: int
    act_min: int
    act_max: int
    single_rounding: bool


@register("MUL")
class QuantizedMul(Kernel):
    """int8/uint8/int16 MUL: one output multiplier ``s1 s2 / s_out`` (LiteRT ``mul.cc``)."""

    def accepts(self, ctx: OpContext) -> bool:
        return _binary_accepts(ctx)

    def prepare(self, ctx: OpContext) -> MulParams:
        a, b, o = ctx.input(0), ctx.input(1), ctx.outputs[0]
        shape = broadcast_shape(ctx, a.shape, b.shape)
        ctx.set_output_shape(0, shape)
        s1, z1 = quant_params(a)
        s2, z2 = quant_params(b)
        so, zo = quant_params(o)
        if np.dtype(o.dtype) == np.int16 and (z1 or z2 or zo):
            raise ctx.fail("int16 inputs and output must have zero_point 0")
        act_min, act_max = activation_range(ctx, _fused_activation(ctx.options), o)
        sr = fp.single_rounding_default()
        m, sh = fp.quantize_multiplier(float(np.float32(s1) * np.float32(s2) / np.float32(so)), sr)
        return MulParams(shape, _pad6(shape), -z1, -z2, m, sh, zo, act_min, act_max, sr)

    def eval(self, p: MulParams, inputs, outputs) -> None:
        prod = (inputs[0].astype(np.int64) + p.in1_offset) * (inputs[1].astype(np.int64) + p.in2_offset)
        r = fp.multiply_by_quantized_multiplier(prod, p.out_mult, p.out_shift, p.single_rounding) + p.out_offset
        np.clip(r, p.act_min, p.act_max, out=r)
        outputs[0][...] = np.broadcast_to(r, p.out_shape)

    def eval_jit(self, p: MulParams, inputs, outputs) -> None:
        _mul_kernel(
            as_6d(inputs[0], p.shape6), as_6d(inputs[1], p.shape6), outputs[0].reshape(p.shape6),
            p.in1_offset, p.in2_offset, p.out_mult, p.out_shift, p.out_offset, p.act_min, p.act_max,
            p.single_rounding,
        )


@njit
def _mul_kernel(x1, x2, out, off1, off2, mo, sho, zo, lo, hi, single):
    """LiteRT's quantized MUL over 6-D broadcast views:
    out = clamp(MBQM((x1 + off1) * (x2 + off2), mo, sho) + zo, lo, hi)
    (reference_integer_ops/mul.h, MulElementwise)."""
    d0, d1, d2, d3, d4, d5 = out.shape
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                for i3 in range(d3):
                    for i4 in range(d4):
                        for i5 in range(d5):
                            v = (np.int64(x1[i0, i1, i2, i3, i4, i5]) + off1) * (
                                np.int64(x2[i0, i1, i2, i3, i4, i5]) + off2
                            )
                            r = fp.mbqm_scalar(v, mo, sho, single) + zo
                            if r < lo:
                                r = lo
                            if r > hi:
                                r = hi
                            out[i0, i1, i2, i3, i4, i5] = r


# --------------------------------------------------------------------------------------
# MAXIMUM / MINIMUM: a comparison of the stored integers
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaxMinParams:
    out_shape: tuple[int, ...]
    is_max: bool


class _MaxMinBase(Kernel):
    is_max = True

    def accepts(self, ctx: OpContext) -> bool:
        return _binary_accepts(ctx)

    def prepare(self, ctx: OpContext) -> MaxMinParams:
        shape = broadcast_shape(ctx, ctx.input(0).shape, ctx.input(1).shape)
        ctx.set_output_shape(0, shape)
        return MaxMinParams(shape, self.is_max)

    def eval(self, p: MaxMinParams, inputs, outputs) -> None:
        fn = np.maximum if p.is_max else np.minimum
        fn(inputs[0], inputs[1], out=outputs[0])


@register("MAXIMUM")
class QuantizedMaximum(_MaxMinBase):
    """int8/uint8/int16 MAXIMUM on the stored values (LiteRT ``maximum_minimum.cc``)."""

    is_max = True


@register("MINIMUM")
class QuantizedMinimum(_MaxMinBase):
    """int8/uint8/int16 MINIMUM on the stored values (LiteRT ``maximum_minimum.cc``)."""

    is_max = False
