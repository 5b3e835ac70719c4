"""Float32 TRANSPOSE_CONV.

Inputs (TFLite order): ``output_shape`` int32 ``[4]``, filter OHWI ``[Cout, KH, KW, Cin]``,
input NHWC ``[N, H, W, Cin]``, optional bias ``[Cout]`` (version 3+). Every input pixel
scatters its contribution into a window of the output (``reference_ops::TransposeConv``)::

    out[b, iy*sh - ph + ky, ix*sw - pw + kx, o] += x[b, iy, ix, c] * w[o, ky, kx, c]

(contributions falling outside the output are dropped), then ``bias`` and the fused
activation. The padding is the one of the forward convolution this op transposes:
``compute_padding(stride, 1, out_size, filter, conv_output_size(out_size, ...))``.

``prepare`` packs the filter as ``[Cin, KH*KW*Cout]``: one GEMM then gives every input
pixel's whole output window (``col``), and a col2im pass adds the windows into the
output. ``eval`` does the col2im with numpy strided adds, ``eval_jit`` with a Numba
loop (the GEMM writes into a scratch buffer allocated in ``prepare``).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.conv.transpose_conv_float import TransposeConvFloat
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.schema.fb.TransposeConvOptions import TransposeConvOptionsT
    >>> o = TransposeConvOptionsT(); o.strideW = o.strideH = 2; o.padding = 1   # VALID
    >>> f32 = np.dtype(np.float32); i32 = np.dtype(np.int32)
    >>> shape = np.array([1, 4, 4, 1], np.int32); w = np.ones((1, 2, 2, 1), np.float32)
    >>> ctx = OpContext("TRANSPOSE_CONV", 0, 1, o, None, None,
    ...     [TensorInfo(0, "s", (4,), i32, 2, data=shape), TensorInfo(1, "w", w.shape, f32, 0, data=w),
    ...      TensorInfo(2, "x", (1, 2, 2, 1), f32, 0)], [TensorInfo(3, "y", None, f32, 0)])
    >>> k = TransposeConvFloat(); p = k.prepare(ctx); ctx.output_shapes[0]
    (1, 4, 4, 1)
    >>> x = np.array([1, 2, 3, 4], np.float32).reshape(1, 2, 2, 1); out = np.empty((1, 4, 4, 1), np.float32)
    >>> k.eval(p, [shape, w, x], [out]); out[0, :, :, 0].tolist()[0]   # each pixel fills a 2x2 block
    [1.0, 1.0, 2.0, 2.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import float_gemm
from edgelite.interpreter.kernels.base import Kernel, OpContext, TensorInfo, register
from edgelite.interpreter.kernels.conv.conv_float import bias_vector, strided_options
from edgelite.interpreter.compute.conv_geometry import Window2D, activation_range
from edgelite.interpreter.compute.jit import njit

F32 = np.dtype(np.float32)


@dataclass(frozen=True)
class TransposeConvParams:
    # Over the output (the forward conv's input): kernel, strides, padding (pad_h, pad_w).
    # Unsized (win.is_sized False) while the output shape is dynamic; sized in eval then.
    win: Window2D
    w: np.ndarray | None  # [Cin, KH*KW*Cout]; None: packed in eval from the input
    bias: np.ndarray  # [Cout], zeros when omitted
    has_bias: bool
    lo: np.float32
    hi: np.float32
    col: np.ndarray  # GEMM result scratch [N*H*W, KH*KW*Cout] (empty when the output is dynamic)


def pack_transpose_filter(w: np.ndarray) -> np.ndarray:
    """OHWI ``[Cout, KH, KW, Cin]`` -> ``[Cin, KH*KW*Cout]`` (columns ordered ky, kx, o)."""
    return np.ascontiguousarray(w.transpose(3, 1, 2, 0).reshape(w.shape[3], -1), np.float32)


def _geometry(out_shape, win: Window2D) -> Window2D:
    """``win`` over an ``out_shape`` output (NHWC): padding as the forward conv's."""
    return win.sized(int(out_shape[1]), int(out_shape[2]))


@njit
def _col2im_bias_act(col, bias, lo, hi, out, h, w, kh, kw, sh, sw, pad_h, pad_w):
    """out = clamp(scatter-add of col windows + bias, lo, hi), in LiteRT's order.

    col [N*H*W, KH*KW*Cout]: row (b, iy, ix) holds x[b, iy, ix, :] @ w for every tap;
    tap (ky, kx) lands on out[b, iy*sh - pad_h + ky, ix*sw - pad_w + kx, :]. As
    LiteRT's ``Col2im``: the output starts at zero, input pixels add their windows in
    row-major order, the bias comes last (``eval`` adds in the same order: bit-identical).
    """
    nb, oh, ow, cout = out.shape
    for b in range(nb):
        for oy in range(oh):
            for ox in range(ow):
                for o in range(cout):
                    out[b, oy, ox, o] = 0.0
        for iy in range(h):
            for ix in range(w):
                row = col[(b * h + iy) * w + ix]
                for ky in range(kh):
                    oy = iy * sh - pad_h + ky
                    if oy < 0 or oy >= oh:
                        continue
                    for kx in range(kw):
                        ox = ix * sw - pad_w + kx
                        if ox < 0 or ox >= ow:
                            continue
                        base = (ky * kw + kx) * cout
                        for o in range(cout):
                            out[b, oy, ox, o] += row[base + o]
        for oy in range(oh):
            for ox in range(ow):
                for o in range(cout):
                    out[b, oy, ox, o] = min(max(out[b, oy, ox, o] + bias[o], lo), hi)


def transpose_conv_operands(ctx: OpContext) -> tuple[TensorInfo, TensorInfo, TensorInfo, Any]:
    """``(output_shape, filter, input, options)`` of a TRANSPOSE_CONV, checked: strides
    >= 1, a 4-D filter (OHWI) and input (NHWC) with the same number of input channels."""
    shape_t, f, x = ctx.input(0), ctx.input(1), ctx.input(2)
    o = strided_options(ctx, "TransposeConvOptions")
    if f.shape is None or len(f.shape) != 4 or x.shape is None or len(x.shape) != 4:
        raise ctx.fail(f"filter {f.shape} (OHWI) and input {x.shape} (NHWC) must be 4-D")
    if x.shape[3] != f.shape[3]:
        raise ctx.fail(f"input has {x.shape[3]} channels, filter expects {f.shape[3]}")
    return shape_t, f, x, o


@register("TRANSPOSE_CONV")
class TransposeConvFloat(Kernel):
    """TRANSPOSE_CONV with float32 filter, input, bias and output."""

    def accepts(self, ctx: OpContext) -> bool:
        for i in (1, 2, 3):
            t = ctx.optional_input(i)
            if t is not None and t.dtype != F32:
                return False
        return all(o.dtype == F32 for o in ctx.outputs)

    def prepare(self, ctx: OpContext) -> TransposeConvParams:
        shape_t, f, x, o = transpose_conv_operands(ctx)
        cout, kh, kw, _ = f.shape
        lo, hi = activation_range(o.fusedActivationFunction, ctx.op_name, strict=False)
        w = None if f.data is None else pack_transpose_filter(f.data)
        bias = bias_vector(ctx, 3, cout)
        has_bias = ctx.optional_input(3) is not None
        win = Window2D.unsized(kh, kw, o.strideH, o.strideW, 1, 1, o.padding)
        if shape_t.data is None:
            # The output size is only known at eval: geometry is computed there too.
            ctx.set_output_dynamic(0)
            return TransposeConvParams(win, w, bias, has_bias,
                                       np.float32(lo), np.float32(hi), np.empty((0, 0), np.float32))
        out_shape = tuple(int(v) for v in np.asarray(shape_t.data).reshape(-1))
        if len(out_shape) != 4 or out_shape[0] != x.shape[0] or out_shape[3] != cout:
            raise ctx.fail(f"output_shape {out_shape} must be [N={x.shape[0]}, H, W, Cout={cout}]")
        ctx.set_output_shape(0, out_shape)
        win = _geometry(out_shape, win)
        col = np.empty((x.shape[0] * x.shape[1] * x.shape[2], kh * kw * cout), np.float32)
        return TransposeConvParams(win, w, bias, has_bias,
                                   np.float32(lo), np.float32(hi), col)

    def _resolve(self, p: TransposeConvParams, inputs, outputs):
        w = p.w if p.w is not None else pack_transpose_filter(inputs[1])
        if p.win.is_sized:
            return w, p.win, outputs[0], None
        out_shape = tuple(int(v) for v in np.asarray(inputs[0]).reshape(-1))
        out = np.empty(out_shape, np.float32)
        return w, _geometry(out_shape, p.win), out, {0: out}

    def eval(self, p: TransposeConvParams, inputs, outputs):
        w, g, out, ret = self._resolve(p, inputs, outputs)
        x = inputs[2]
        n, h, wd, cin = x.shape
        cout = out.shape[3]
        col = (x.reshape(-1, cin) @ w).reshape(n, h, wd, g.kh, g.kw, cout)
        # Accumulate into an output grown on every side so no window needs clipping.
        big_h = max(out.shape[1] + g.pad_h, (h - 1) * g.sh + g.kh)
        big_w = max(out.shape[2] + g.pad_w, (wd - 1) * g.sw + g.kw)
        acc = np.zeros((n, big_h, big_w, cout), np.float32)
        # Taps in reverse order: each output element then sums its contributions by
        # ascending input pixel, the order of LiteRT's Col2im and of eval_jit (bit-identical).
        for ky in reversed(range(g.kh)):
            for kx in reversed(range(g.kw)):
                acc[:, ky : ky + (h - 1) * g.sh + 1 : g.sh, kx : kx + (wd - 1) * g.sw + 1 : g.sw, :] += col[:, :, :, ky, kx, :]
        out[...] = acc[:, g.pad_h : g.pad_h + out.shape[1], g.pad_w : g.pad_w + out.shape[2], :]
        float_gemm.bias_act_inplace(out, p.bias if p.has_bias else None, float(p.lo), float(p.hi))
        return ret

    def eval_jit(self, p: TransposeConvParams, inputs, outputs):
        w, g, out, ret = self._resolve(p, inputs, outputs)
        x = inputs[2]
        n, h, wd, cin = x.shape
        col = p.col if p.col.shape[0] == n * h * wd else np.empty((n * h * wd, w.shape[1]), np.float32)
        np.matmul(x.reshape(-1, cin), w, out=col)
        _col2im_bias_act(col, p.bias, p.lo, p.hi, out, h, wd, g.kh, g.kw, g.sh, g.sw, g.pad_h, g.pad_w)
        return ret
