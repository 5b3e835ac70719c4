"""Quantized TRANSPOSE_CONV: int8 (per-channel weights on dim 0, int32 bias), 16x8
(int16 activations, int8 weights, int64 or int32 bias) and the hybrid form (float32
activations, int8 weights, float32 bias).

Inputs (TFLite order): ``output_shape`` int32 ``[4]``, filter OHWI, input NHWC,
optional bias. Every input pixel scatters into a window of the output (see the float
kernel ``transpose_conv``)::

    acc[b, iy*sh - ph + ky, ix*sw - pw + kx, o] += (x[b, iy, ix, c] - in_zp) * w[o, ky, kx, c]
    out = clamp(MultiplyByQuantizedMultiplier(acc + bias[o], q[o], shift[o]) + out_zp, act range)

``q, shift`` come from ``in_scale * w_scale[o] / out_scale``. Rounding forms, measured
against LiteRT 2.3 (tests pin them): int8 and the int32-bias 16x8 path go through the
optimized kernel's ``Quantize``, whose vector loop over blocks of 8 channels rounds
as ``fixedpoint.ROUND_DOUBLE_UP`` and whose remaining channels use gemmlowp's double
rounding; the int64-bias 16x8 path goes through the reference kernel's int64 multiplier.

The hybrid form quantizes each batch of the input asymmetrically on the fly
(``hybrid_common``), accumulates ``w * (q - zp)`` exactly and writes
``float32(acc) * (s[b] * w_scale[o]) + bias[o]`` with the fused float activation.

The integer GEMM runs on float32 BLAS (exact: raw int8 operands, chunked depth, the
zero-point term folded per column), the col2im scatter with numpy strided adds.

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> [type(k).__name__ for k in kernels_for("TRANSPOSE_CONV")][:3]
    ['TransposeConvQuant', 'TransposeConvQuant16x8', 'TransposeConvHybrid']
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute import dynamic_range as hc
from edgelite.interpreter.compute import int_gemm
from edgelite.interpreter.kernels.base import HYBRID, INT16, INT8, Kernel, OpContext, register
from edgelite.interpreter.compute.conv_geometry import Window2D, activation_range
from edgelite.interpreter.kernels.common import QUANT_FLAVOURS, int32_bias_16x8, require_constant_weights
from edgelite.interpreter.kernels.conv.transpose_conv_float import transpose_conv_operands
from edgelite.interpreter.kernels.matmul.fully_connected_hybrid import hybrid_scales_and_bias

_INT8, _INT16, _INT32, _INT64, _F32 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.float32))


@dataclass(frozen=True)
class TransposeConvQuantParams:
    # Over the output (the forward conv's input): kernel, strides, padding (pad_h, pad_w).
    # Unsized (win.is_sized False) while the output shape is dynamic; sized at eval then.
    win: Window2D
    out_shape: tuple[int, ...] | None  # None: read from the output_shape input at eval
    cout: int
    w_gemm: np.ndarray  # (Cin, KH*KW*Cout) float32 raw int8 weights, columns (ky, kx, o)
    w_colsum: np.ndarray  # (KH*KW*Cout,) int64: sum over Cin of each column
    chunk: int
    in_zp: int
    # integer output (unused by the hybrid kernel)
    bias_i: np.ndarray | None  # (Cout,) int64
    multiplier: np.ndarray | None
    shift: np.ndarray | None
    mode: int
    out_zp: int
    act_min: int
    act_max: int
    out_dtype: np.dtype
    # hybrid
    w_scale: np.ndarray | None  # (Cout,) float32
    bias_f: np.ndarray | None  # (Cout,) float32
    lo: float
    hi: float


def _geometry(out_shape, win: Window2D) -> Window2D:
    """``win`` over an ``out_shape`` output (NHWC); the one built in prepare when it fits."""
    oh, ow = int(out_shape[1]), int(out_shape[2])
    return win if (win.in_h, win.in_w) == (oh, ow) else win.sized(oh, ow)


def col2im_sum(col: np.ndarray, out_shape, kh: int, kw: int, sh: int, sw: int, pad_h: int, pad_w: int) -> np.ndarray:
    """Scatter-add the per-pixel windows ``col (N, H, W, KH, KW, Cout)`` into ``(N, OH, OW, Cout)`` int64."""
    n, h, w = col.shape[:3]
    oh, ow, cout = int(out_shape[1]), int(out_shape[2]), int(out_shape[3])
    big_h = max(oh + pad_h, (h - 1) * sh + kh)
    big_w = max(ow + pad_w, (w - 1) * sw + kw)
    acc = np.zeros((n, big_h, big_w, cout), np.int64)
    for ky in range(kh):
        for kx in range(kw):
            acc[:, ky : ky + (h - 1) * sh + 1 : sh, kx : kx + (w - 1) * sw + 1 : sw, :] += col[:, :, :, ky, kx, :]
    return acc[:, pad_h : pad_h + oh, pad_w : pad_w + ow, :]


def _prepare_common(ctx: OpContext, hybrid: bool) -> dict:
    shape_t, f, x, o = transpose_conv_operands(ctx)
    require_constant_weights(ctx, f)
    cout, kh, kw, cin = f.shape
    out_shape = None
    if shape_t.data is None:
        ctx.set_output_dynamic(0)
    else:
        out_shape = tuple(int(v) for v in np.asarray(shape_t.data).reshape(-1))
        if len(out_shape) != 4 or out_shape[0] != x.shape[0] or out_shape[3] != cout:
            raise ctx.fail(f"output_shape {out_shape} must be [N={x.shape[0]}, H, W, Cout={cout}]")
        ctx.set_output_shape(0, out_shape)
    win = Window2D.unsized(kh, kw, o.strideH, o.strideW, 1, 1, o.padding)
    if out_shape is not None:
        win = win.sized(out_shape[1], out_shape[2])
    w = np.asarray(f.data, np.int8)
    packed = w.transpose(3, 1, 2, 0).reshape(cin, kh * kw * cout)
    return dict(
        win=win, out_shape=out_shape, cout=cout,
        w_gemm=np.ascontiguousarray(packed.astype(np.float32)), w_colsum=packed.astype(np.int64).sum(axis=0),
        chunk=int_gemm.chunk_for(128, 128),
    )


def transpose_conv_acc(p: TransposeConvQuantParams, x: np.ndarray, in_zp, out_shape) -> np.ndarray:
    """int64 ``(N, OH, OW, Cout)`` sums of ``w * (x - in_zp)``; ``in_zp`` scalar or per batch."""
    n, h, w, cin = x.shape
    raw = int_gemm.matmul_f32_chunked(x.reshape(-1, cin).astype(np.float32), p.w_gemm, p.chunk)
    col = np.asarray(raw).astype(np.int64).reshape(n, h * w, -1)
    zp = np.asarray(in_zp, np.int64).reshape(-1, 1, 1)
    col -= zp * p.w_colsum[None, None, :]
    g = _geometry(out_shape, p.win)
    col = col.reshape(n, h, w, g.kh, g.kw, p.cout)
    return col2im_sum(col, out_shape, g.kh, g.kw, g.sh, g.sw, g.pad_h, g.pad_w)


class _TransposeConvBase(Kernel):
    def _out(self, p: TransposeConvQuantParams, inputs, outputs, dtype):
        if p.out_shape is not None:
            return p.out_shape, outputs[0], None
        shape = tuple(int(v) for v in np.asarray(inputs[0]).reshape(-1))
        out = np.empty(shape, dtype)
        return shape, out, {0: out}


class _TransposeConvIntBase(_TransposeConvBase):
    @property
    def in_dtype(self) -> np.dtype:
        return QUANT_FLAVOURS[self.priority][0]  # int8 or int16, by the registered priority

    def accepts(self, ctx: OpContext) -> bool:
        f, x = ctx.optional_input(1), ctx.optional_input(2)
        if f is None or x is None:
            return False
        return (
            np.dtype(x.dtype) == self.in_dtype and np.dtype(f.dtype) == _INT8
            and np.dtype(ctx.outputs[0].dtype) == self.in_dtype
            and x.quant is not None and f.quant is not None and ctx.outputs[0].quant is not None
        )

    def prepare(self, ctx: OpContext) -> TransposeConvQuantParams:
        c = _prepare_common(ctx, hybrid=False)
        x, f, out = ctx.input(2), ctx.input(1), ctx.outputs[0]
        cout = c["cout"]
        bias_t = ctx.optional_input(3)
        bias = None if bias_t is None else np.asarray(bias_t.data).reshape(-1).astype(np.int64)
        if bias_t is not None and (bias_t.data is None or bias.size != cout):
            raise ctx.fail(f"bias must be a constant of {cout} values")
        q, s = int_gemm.per_channel_multipliers(x.quant.scalar_scale, f.quant.scale, out.quant.scalar_scale, cout)
        o = ctx.options
        out_zp = out.quant.scalar_zero_point
        lo, hi = fp.quantized_activation_range(o.fusedActivationFunction, out.quant.scalar_scale, out_zp, out.dtype)
        mode = fp.default_mode()
        if self.in_dtype == _INT16:
            bias_int32, declared_int32 = int32_bias_16x8(ctx, bias_t)
            if not (bias_int32 or (bias_t is None and declared_int32)):
                mode = int_gemm.MODE_WIDE
        return TransposeConvQuantParams(
            **c, in_zp=x.quant.scalar_zero_point, bias_i=bias, multiplier=q, shift=s, mode=mode, out_zp=out_zp,
            act_min=lo, act_max=hi, out_dtype=np.dtype(out.dtype), w_scale=None, bias_f=None, lo=0.0, hi=0.0,
        )

    def eval(self, p: TransposeConvQuantParams, inputs, outputs):
        out_shape, out, ret = self._out(p, inputs, outputs, p.out_dtype)
        acc = transpose_conv_acc(p, inputs[2], p.in_zp, out_shape)
        if p.mode == int_gemm.MODE_WIDE:
            out[...] = int_gemm.requantize_reference(
                acc, p.bias_i, p.multiplier, p.shift, 0, p.out_zp, p.act_min, p.act_max, p.out_dtype, wide=True
            )
            return ret
        acc = hc.int_gemm_wrap32(acc if p.bias_i is None else acc + p.bias_i)
        # LiteRT's Quantize: a vector loop on blocks of 8 channels (measured: rounding
        # high multiply, then ties toward +inf), scalar gemmlowp rounding on the rest.
        split = (p.cout // 8) * 8 if p.mode == fp.ROUND_DOUBLE else 0
        for c0, c1, mode in ((0, split, fp.ROUND_DOUBLE_UP), (split, p.cout, p.mode)):
            if c1 > c0:
                out[..., c0:c1] = int_gemm.requantize_reference(
                    acc[..., c0:c1], None, p.multiplier[c0:c1], p.shift[c0:c1], mode, p.out_zp,
                    p.act_min, p.act_max, p.out_dtype,
                )
        return ret


@register("TRANSPOSE_CONV", priority=INT8)
class TransposeConvQuant(_TransposeConvIntBase):
    """int8 activations, int8 weights (per-tensor or per-channel on dim 0), int32 bias."""


@register("TRANSPOSE_CONV", priority=INT16)
class TransposeConvQuant16x8(_TransposeConvIntBase):
    """int16 activations (zero point 0), int8 weights, int64 bias (or int32 with quantized_bias_type)."""


@register("TRANSPOSE_CONV", priority=HYBRID)
class TransposeConvHybrid(_TransposeConvBase):
    """float32 activations, int8 weights (dynamic-range model), float32 bias."""

    def accepts(self, ctx: OpContext) -> bool:
        f, x = ctx.optional_input(1), ctx.optional_input(2)
        b = ctx.optional_input(3)
        return (
            f is not None and x is not None and np.dtype(x.dtype) == _F32 and np.dtype(f.dtype) == _INT8
            and f.quant is not None and np.dtype(ctx.outputs[0].dtype) == _F32
            and (b is None or np.dtype(b.dtype) == _F32)
        )

    def prepare(self, ctx: OpContext) -> TransposeConvQuantParams:
        c = _prepare_common(ctx, hybrid=True)
        cout = c["cout"]
        scales, _, bias = hybrid_scales_and_bias(ctx, ctx.input(1), cout, "filter", bias_index=3)
        lo, hi = activation_range(ctx.options.fusedActivationFunction, ctx.op_name, strict=False)
        return TransposeConvQuantParams(
            **c, in_zp=0, bias_i=None, multiplier=None, shift=None, mode=0, out_zp=0, act_min=0, act_max=0,
            out_dtype=_F32, w_scale=scales, bias_f=bias, lo=float(lo), hi=float(hi),
        )

    def eval(self, p: TransposeConvQuantParams, inputs, outputs):
        out_shape, out, ret = self._out(p, inputs, outputs, np.float32)
        x = inputs[2]
        n = x.shape[0]
        q, s, zp = hc.quantize_rows_asymmetric(x.reshape(n, -1))
        acc = hc.int_gemm_wrap32(transpose_conv_acc(p, q.reshape(x.shape), zp, out_shape))
        scale = (s[:, None].astype(np.float32) * p.w_scale[None, :]).astype(np.float32)  # (N, Cout)
        res = (acc.astype(np.float32) * scale[:, None, None, :]).astype(np.float32)
        if p.bias_f is not None:
            res += p.bias_f
        if p.lo != -np.inf or p.hi != np.inf:
            np.clip(res, p.lo, p.hi, out=res)
        out[...] = res
        return ret
