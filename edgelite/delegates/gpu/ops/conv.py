"""Convolutions: CONV_2D (grouped too), DEPTHWISE_CONV_2D, TRANSPOSE_CONV.

One thread per output element (NHWC), a direct loop over the window with bias and
the fused clamp applied on the write; padding and output sizes are TFLite's
(``conv_geometry``), so the GPU agrees with the CPU kernels on every shape.
"""

from __future__ import annotations

import numpy as np

from edgelite.delegates.gpu.ops import gpu_op
from edgelite.delegates.gpu.checks import activation, check_activation, float_constant
from edgelite.delegates.gpu.shaders import clamp_expr, coords, kernel
from edgelite.interpreter.kernels.common import option
from edgelite.interpreter.compute.conv_geometry import compute_padding, conv_output_size


def _bias(ctx, k: int):
    t = ctx.inputs[k] if len(ctx.inputs) > k else None
    return t


def _check_weights(ctx, w: int, bias: int) -> str | None:
    wt = ctx.inputs[w]
    if wt is None:
        return "missing filter"
    why = float_constant(wt)
    if why:
        return why
    bt = _bias(ctx, bias)
    if bt is not None:
        why = float_constant(bt)
        if why:
            return why
    return check_activation(ctx)


def _window(ctx, x_shape, kh, kw):
    sh, sw = int(option(ctx, "strideH", 1)), int(option(ctx, "strideW", 1))
    dh, dw = int(option(ctx, "dilationHFactor", 1)), int(option(ctx, "dilationWFactor", 1))
    oh, ow = ctx.output_shapes[0][1], ctx.output_shapes[0][2]
    ph, _ = compute_padding(sh, dh, x_shape[1], kh, oh)
    pw, _ = compute_padding(sw, dw, x_shape[2], kw, ow)
    return sh, sw, dh, dw, ph, pw


def _conv_dims(ctx, x_shape, w_shape):
    """``(out_shape, Ci, Co, kh, kw, window, activation range)`` of an NHWC convolution."""
    out_shape = tuple(ctx.output_shapes[0])
    kh, kw = w_shape[1], w_shape[2]
    return out_shape, x_shape[3], out_shape[3], kh, kw, _window(ctx, x_shape, kh, kw), activation(ctx)


def _window_loops(x_shape, kh: int, kw: int, window: tuple, inner: str) -> str:
    """WGSL loops over the in-bounds taps ``(ky, kx)`` of output pixel ``(n, oy, ox)``:
    ``base`` is the flat offset of input row ``iy``, ``ix`` the input column; ``inner``
    (indented 6 spaces) runs once per tap."""
    _, H, W, Ci = x_shape
    sh, sw, dh, dw, ph, pw = window
    return f"""  for (var ky = 0u; ky < {kh}u; ky = ky + 1u) {{
    let iy = i32(oy * {sh}u + ky * {dh}u) - {ph};
    if (iy < 0 || iy >= {H}) {{ continue; }}
    let base = (n * {H}u + u32(iy)) * {W}u * {Ci}u;
    for (var kx = 0u; kx < {kw}u; kx = kx + 1u) {{
      let ix = i32(ox * {sw}u + kx * {dw}u) - {pw};
      if (ix < 0 || ix >= {W}) {{ continue; }}
{inner}
    }}
  }}"""


def _conv_source(b, ctx, x_shape, w_shape, depthwise: bool, has_bias: bool) -> tuple[str, int]:
    out_shape, Ci, Co, kh, kw, window, (lo, hi) = _conv_dims(ctx, x_shape, w_shape)
    if depthwise:
        mult = Co // Ci if Ci else 1
        inner = f"""      acc = acc + f32(x[base + u32(ix) * {Ci}u + co / {mult}u]) * f32(w[(ky * {kw}u + kx) * {Co}u + co]);"""
    else:
        cf = w_shape[3]
        per_group = Co // (Ci // cf)
        inner = f"""      let xb = base + u32(ix) * {Ci}u + (co / {per_group}u) * {cf}u;
      let wb = ((co * {kh}u + ky) * {kw}u + kx) * {cf}u;
      for (var ci = 0u; ci < {cf}u; ci = ci + 1u) {{
        acc = acc + f32(x[xb + ci]) * f32(w[wb + ci]);
      }}"""
    body = f"""{coords("i", out_shape)}
  let n = c0; let oy = c1; let ox = c2; let co = c3;
  var acc: f32 = {"f32(bias[co])" if has_bias else "0.0"};
{_window_loops(x_shape, kh, kw, window, inner)}
  y[i] = T({clamp_expr("acc", lo, hi)});"""
    binds = [("x", "T", "read"), ("w", "T", "read")] + ([("bias", "T", "read")] if has_bias else []) + [("y", "T", "read_write")]
    n = int(np.prod(out_shape))
    return kernel(b.T, binds, n, body), n


def _vec4_conv_source(b, ctx, x_shape, w_shape, has_bias: bool) -> tuple[str, int]:
    """CONV_2D with 4 output channels per thread: each input value is loaded once for 4
    multiply-adds; weights repacked to ``[KH, KW, Cin, Cout]`` so the 4 are adjacent."""
    out_shape, Ci, Co, kh, kw, window, (lo, hi) = _conv_dims(ctx, x_shape, w_shape)
    grid_shape = out_shape[:3] + (Co // 4,)
    bias = "vec4<f32>(f32(bias[co]), f32(bias[co + 1u]), f32(bias[co + 2u]), f32(bias[co + 3u]))" if has_bias \
        else "vec4<f32>(0.0)"
    writes = "\n".join(f"  y[i * 4u + {j}u] = T({clamp_expr(f'acc[{j}]', lo, hi)});" for j in range(4))
    inner = f"""      let xb = base + u32(ix) * {Ci}u;
      var wo = (ky * {kw}u + kx) * {Ci * Co}u + co;
      for (var ci = 0u; ci < {Ci}u; ci = ci + 1u) {{
        let xv = f32(x[xb + ci]);
        acc = acc + xv * vec4<f32>(f32(w[wo]), f32(w[wo + 1u]), f32(w[wo + 2u]), f32(w[wo + 3u]));
        wo = wo + {Co}u;
      }}"""
    body = f"""{coords("i", grid_shape)}
  let n = c0; let oy = c1; let ox = c2; let co = c3 * 4u;
  var acc: vec4<f32> = {bias};
{_window_loops(x_shape, kh, kw, window, inner)}
{writes}"""
    binds = [("x", "T", "read"), ("w", "T", "read")] + ([("bias", "T", "read")] if has_bias else []) + [("y", "T", "read_write")]
    n = int(np.prod(grid_shape))
    return kernel(b.T, binds, n, body), n


@gpu_op("CONV_2D")
class Conv2D:
    def check(self, ctx):
        if len(ctx.inputs[0].shape) != 4:
            return "input must be 4D"
        x, w = ctx.inputs[0], ctx.inputs[1]
        if w is None or len(w.shape) != 4 or w.shape[3] == 0 or x.shape[3] % w.shape[3]:
            return "filter must be 4D with input channels a multiple of its depth"
        return _check_weights(ctx, 1, 2)

    def build(self, ctx, b):
        from edgelite.delegates.gpu.runtime import dequantized

        x, w = ctx.inputs[0], ctx.inputs[1]
        bias = _bias(ctx, 2)
        co = ctx.output_shapes[0][3]
        if w.data is not None and co % 4 == 0 and w.shape[3] == x.shape[3]:
            src, n = _vec4_conv_source(b, ctx, tuple(x.shape), tuple(w.shape), bias is not None)
            wbuf = b.const(np.ascontiguousarray(dequantized(w).transpose(1, 2, 3, 0)))
        else:
            src, n = _conv_source(b, ctx, tuple(x.shape), tuple(w.shape), False, bias is not None)
            wbuf = b.tensor(w)
        binds = [b.tensor(x), wbuf] + ([b.tensor(bias)] if bias is not None else []) + [b.output(ctx.outputs[0])]
        b.dispatch(src, binds, n, "CONV_2D")


@gpu_op("DEPTHWISE_CONV_2D")
class DepthwiseConv2D:
    def check(self, ctx):
        x, w = ctx.inputs[0], ctx.inputs[1]
        if len(x.shape) != 4 or w is None or len(w.shape) != 4 or w.shape[0] != 1:
            return "input and filter must be 4D with filter batch 1"
        co = ctx.output_shapes[0][3]
        if x.shape[3] == 0 or co % x.shape[3] or w.shape[3] != co:
            return "output channels must be input channels times the depth multiplier"
        return _check_weights(ctx, 1, 2)

    def build(self, ctx, b):
        x, w = ctx.inputs[0], ctx.inputs[1]
        bias = _bias(ctx, 2)
        src, n = _conv_source(b, ctx, tuple(x.shape), tuple(w.shape), True, bias is not None)
        binds = [b.tensor(x), b.tensor(w)] + ([b.tensor(bias)] if bias is not None else []) + [b.output(ctx.outputs[0])]
        b.dispatch(src, binds, n, "DEPTHWISE_CONV_2D")


@gpu_op("TRANSPOSE_CONV")
class TransposeConv:
    def check(self, ctx):
        if ctx.inputs[0] is None or ctx.inputs[0].data is None:
            return "output_shape must be constant"
        x = ctx.inputs[2]
        if x is None or len(x.shape) != 4 or len(ctx.inputs[1].shape) != 4:
            return "input and filter must be 4D"
        if ctx.inputs[1].shape[3] != x.shape[3]:
            return "filter depth must equal input channels"
        return _check_weights(ctx, 1, 3)

    def build(self, ctx, b):
        w, x = ctx.inputs[1], ctx.inputs[2]
        bias = _bias(ctx, 3)
        out_shape = tuple(ctx.output_shapes[0])
        _, H, W, Ci = x.shape
        Co, kh, kw, _ = w.shape
        sh, sw = int(option(ctx, "strideH", 1)), int(option(ctx, "strideW", 1))
        padding = int(option(ctx, "padding", 0))
        oh, ow = out_shape[1], out_shape[2]
        ph, _ = compute_padding(sh, 1, oh, kh, max(0, conv_output_size(oh, kh, sh, 1, padding)))
        pw, _ = compute_padding(sw, 1, ow, kw, max(0, conv_output_size(ow, kw, sw, 1, padding)))
        lo, hi = activation(ctx)
        has_bias = bias is not None
        body = f"""{coords("i", out_shape)}
  let n = c0; let oy = i32(c1); let ox = i32(c2); let co = c3;
  var acc: f32 = {"f32(bias[co])" if has_bias else "0.0"};
  for (var ky = 0; ky < {kh}; ky = ky + 1) {{
    let ty = oy + {ph} - ky;
    if (ty < 0 || ty % {sh} != 0) {{ continue; }}
    let iy = ty / {sh};
    if (iy >= {H}) {{ continue; }}
    for (var kx = 0; kx < {kw}; kx = kx + 1) {{
      let tx = ox + {pw} - kx;
      if (tx < 0 || tx % {sw} != 0) {{ continue; }}
      let ix = tx / {sw};
      if (ix >= {W}) {{ continue; }}
      let xb = ((n * {H}u + u32(iy)) * {W}u + u32(ix)) * {Ci}u;
      let wb = ((co * {kh}u + u32(ky)) * {kw}u + u32(kx)) * {Ci}u;
      for (var ci = 0u; ci < {Ci}u; ci = ci + 1u) {{
        acc = acc + f32(x[xb + ci]) * f32(w[wb + ci]);
      }}
    }}
  }}
  y[i] = T({clamp_expr("acc", lo, hi)});"""
        binds = [("x", "T", "read"), ("w", "T", "read")] + ([("bias", "T", "read")] if has_bias else []) + [("y", "T", "read_write")]
        n = int(np.prod(out_shape))
        bufs = [b.tensor(x), b.tensor(w)] + ([b.tensor(bias)] if has_bias else []) + [b.output(ctx.outputs[0])]
        b.dispatch(kernel(b.T, binds, n, body), bufs, n, "TRANSPOSE_CONV")
