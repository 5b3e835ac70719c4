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
  the remainder (:func:`simd_layout`); int16 ADD of same-shape inputs rescales
  them with one rounding.
* MUL: ``MBQM((x1 - z1)(x2 - z2), s1 s2 / s_out) + z_out``, the real multiplier
  computed in float32 as LiteRT does.
* 8-bit ADD and MUL elements of LiteRT's SIMD blocks narrow the rescaled value to
  int16 and add the output zero point in int16 (wrapping): results beyond int16
  (tiny output scales) come out wrapped there, as in LiteRT.

``eval`` is the numpy reference; ``eval_jit`` runs one fused Numba loop
(:mod:`elementwise_quant_jit`) when the rescalings fit its one-shift form. An 8-bit
input has 256 codes, so the reference tabulates in ``prepare`` what it would compute
per element: ADD/SUB/SQUARED_DIFFERENCE each input's rescaled value (256 entries per
form), MUL with a large output the whole result of every pair of codes (65536
entries, a SIMD and a scalar row); the same functions on the same values.
* SQUARED_DIFFERENCE: like SUB with ``left_shift`` 7, then the difference squared is
  rescaled by ``(2 max)**2 / (2**14 s_out)``.
* MAXIMUM/MINIMUM compare the stored integers, as LiteRT does (the spec requires the
  inputs and output to share their quantization; no requantization happens).

The module also holds the helpers the other quantized kernel files share
(:func:`quant_params`, :func:`activation_range`, :func:`is_quantized`).

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> any(type(k).__name__ == "QuantizedAddSub" for k in kernels_for("ADD"))
    True
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.errors import UnsupportedOperatorError
from edgelite.interpreter.compute import bound
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute.conv_geometry import ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1
from edgelite.interpreter.compute.rounding import round_half_away_scalar
from edgelite.interpreter.compute import elementwise_int8_loops as ej
from edgelite.interpreter.kernels.base import INT8, Kernel, OpContext, TensorInfo, register

QUANT_DTYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))

# ActivationFunctionType codes of the schema.


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


def unary_quant_params(ctx: OpContext, out_shape=None) -> tuple[float, int, float, int]:
    """``(s_in, z_in, s_out, z_out)`` of a quantized operator's input 0 and output 0, with
    the output shape set (``out_shape``, else the input's). int16 tensors need zero
    point 0, as LiteRT checks."""
    a, o = ctx.input(0), ctx.outputs[0]
    ctx.set_output_shape(0, tuple(a.shape) if out_shape is None else out_shape)
    s_in, z_in = quant_params(a)
    s_out, z_out = quant_params(o)
    if np.dtype(a.dtype) == np.int16 and (z_in or z_out):
        raise ctx.fail("int16 input and output must have zero_point 0")
    return s_in, z_in, s_out, z_out


def dtype_range(dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _round_half_away(x: float) -> int:
    """C's ``std::round`` of a double (half away from zero), as an int."""
    return int(round_half_away_scalar(x))


def activation_range(ctx: OpContext, activation: int, out: TensorInfo) -> tuple[int, int]:
    """LiteRT's CalculateActivationRangeQuantized for the output's dtype.

    A fused RELU / RELU6 / RELU_N1_TO_1 becomes the quantized values of 0, 6, -1, 1
    (``zp + round(f / scale)``, the division in float32), intersected with the
    dtype's range.
    """
    if activation not in (ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1):
        raise UnsupportedOperatorError(
            f"{ctx.op_name} (operator {ctx.op_index}): fused activation {activation} is not supported "
            "on quantized tensors",
            [(ctx.op_name, str(ctx.op_index))],
        )
    return fp.quantized_activation_range(activation, out.quant.scale[0], int(out.quant.zero_point[0]), out.dtype)


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
# Where LiteRT's optimized 8-bit kernels use their SIMD loop
# --------------------------------------------------------------------------------------

# LiteRT's optimized 8-bit ADD and MUL (``optimized_ops.h``,
# ``optimized_integer_ops/add.h``, ``mul.h``; on x86 their NEON code runs through
# NEON_2_SSE) process each contiguous run in SIMD blocks, then a scalar loop over the
# run's remainder. The two loops differ (measured on ai-edge-litert 2.3, x86; tests
# pin each difference):
#
# * ADD rescales its inputs in another form in the SIMD loop (``FORM_*`` below);
# * the SIMD loops narrow the rescaled result to int16 lanes and add the output zero
#   point in int16 (wrapping) before saturating to 8 bits, where the scalar loop
#   stays in int32 (``NARROW_*``): an ADD or MUL whose unclamped result leaves int16
#   (tiny output scales) comes out of the SIMD loop wrapped.
FORM_SCALAR = 0  # MBQM(v << 20, m, shift): SRDHM, then RoundingDivideByPOT (ties away from 0)
FORM_PRESHIFT = 1  # int8 elementwise SIMD: SRDHM(v << (20 + shift), m), the shift folded in first
FORM_FLOOR = 2  # uint8 elementwise / scalar-broadcast SIMD: SRDHM(v << 20, m) >> -shift (floor)

NARROW_NONE, NARROW_WRAP16, NARROW_SAT16 = ej.NARROW_NONE, ej.NARROW_WRAP16, ej.NARROW_SAT16


@dataclass(frozen=True)
class SimdLayout:
    """Which output elements LiteRT computes in its SIMD loop, and how.

    The element at flat output position ``i`` is a SIMD element when
    ``i % run < bulk``; ``form`` is the input-rescaling form (ADD) and ``narrow`` the
    int16 narrowing of those elements.
    """

    run: int
    bulk: int
    form: int
    narrow: int

    def mask(self, size: int) -> np.ndarray:
        if self.bulk >= self.run:
            return np.ones(size, bool)
        if self.run > 0 and size % self.run == 0:
            # the same as the formula below, without an integer division per element
            m = np.zeros((size // self.run, self.run), bool)
            m[:, : self.bulk] = True
            return m.reshape(-1)
        return (np.arange(size, dtype=np.int64) % self.run) < self.bulk


def _fivefold_plan(shape1: tuple, shape2: tuple):
    """LiteRT's ProcessBroadcastShapes: ``None`` when no broadcast is needed, the string
    ``"generic"`` for its slow 6-D path, else ``(y0, y1, y2, y3, y4, fast)`` of the
    five-fold loop nest (``y4``: the contiguous run both inputs share; ``y3``: the run
    the ``fast`` input (0 or 1) repeats one value over)."""
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
    return (*y, fast)


def simd_layout(op: str, shape1: tuple, shape2: tuple, dtype) -> SimdLayout | None:
    """The :class:`SimdLayout` of LiteRT's 8-bit ``op`` (``"ADD"`` or ``"MUL"``), or
    None when every element takes the scalar form (generic broadcasts, int16).

    Same shapes: one run over the tensor, blocks of 16 (int8) or 8 (uint8).
    Five-fold broadcasts: runs of ``y4`` with the same blocks or, when ``y4 == 1``,
    runs of ``y3`` against one repeated value (ADD: blocks of 8 in the floor form;
    MUL: 16 or 8, and uint8 truncates to int16 instead of saturating).

    Example:
        >>> simd_layout("ADD", (20,), (20,), np.int8)
        SimdLayout(run=20, bulk=16, form=1, narrow=1)
    """
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.int8), np.dtype(np.uint8)):
        return None
    int8 = dt == np.int8
    plan = _fivefold_plan(shape1, shape2)
    if plan == "generic":
        return None
    if plan is None or plan[4] > 1:
        run = int(np.prod(np.broadcast_shapes(tuple(shape1), tuple(shape2)), dtype=np.int64)) if plan is None else plan[4]
        block = 16 if int8 else 8
        form = FORM_PRESHIFT if int8 else FORM_FLOOR
        narrow = NARROW_WRAP16 if op == "ADD" else NARROW_SAT16
    else:
        run = plan[3]
        if op == "ADD":
            block, form, narrow = 8, FORM_FLOOR, NARROW_WRAP16
        else:
            block, form = (16, FORM_SCALAR) if int8 else (8, FORM_SCALAR)
            narrow = NARROW_SAT16 if int8 else NARROW_WRAP16
    if op == "MUL":
        form = FORM_SCALAR
    return SimdLayout(run, run - run % block, form, narrow)


def add_rescale_forms(shape1: tuple, shape2: tuple, int8: bool) -> np.ndarray | None:
    """Which ``FORM_*`` each output element of an 8-bit ADD gets in LiteRT, flat
    (None for a generic broadcast: FORM_SCALAR everywhere).

    Example:
        >>> add_rescale_forms((20,), (20,), True).tolist()[14:18]
        [1, 1, 0, 0]
    """
    lay = simd_layout("ADD", shape1, shape2, np.int8 if int8 else np.uint8)
    if lay is None:
        return None
    size = int(np.prod(np.broadcast_shapes(tuple(shape1), tuple(shape2)), dtype=np.int64))
    return np.where(lay.mask(size), lay.form, FORM_SCALAR).astype(np.uint8)


def _narrow_simd(r: np.ndarray, zo: int, narrow: int) -> np.ndarray:
    """A SIMD lane's output: ``r`` narrowed to int16 (saturating or truncating), plus
    the zero point in int16 arithmetic (wrapping)."""
    if narrow == NARROW_SAT16:
        r = np.clip(r, -32768, 32767)
    return ((r + zo + 32768) & 0xFFFF) - 32768


def _offset_and_narrow(r: np.ndarray, zo: int, layout: SimdLayout | None) -> np.ndarray:
    """``r + zo`` for scalar elements, :func:`_narrow_simd` for SIMD ones (flat)."""
    if layout is None or layout.bulk == 0:
        return r + zo
    if layout.bulk >= layout.run:  # every element is a SIMD one (no remainder in any run)
        return _narrow_simd(r, zo, layout.narrow)
    return np.where(layout.mask(r.size), _narrow_simd(r, zo, layout.narrow), r + zo)


def _umax(dtype, offset: int) -> int:
    lo, hi = dtype_range(dtype)
    return max(abs(lo + offset), abs(hi + offset))


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
    # 8-bit ADD: LiteRT's SIMD elements (None: every element in the scalar form)
    layout: SimdLayout | None = None
    # int16 ADD (general scales): LiteRT rescales the inputs with one rounding
    input_single_rounding: bool = False
    # the fused Numba loop (None: eval_jit runs the numpy reference)
    plan: ej.BinaryPlan | None = None
    # 8-bit inputs: each input's rescaled value for its 256 codes, row 0 in the SIMD
    # form and row 1 in the scalar one (``_input_tables``); None for int16
    lut1: np.ndarray | None = None
    lut2: np.ndarray | None = None


def _input_tables(p: AddSubParams, dtype) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The reference ``eval``'s input rescaling applied to every code of an 8-bit
    dtype, so that ``eval`` looks values up instead of rescaling each element (the same
    elementwise functions on the same values: the same bits)."""
    if np.dtype(dtype).itemsize != 1 or p.pot_int16:
        return None, None
    lo, hi = dtype_range(dtype)
    codes = np.arange(lo, hi + 1, dtype=np.int64)
    tables = []
    for offset, m, sh in ((p.in1_offset, p.in1_mult, p.in1_shift), (p.in2_offset, p.in2_mult, p.in2_shift)):
        u = codes + offset
        if p.layout is not None:
            rows = [_rescale_in_form(u, p.left_shift, m, sh, form, p.single_rounding)
                    for form in (p.layout.form, FORM_SCALAR)]
        else:
            row = fp.multiply_by_quantized_multiplier(u << p.left_shift, m, sh, p.input_single_rounding)
            rows = [row, row]
        tables.append(np.ascontiguousarray(np.stack(rows)))
    return tables[0], tables[1]


def _with_tables(p: AddSubParams, dtype) -> AddSubParams:
    lut1, lut2 = _input_tables(p, dtype)
    return replace(p, lut1=lut1, lut2=lut2)


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


_FORM_NAMES = {FORM_SCALAR: "mbqm", FORM_PRESHIFT: "preshift", FORM_FLOOR: "floor"}


def _addsub_plan(p: AddSubParams, shape1: tuple, shape2: tuple, dtype) -> ej.BinaryPlan | None:
    simd_form = _FORM_NAMES[p.layout.form] if p.layout is not None else "mbqm"
    in_sr = p.input_single_rounding

    def rows(m, shift):
        return [ej.rescale_row(m, shift, p.left_shift, simd_form, in_sr),
                ej.rescale_row(m, shift, p.left_shift, "mbqm", in_sr)]

    out_row = ej.rescale_row(p.out_mult, p.out_shift, 0, "mbqm", p.single_rounding)
    comb = (ej.COMB_ADD, ej.COMB_SUB, ej.COMB_SQDIFF)[p.op]
    layout = (p.layout.run, p.layout.bulk) if p.layout is not None else None
    return ej.plan_binary(
        comb, _fivefold_plan(shape1, shape2), p.out_shape, rows(p.in1_mult, p.in1_shift),
        rows(p.in2_mult, p.in2_shift), [out_row, out_row], (p.in1_offset, p.in2_offset), p.out_offset,
        p.act_min, p.act_max, layout, (_umax(dtype, p.in1_offset), _umax(dtype, p.in2_offset)),
        left=p.left_shift, narrow_simd=p.layout.narrow if p.layout is not None else NARROW_NONE, dtype=dtype,
    )


@dataclass(frozen=True)
class _BinaryIO:
    """What a quantized two-input kernel's ``prepare`` reads first (``_QuantBinary.io``)."""

    a: TensorInfo
    b: TensorInfo
    o: TensorInfo
    shape: tuple[int, ...]
    s1: float
    z1: int
    s2: float
    z2: int
    so: float
    zo: int
    act_min: int
    act_max: int


class _QuantBinary(Kernel):
    """Base of the quantized ADD/SUB/SQUARED_DIFFERENCE and MUL kernels: the inputs'
    and output's parameters, the broadcast output shape and the fused activation's
    integer range read once (``io``); ``eval_jit`` runs the prepared ``plan``."""

    def accepts(self, ctx: OpContext) -> bool:
        return _binary_accepts(ctx)

    @staticmethod
    def io(ctx: OpContext) -> _BinaryIO:
        a, b, o = ctx.input(0), ctx.input(1), ctx.outputs[0]
        shape = broadcast_shape(ctx, a.shape, b.shape)
        ctx.set_output_shape(0, shape)
        (s1, z1), (s2, z2), (so, zo) = quant_params(a), quant_params(b), quant_params(o)
        if np.dtype(o.dtype) == np.int16 and (z1 or z2 or zo):
            raise ctx.fail("int16 inputs and output must have zero_point 0")
        act_min, act_max = activation_range(ctx, _fused_activation(ctx.options), o)
        return _BinaryIO(a, b, o, shape, s1, z1, s2, z2, so, zo, act_min, act_max)

    def eval_jit(self, p, inputs, outputs) -> None:
        if p.plan is None:
            return self.eval(p, inputs, outputs)
        ej.run_binary(p.plan, inputs[0], inputs[1], outputs[0])

    def bind(self, p, inputs, outputs):
        """``eval_jit`` as prepared calls (``compute.bound``; large ones shared with the
        thread pool, ``elementwise_int8_loops.binary_calls``); None for the other paths."""
        if p.plan is None or not bound.contiguous(inputs[0], inputs[1], outputs[0]):
            return None
        return ej.binary_calls(p.plan, inputs[0], inputs[1], outputs[0])

    @staticmethod
    def threaded(p, ctx: OpContext):
        """``p`` with the operator's thread count in its plan (for ``bind``'s split)."""
        plan = getattr(p, "plan", None)
        return p if plan is None else replace(p, plan=replace(plan, threads=int(ctx.num_threads)))


_ADDSUB_OPS = {"ADD": OP_ADD, "SUB": OP_SUB, "SQUARED_DIFFERENCE": OP_SQDIFF}


@register("ADD", "SUB", "SQUARED_DIFFERENCE", priority=INT8)
class QuantizedAddSub(_QuantBinary):
    """int8/uint8/int16 ADD and SUB, int8 SQUARED_DIFFERENCE (LiteRT ``add.cc``,
    ``sub.cc``, ``squared_difference.cc``, quantized paths): both inputs rescaled to a
    common scale, then combined."""

    def accepts(self, ctx: OpContext) -> bool:
        if not super().accepts(ctx):
            return False
        # LiteRT's SQUARED_DIFFERENCE takes int8 but not uint8 / int16.
        return ctx.op_name != "SQUARED_DIFFERENCE" or np.dtype(ctx.inputs[0].dtype) == np.int8

    def prepare(self, ctx: OpContext) -> AddSubParams:
        op_code = _ADDSUB_OPS[ctx.op_name]
        io = self.io(ctx)
        a, b, o, shape = io.a, io.b, io.o, io.shape
        s1, z1, s2, z2, so, zo, act_min, act_max = io.s1, io.z1, io.s2, io.z2, io.so, io.zo, io.act_min, io.act_max
        sr = fp.single_rounding_default()
        int16 = np.dtype(o.dtype) == np.int16
        if op_code == OP_SQDIFF:
            left_shift = 7
            twice_max = 2.0 * max(s1, s2)
            m1, sh1 = fp.quantize_multiplier(s1 / twice_max, sr)
            m2, sh2 = fp.quantize_multiplier(s2 / twice_max, sr)
            mo, sho = fp.quantize_multiplier(twice_max * twice_max / ((1 << (2 * left_shift)) * so), sr)
            p = AddSubParams(OP_SQDIFF, shape, _pad6(shape), left_shift, -z1, -z2, m1, sh1, m2, sh2,
                             mo, sho, zo, act_min, act_max, sr)
            return self.threaded(_with_tables(replace(p, plan=_addsub_plan(p, tuple(a.shape), tuple(b.shape), o.dtype)),
                                              o.dtype), ctx)
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
            if not (sh1 == 0 or sh2 == 0) or sh1 > 0 or sh2 > 0:
                raise ctx.fail("int16 power-of-two scales: only one input may be rescaled, and only down")
            if tuple(a.shape) != tuple(b.shape):
                raise UnsupportedOperatorError(
                    f"{ctx.op_name} (operator {ctx.op_index}): int16 power-of-two path needs equal shapes",
                    [(ctx.op_name, str(ctx.op_index))],
                )
            return AddSubParams(op_code, shape, _pad6(shape), 0, 0, 0, 0, sh1, 0, sh2, 0, 0, 0,
                                act_min, act_max, sr, pot_int16=True)
        left_shift = 15 if int16 else 20
        twice_max = 2.0 * max(s1, s2)
        m1, sh1 = fp.quantize_multiplier(s1 / twice_max, sr)
        m2, sh2 = fp.quantize_multiplier(s2 / twice_max, sr)
        mo, sho = fp.quantize_multiplier(twice_max / ((1 << left_shift) * so), sr)
        layout = simd_layout("ADD", tuple(a.shape), tuple(b.shape), o.dtype) if op_code == OP_ADD else None
        # Measured on ai-edge-litert 2.3 (tie-heavy int16 tests): its int16 ADD of two
        # same-shape inputs rounds the input rescaling once (64-bit, half up) and the
        # output twice; broadcasting int16 ADD and int16 SUB round twice throughout.
        same_shape = _fivefold_plan(tuple(a.shape), tuple(b.shape)) is None
        in_sr = sr or (int16 and op_code == OP_ADD and same_shape)
        p = AddSubParams(op_code, shape, _pad6(shape), left_shift, -z1, -z2, m1, sh1, m2, sh2,
                         mo, sho, zo, act_min, act_max, sr, layout=layout, input_single_rounding=in_sr)
        return self.threaded(_with_tables(replace(p, plan=_addsub_plan(p, tuple(a.shape), tuple(b.shape), o.dtype)),
                                          o.dtype), ctx)

    def eval(self, p: AddSubParams, inputs, outputs) -> None:
        if p.lut1 is not None:
            r = _addsub_8bit(p, inputs[0], inputs[1])
            np.clip(r, p.act_min, p.act_max, out=r)
            outputs[0][...] = r.reshape(p.out_shape)
            return
        x1 = inputs[0].astype(np.int64)
        x2 = inputs[1].astype(np.int64)
        if p.pot_int16:
            outputs[0][...] = _pot_int16(p, x1, x2).reshape(p.out_shape)
            return
        mbqm = fp.multiply_by_quantized_multiplier
        u1 = np.broadcast_to(x1 + p.in1_offset, p.out_shape).reshape(-1)
        u2 = np.broadcast_to(x2 + p.in2_offset, p.out_shape).reshape(-1)
        if p.layout is not None:
            forms = np.where(p.layout.mask(u1.size), p.layout.form, FORM_SCALAR)
            a = _rescale_by_form(u1, p.left_shift, p.in1_mult, p.in1_shift, forms, p.single_rounding)
            b = _rescale_by_form(u2, p.left_shift, p.in2_mult, p.in2_shift, forms, p.single_rounding)
        else:
            in_sr = p.input_single_rounding
            a = mbqm(u1 << p.left_shift, p.in1_mult, p.in1_shift, in_sr)
            b = mbqm(u2 << p.left_shift, p.in2_mult, p.in2_shift, in_sr)
        if p.op == OP_ADD:
            raw = a + b
        elif p.op == OP_SUB:
            raw = a - b
        else:
            d = a - b
            raw = fp._wrap_int32(d * d)
        r = _offset_and_narrow(mbqm(raw, p.out_mult, p.out_shift, p.single_rounding), p.out_offset, p.layout)
        np.clip(r, p.act_min, p.act_max, out=r)
        outputs[0][...] = r.reshape(p.out_shape)


def _rescale_in_form(v: np.ndarray, left_shift: int, m: int, shift: int, form: int,
                     single_rounding: bool) -> np.ndarray:
    """An offset input ``v`` (int64) rescaled in one ``FORM_*``."""
    if form == FORM_SCALAR:
        return fp.multiply_by_quantized_multiplier(v << left_shift, m, shift, single_rounding)
    if form == FORM_PRESHIFT:
        pre = left_shift + shift
        if pre >= 0:
            return fp.saturating_rounding_doubling_high_mul(fp._wrap_int32(v << pre), m)
        return fp.saturating_rounding_doubling_high_mul(v >> -pre, m)
    return fp.saturating_rounding_doubling_high_mul(fp._wrap_int32(v << left_shift), m) >> max(-shift, 0)


def _rescale_by_form(v: np.ndarray, left_shift: int, m: int, shift: int, forms: np.ndarray,
                     single_rounding: bool) -> np.ndarray:
    """An offset input ``v`` (flat, int64) rescaled element by element in its ``FORM_*``."""
    scalar, preshift, floor = (_rescale_in_form(v, left_shift, m, shift, f, single_rounding)
                               for f in (FORM_SCALAR, FORM_PRESHIFT, FORM_FLOOR))
    return np.where(forms == FORM_SCALAR, scalar, np.where(forms == FORM_PRESHIFT, preshift, floor))


def _codes(x: np.ndarray) -> np.ndarray:
    """Row positions in an ``_input_tables`` table: the code minus the dtype's minimum."""
    code = x.astype(np.int16)
    if x.dtype == np.int8:
        code += 128
    return code


def _rescaled(table: np.ndarray, x: np.ndarray, out_shape: tuple, simd) -> np.ndarray:
    """The rescaled input ``x`` broadcast to ``out_shape``, flat: row 0 of ``table`` (the
    SIMD form) where ``simd`` is true, row 1 elsewhere (``simd`` None: row 1 throughout;
    True: row 0 throughout)."""
    code = np.broadcast_to(_codes(x), out_shape).reshape(-1)
    if simd is None:
        return table[1].take(code)
    if simd is True:
        return table[0].take(code)
    return np.where(simd, table[0].take(code), table[1].take(code))


def _addsub_8bit(p: AddSubParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """``eval`` of 8-bit inputs with the input rescaling looked up (``_input_tables``);
    the combination and the output stage as for the other dtypes. Flat, before the clamp."""
    lay = p.layout
    simd = None
    if lay is not None and lay.bulk:
        mask = lay.mask(int(np.prod(p.out_shape, dtype=np.int64)))
        simd = True if mask.all() else mask
    a = _rescaled(p.lut1, x1, p.out_shape, simd)
    b = _rescaled(p.lut2, x2, p.out_shape, simd)
    if p.op == OP_ADD:
        raw = a + b
    elif p.op == OP_SUB:
        raw = a - b
    else:
        d = a - b
        raw = fp._wrap_int32(d * d)
    return _offset_and_narrow(fp.multiply_by_quantized_multiplier(raw, p.out_mult, p.out_shift, p.single_rounding),
                              p.out_offset, lay)


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
    layout: SimdLayout | None = None
    plan: ej.BinaryPlan | None = None
    # 8-bit inputs and a large output: the result for every pair of input codes,
    # row 0 for LiteRT's SIMD elements and row 1 for the scalar ones (``_mul_table``)
    table: np.ndarray | None = None


# Below this many output elements the reference MUL computes each element: a table
# costs about as much to fill (65536 pairs) as the elements it would save.
MUL_TABLE_MIN_SIZE = 1 << 17


def _mul_raw(p: MulParams, u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """``MBQM(u1 * u2)`` of the offset inputs (flat int64), before the zero point."""
    return fp.multiply_by_quantized_multiplier(u1 * u2, p.out_mult, p.out_shift, p.single_rounding)


def mul_results(p: MulParams, x1: np.ndarray, x2: np.ndarray, dtype) -> np.ndarray:
    """``eval``'s result for each element pair ``(x1[i], x2[i])`` (flat 8-bit codes), as
    ``dtype`` [2, n]: row 0 as LiteRT's SIMD loop computes it (int16 narrowing), row 1 as
    its scalar loop does (``_offset_and_narrow``'s two branches, then the clamp). Its
    MUL table (``_mul_table``) and the fused swish table (``interpreter.fusion``) are
    both made here."""
    u1 = np.asarray(x1, np.int64) + p.in1_offset
    u2 = np.asarray(x2, np.int64) + p.in2_offset
    r = _mul_raw(p, u1, u2)
    simd = _narrow_simd(r, p.out_offset, p.layout.narrow) if p.layout is not None else r + p.out_offset
    rows = [np.clip(v, p.act_min, p.act_max).astype(dtype) for v in (simd, r + p.out_offset)]
    return np.ascontiguousarray(np.stack(rows))


def _mul_table(p: MulParams, dtype) -> np.ndarray:
    """``eval``'s result for each pair of 8-bit codes ``(c1, c2)`` at ``c1 * 256 + c2``
    (codes counted from the dtype's minimum): :func:`mul_results` of every pair."""
    lo, _ = dtype_range(dtype)
    codes = np.arange(256, dtype=np.int64) + lo
    return mul_results(p, np.repeat(codes, 256), np.tile(codes, 256), dtype)


@register("MUL", priority=INT8)
class QuantizedMul(_QuantBinary):
    """int8/uint8/int16 MUL: one output multiplier ``s1 s2 / s_out`` (LiteRT ``mul.cc``)."""

    def prepare(self, ctx: OpContext) -> MulParams:
        io = self.io(ctx)
        a, b, o, shape = io.a, io.b, io.o, io.shape
        s1, z1, s2, z2, so, zo, act_min, act_max = io.s1, io.z1, io.s2, io.z2, io.so, io.zo, io.act_min, io.act_max
        sr = fp.single_rounding_default()
        m, sh = fp.quantize_multiplier(float(np.float32(s1) * np.float32(s2) / np.float32(so)), sr)
        layout = simd_layout("MUL", tuple(a.shape), tuple(b.shape), o.dtype)
        row = ej.rescale_row(m, sh, 0, "mbqm", sr)
        plan = ej.plan_binary(
            ej.COMB_MUL, _fivefold_plan(tuple(a.shape), tuple(b.shape)), shape, [ej.IDENTITY] * 2,
            [ej.IDENTITY] * 2, [row, row], (-z1, -z2), zo, act_min, act_max,
            (layout.run, layout.bulk) if layout is not None else None,
            (_umax(o.dtype, -z1), _umax(o.dtype, -z2)),
            narrow_simd=layout.narrow if layout is not None else NARROW_NONE, dtype=o.dtype,
        )
        p = MulParams(shape, _pad6(shape), -z1, -z2, m, sh, zo, act_min, act_max, sr, layout, plan)
        size = int(np.prod(shape, dtype=np.int64))
        if np.dtype(o.dtype).itemsize == 1 and size >= MUL_TABLE_MIN_SIZE:
            p = replace(p, table=_mul_table(p, o.dtype))
        return self.threaded(p, ctx)

    def eval(self, p: MulParams, inputs, outputs) -> None:
        if p.table is not None:
            # the pair of codes of each element, then its row of the table
            idx = (np.broadcast_to(_codes(inputs[0]), p.out_shape).astype(np.int32) << 8) + _codes(inputs[1])
            idx = np.broadcast_to(idx, p.out_shape).reshape(-1)
            lay = p.layout
            mask = lay.mask(idx.size) if lay is not None and 0 < lay.bulk < lay.run else None
            if mask is not None:
                r = np.where(mask, p.table[0].take(idx), p.table[1].take(idx))
            else:
                r = p.table[0 if lay is not None and lay.bulk else 1].take(idx)
            outputs[0][...] = r.reshape(p.out_shape)
            return
        u1 = np.broadcast_to(inputs[0].astype(np.int64) + p.in1_offset, p.out_shape).reshape(-1)
        u2 = np.broadcast_to(inputs[1].astype(np.int64) + p.in2_offset, p.out_shape).reshape(-1)
        r = _mul_raw(p, u1, u2)
        r = _offset_and_narrow(r, p.out_offset, p.layout)
        np.clip(r, p.act_min, p.act_max, out=r)
        outputs[0][...] = r.reshape(p.out_shape)


# --------------------------------------------------------------------------------------
# MAXIMUM / MINIMUM: a comparison of the stored integers
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaxMinParams:
    out_shape: tuple[int, ...]
    fn: object  # np.maximum or np.minimum


@register("MAXIMUM", "MINIMUM", priority=INT8)
class QuantizedMaxMin(Kernel):
    """int8/uint8/int16 MAXIMUM and MINIMUM on the stored values (LiteRT ``maximum_minimum.cc``)."""

    def accepts(self, ctx: OpContext) -> bool:
        return _binary_accepts(ctx)

    def prepare(self, ctx: OpContext) -> MaxMinParams:
        shape = broadcast_shape(ctx, ctx.input(0).shape, ctx.input(1).shape)
        ctx.set_output_shape(0, shape)
        return MaxMinParams(shape, np.maximum if ctx.op_name == "MAXIMUM" else np.minimum)

    def eval(self, p: MaxMinParams, inputs, outputs) -> None:
        p.fn(inputs[0], inputs[1], out=outputs[0])
