"""Helpers shared by the kernel modules: fused activations, broadcasting, axes, dtypes.

Other kernel modules may import from here; only the float-kernel owner edits it.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.common import activation_range, broadcast_shapes
    >>> activation_range(3)            # RELU6
    (0.0, 6.0)
    >>> broadcast_shapes((2, 1, 3), (4, 1))
    (2, 4, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.errors import ShapeError, UnsupportedOperatorError

# ActivationFunctionType codes and the float clamp range of a fused activation: one
# definition, in the compute layer (conv_geometry), shared by every kernel.
from edgelite.interpreter.compute import float_gemm
from edgelite.interpreter.compute.conv_geometry import (
    ACT_NONE,
    ACT_RELU,
    ACT_RELU6,
    ACT_RELU_N1_TO_1,
    Window2D,
    activation_range,
)
from edgelite.interpreter.kernels.base import INT8, INT16, UINT8, Kernel, OpContext, TensorInfo

_FUSABLE = (ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6)

FLOAT_TYPES = (np.dtype(np.float32),)
INT_TYPES = (np.dtype(np.int32), np.dtype(np.int64))


def option(ctx_or_options: Any, name: str, default: Any) -> Any:
    """Field ``name`` of the operator's options, or the schema default when absent.

    Accepts an ``OpContext`` or an options object (``None`` gives ``default``).
    """
    opts = ctx_or_options.options if isinstance(ctx_or_options, OpContext) else ctx_or_options
    if opts is None:
        return default
    value = getattr(opts, name, None)
    return default if value is None else value


def fully_connected_rows(ctx: OpContext, x: TensorInfo, w: TensorInfo) -> tuple[int, int, int]:
    """``(m, n, k)`` of an integer or hybrid FULLY_CONNECTED: ``m`` input rows of depth
    ``k`` times ``(n, k)`` weights; sets the output shape (``keep_num_dims`` kept).

    Raises:
        UnsupportedOperatorError: shuffled weights.
        ShapeError: weights not 2-D, or an input that does not split into rows of ``k``.
    """
    o = ctx.options
    if o is not None and getattr(o, "weightsFormat", 0) != 0:
        raise UnsupportedOperatorError(
            f"{ctx.op_name} (operator {ctx.op_index}): shuffled weights format is not supported",
            [(ctx.op_name, str(ctx.op_index))],
        )
    if w.shape is None or len(w.shape) != 2 or x.shape is None:
        raise ctx.fail("weights must be 2-D (units, depth)")
    n, k = w.shape
    total = int(np.prod(x.shape, dtype=np.int64))
    if k == 0 or total % k != 0:
        raise ctx.fail(f"input of {total} values cannot be split into rows of {k}")
    keep = bool(getattr(o, "keepNumDims", False)) if o is not None else False
    if keep:
        if x.shape[-1] != k:
            raise ctx.fail(f"keep_num_dims needs the input's last dimension ({x.shape[-1]}) to equal depth {k}")
        ctx.set_output_shape(0, tuple(x.shape[:-1]) + (n,))
    else:
        ctx.set_output_shape(0, (total // k, n))
    return total // k, n, k


def conv_window(ctx: OpContext, h: int, w: int, kh: int, kw: int) -> tuple[Window2D, int]:
    """The window of a CONV_2D / DEPTHWISE_CONV_2D over an ``h x w`` input (padding,
    strides and dilations from its options) and its fused activation code.

    Raises:
        ShapeError: the (dilated) filter does not fit the input.
    """
    o = ctx.options
    padding = o.padding if o is not None else 0
    sh, sw = (o.strideH, o.strideW) if o is not None else (1, 1)
    dh, dw = (o.dilationHFactor, o.dilationWFactor) if o is not None else (1, 1)
    act = o.fusedActivationFunction if o is not None else 0
    win = Window2D.build(h, w, kh, kw, sh, sw, dh, dw, padding)
    if win.out_h <= 0 or win.out_w <= 0:
        raise ctx.fail(f"filter {kh}x{kw} does not fit input {h}x{w}")
    return win, act


def conv2d_window(ctx: OpContext, kind: str) -> tuple[Window2D, int, int, int, int]:
    """``(window, activation code, batch, input channels, output channels)`` of an integer
    or hybrid (``kind``, named in errors) CONV_2D: a 4-D NHWC input and OHWI filter with
    the input's channels; sets the output shape.

    Raises:
        ShapeError: not 4-D, or the filter does not fit the input.
        UnsupportedOperatorError: a grouped convolution.
    """
    x, w = ctx.input(0), ctx.input(1)
    if x.shape is None or len(x.shape) != 4 or w.shape is None or len(w.shape) != 4:
        raise ctx.fail("input and filter must be 4-D (NHWC, OHWI)")
    b, h, wd, c = x.shape
    n, kh, kw, fc = w.shape
    if fc != c:
        raise UnsupportedOperatorError(
            f"{ctx.op_name} (operator {ctx.op_index}): grouped {kind} convolution (input channels {c}, "
            f"filter channels {fc}) is not supported",
            [(ctx.op_name, str(ctx.op_index))],
        )
    win, act = conv_window(ctx, h, wd, kh, kw)
    ctx.set_output_shape(0, (b, win.out_h, win.out_w, n))
    return win, act, b, c, n


def fused_activation(ctx: OpContext) -> tuple[float, float]:
    """``activation_range`` of ``ctx.options.fusedActivationFunction`` with the op named on error."""
    code = int(option(ctx, "fusedActivationFunction", ACT_NONE))
    if code not in _FUSABLE:
        raise ctx.fail(f"fused activation {code} is not supported (NONE, RELU, RELU_N1_TO_1, RELU6)")
    return activation_range(code)


def apply_activation(out: np.ndarray, lo: float, hi: float) -> None:
    """Clamp ``out`` in place to ``[lo, hi]``; a no-op for ``NONE``.

    Integer outputs are clamped with the bounds rounded into the dtype's range.
    """
    if lo == -np.inf and hi == np.inf:
        return
    if out.dtype.kind in "iu":
        info = np.iinfo(out.dtype)
        lo = info.min if lo == -np.inf else max(info.min, int(lo))
        hi = info.max if hi == np.inf else min(info.max, int(hi))
        np.clip(out, lo, hi, out=out)
        return
    float_gemm.clamp_inplace(out, lo, hi)  # -0.0 and NaN as LiteRT keeps them, on every CPU


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """Numpy broadcasting of shapes; raises ``ShapeError`` when they do not broadcast."""
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise ShapeError(f"shapes {[tuple(s) for s in shapes]} do not broadcast") from None


def broadcast_output(ctx: OpContext, *inputs: int, max_rank: int = 6) -> tuple[int, ...]:
    """Broadcast shape of the given inputs, with the operator named in errors."""
    shapes = [ctx.input(i).shape for i in inputs]
    try:
        out = broadcast_shapes(*shapes)
    except ShapeError:
        raise ctx.fail(f"input shapes {shapes} do not broadcast") from None
    if len(out) > max_rank:
        raise ctx.fail(f"broadcasting supports at most {max_rank} dimensions, got {len(out)}")
    return out


def normalize_axis(axis: int, rank: int, where: str = "", allow_end: bool = False) -> int:
    """``axis`` in ``[-rank, rank)`` (``[-rank-1, rank]`` with ``allow_end``) made non-negative."""
    size = rank + 1 if allow_end else rank
    a = int(axis)
    if not -size <= a < size:
        raise ShapeError(f"{where}axis {a} is out of range for rank {rank}")
    return a + size if a < 0 else a


def same_quant(a: TensorInfo | None, b: TensorInfo | None) -> bool:
    """Both unquantized, or both quantized with identical scales and zero points."""
    qa = a.quant if a is not None else None
    qb = b.quant if b is not None else None
    if qa is None or qb is None:
        return qa is None and qb is None
    return (
        qa.scale.shape == qb.scale.shape
        and np.array_equal(qa.scale, qb.scale)
        and np.array_equal(qa.zero_point, qb.zero_point)
    )


def is_quantized(t: TensorInfo | None) -> bool:
    return t is not None and t.quant is not None and t.quant.scale.size > 0


def is_float32(t: TensorInfo | None) -> bool:
    return t is not None and t.dtype == np.float32


def input_values(ctx: OpContext, i: int) -> np.ndarray | None:
    """Constant data of input ``i`` (``None`` when it is computed at run time)."""
    t = ctx.optional_input(i)
    return None if t is None else t.data


def movement_accepts(
    ctx: OpContext, data_inputs: Sequence[int] = (0,), outputs: Sequence[int] | None = None, strings: bool = False
) -> bool:
    """Pure data-movement kernels: the data inputs and outputs share one dtype, and,
    when quantized, one scale and zero point (else a requantizing kernel must run).
    ``strings`` also admits STRING tensors (numpy object arrays)."""
    outs = range(len(ctx.outputs)) if outputs is None else outputs
    tensors = [ctx.optional_input(i) for i in data_inputs] + [ctx.outputs[o] for o in outs]
    tensors = [t for t in tensors if t is not None]
    if not tensors:
        return False
    first = tensors[0]
    if first.dtype.kind not in ("biufcO" if strings else "biufc"):  # complex: RFFT2D's outputs move too
        return False
    return all(t.dtype == first.dtype and same_quant(first, t) for t in tensors[1:])


def output_zero(t: TensorInfo) -> Any:
    """The stored value of real 0 in ``t``: its zero point when quantized, else 0."""
    if is_quantized(t):
        return int(t.quant.zero_point[0])
    return 0


# -- kernels whose output shapes depend on input *values* ---------------------------


@dataclass(frozen=True)
class Static:
    """What a value-dependent kernel knows before the values: options, dtypes, names."""

    where: str
    options: Any
    in_dtypes: tuple
    out_dtypes: tuple
    extra: Any = None

    def fail(self, message: str) -> ShapeError:
        return ShapeError(f"{self.where}: {message}")


@dataclass(frozen=True)
class _Dynamic:
    static: Static


@dataclass(frozen=True)
class _Planned:
    plan: Any


class ValueShapedKernel(Kernel):
    """Base of kernels whose output shapes depend on the values of some inputs
    (RESHAPE's shape, PAD's paddings, MEAN's axes...).

    Subclasses list those inputs in ``value_inputs`` and implement ``plan(static,
    shapes, values) -> (plan, out_shapes)`` and ``run(plan, inputs, outputs)``. When the
    value inputs are constant, the plan is made once in ``prepare``; otherwise every
    output is marked dynamic and the plan is made from the run-time values in ``eval``.
    """

    value_inputs: ClassVar[tuple[int, ...]] = ()

    def static(self, ctx: OpContext) -> Static:
        return Static(
            where=f"{ctx.op_name} (operator {ctx.op_index}, version {ctx.version})",
            options=ctx.options,
            in_dtypes=tuple(None if t is None else t.dtype for t in ctx.inputs),
            out_dtypes=tuple(t.dtype for t in ctx.outputs),
            extra=self.static_extra(ctx),
        )

    def static_extra(self, ctx: OpContext) -> Any:
        """Anything more ``plan`` needs (an output zero point...)."""
        return None

    def plan(self, static: Static, shapes: list, values: dict) -> tuple[Any, list]:
        raise NotImplementedError

    def run(self, plan: Any, inputs: list, outputs: list) -> None:
        raise NotImplementedError

    def prepare(self, ctx: OpContext):
        st = self.static(ctx)
        values = {}
        for i in self.value_inputs:
            t = ctx.optional_input(i)
            if t is None:
                continue
            if t.data is None:
                for k in range(len(ctx.outputs)):
                    ctx.set_output_dynamic(k)
                return _Dynamic(st)
            values[i] = np.asarray(t.data)
        shapes = [None if t is None else t.shape for t in ctx.inputs]
        plan, out_shapes = self.plan(st, shapes, values)
        for k, s in enumerate(out_shapes):
            ctx.set_output_shape(k, s)
        return _Planned(plan)

    def eval(self, params, inputs, outputs):
        if isinstance(params, _Planned):
            self.run(params.plan, inputs, outputs)
            return None
        st = params.static
        shapes = [None if x is None else tuple(x.shape) for x in inputs]
        values = {i: np.asarray(inputs[i]) for i in self.value_inputs if i < len(inputs) and inputs[i] is not None}
        plan, out_shapes = self.plan(st, shapes, values)
        outs = [np.empty(s, dtype=d) for s, d in zip(out_shapes, st.out_dtypes)]
        self.run(plan, inputs, outs)
        return dict(enumerate(outs))


# (input and output dtype, weight dtype) of a quantized kernel, by the priority it
# registers at: int8, uint8 (TF1-era asymmetric weights), 16x8.
QUANT_FLAVOURS = {
    INT8: (np.dtype(np.int8), np.dtype(np.int8)),
    UINT8: (np.dtype(np.uint8), np.dtype(np.uint8)),
    INT16: (np.dtype(np.int16), np.dtype(np.int8)),
}


class QuantizedWeightsKernel(Kernel):
    """Base of the quantized kernels shaped ``(input, weights, ...) -> output``.

    The flavour follows from the priority a subclass registers at (``QUANT_FLAVOURS``):
    the kernel takes the operator when input, weights and output carry quantization
    parameters and have that flavour's types.
    """

    @property
    def in_dtype(self) -> np.dtype:
        return QUANT_FLAVOURS[self.priority][0]

    @property
    def w_dtype(self) -> np.dtype:
        return QUANT_FLAVOURS[self.priority][1]

    def accepts(self, ctx: OpContext) -> bool:
        if len(ctx.inputs) < 2 or ctx.inputs[0] is None or ctx.inputs[1] is None:
            return False
        x, w, out = ctx.inputs[0], ctx.inputs[1], ctx.outputs[0]
        return (
            np.dtype(x.dtype) == self.in_dtype
            and np.dtype(w.dtype) == self.w_dtype
            and np.dtype(out.dtype) == self.in_dtype
            and x.quant is not None and w.quant is not None and out.quant is not None
        )


@dataclass(frozen=True)
class RequantParams:
    """The requantization fields every quantized conv/FC kernel's params carry (its
    params dataclass extends this one)."""

    in_zp: int
    out_zp: int
    act_min: int
    act_max: int
    multiplier: np.ndarray  # (N,) int32
    shift: np.ndarray  # (N,) int32
    mode: int  # fixedpoint.ROUND_* or int_gemm.MODE_WIDE
    out_dtype: np.dtype


@dataclass(frozen=True)
class QuantOperands:
    """What every quantized ``(input, weights, bias) -> output`` kernel reads first in
    ``prepare`` (``quant_operands``)."""

    legacy: bool  # uint8 activations and asymmetric uint8 weights
    wide: bool  # int16 activations (16x8)
    in_zp: int
    w_zp: int  # 0 but for uint8
    out_zp: int
    multiplier: np.ndarray  # (n,) int32, from in_scale * w_scale[n] / out_scale
    shift: np.ndarray  # (n,) int32
    act_min: int
    act_max: int
    bias: np.ndarray | None  # (n,) int64, None when the op has none


def require_constant_weights(ctx: OpContext, w: TensorInfo, what: str = "filters") -> None:
    """Raise ``UnsupportedOperatorError`` unless the quantized weights are a constant."""
    if not w.is_constant:
        raise UnsupportedOperatorError(f"{ctx.op_name}: non-constant quantized {what} are not supported",
                                       [(ctx.op_name, str(ctx.op_index))])


def int32_bias_16x8(ctx: OpContext, bias_t: TensorInfo | None) -> tuple[bool, bool]:
    """``(the bias is int32, the options declare quantized_bias_type=INT32)`` of a 16x8
    conv-family operator (LiteRT reads its bias as int64 unless the options say INT32).

    Raises:
        UnsupportedOperatorError: an int32 bias the options do not declare.
    """
    o = ctx.options
    declared = (getattr(o, "quantizedBiasType", 0) if o is not None else 0) == 2
    bias_int32 = bias_t is not None and np.dtype(bias_t.dtype) == np.dtype(np.int32)
    if bias_int32 and not declared:
        raise UnsupportedOperatorError(
            f"{ctx.op_name} (operator {ctx.op_index}): int32 bias on a 16x8 operator needs "
            "quantized_bias_type=INT32 in its options (LiteRT would read it as int64)",
            [(ctx.op_name, str(ctx.op_index))],
        )
    return bias_int32, declared


def quant_operands(ctx: OpContext, n: int, act: int, what: str = "output channels") -> QuantOperands:
    """Zero points, the ``n`` per-channel multipliers, the integer activation range and
    the int64 bias (input 2) of a quantized kernel with input 0, weights 1 and ``n``
    output channels (``what`` names them in errors).

    Raises:
        ShapeError: the bias does not have ``n`` values.
    """
    # compute-layer modules that build Numba functions: imported on first use, so the
    # light kernels that import this module do not pay for them
    from edgelite.interpreter.compute import fixedpoint as fp
    from edgelite.interpreter.compute import int_gemm

    x, w, out = ctx.input(0), ctx.input(1), ctx.outputs[0]
    bias_t = ctx.optional_input(2)
    in_dtype = np.dtype(x.dtype)
    legacy = in_dtype == np.dtype(np.uint8)
    q, s = int_gemm.per_channel_multipliers(x.quant.scalar_scale, w.quant.scale, out.quant.scalar_scale, n, legacy=legacy)
    out_zp = out.quant.scalar_zero_point
    lo, hi = fp.quantized_activation_range(act, out.quant.scalar_scale, out_zp, out.dtype)
    bias = None if bias_t is None else np.asarray(bias_t.data).reshape(-1).astype(np.int64)
    if bias is not None and bias.size != n:
        raise ctx.fail(f"bias has {bias.size} values for {n} {what}")
    return QuantOperands(
        legacy=legacy, wide=in_dtype == np.dtype(np.int16), in_zp=x.quant.scalar_zero_point,
        w_zp=int(w.quant.zero_point[0]) if legacy else 0, out_zp=out_zp, multiplier=q, shift=s,
        act_min=lo, act_max=hi, bias=bias,
    )


class LastAxisFloatKernel(Kernel):
    """Base of the float32 kernels that normalise over the last axis (same shape out)."""

    min_rank = 1

    def accepts(self, ctx: OpContext) -> bool:
        x, o = ctx.optional_input(0), ctx.outputs[0]
        return x is not None and x.dtype == np.float32 and o.dtype == np.float32 and not (is_quantized(x) or is_quantized(o))

    def prepare(self, ctx: OpContext):
        shape = ctx.input(0).shape
        if len(shape) < self.min_rank:
            raise ctx.fail(f"input must have rank >= {self.min_rank}, got shape {shape}")
        ctx.set_output_shape(0, shape)
