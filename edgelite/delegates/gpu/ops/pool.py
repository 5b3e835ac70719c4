"""AVERAGE_POOL_2D, MAX_POOL_2D and L2_POOL_2D: one thread per output element.

Padded cells take no part (TFLite's builtins): average divides by the number of
valid cells, max starts from the lowest float.
"""

from __future__ import annotations

import numpy as np

from edgelite.delegates.gpu.ops import gpu_op
from edgelite.delegates.gpu.checks import activation, check_activation
from edgelite.delegates.gpu.shaders import clamp_expr, coords, kernel
from edgelite.interpreter.kernels.common import option
from edgelite.interpreter.compute.conv_geometry import compute_padding

_INIT = {"AVERAGE_POOL_2D": "0.0", "MAX_POOL_2D": "-3.4028234663852886e38", "L2_POOL_2D": "0.0"}
_STEP = {"AVERAGE_POOL_2D": "acc = acc + v;", "MAX_POOL_2D": "acc = max(acc, v);", "L2_POOL_2D": "acc = acc + v * v;"}
_FINAL = {"AVERAGE_POOL_2D": "acc / f32(max(cnt, 1u))", "MAX_POOL_2D": "acc", "L2_POOL_2D": "sqrt(acc / f32(max(cnt, 1u)))"}


@gpu_op(*_INIT)
class Pool2D:
    def check(self, ctx):
        if len(ctx.inputs[0].shape) != 4:
            return "input must be 4D"
        return check_activation(ctx)

    def build(self, ctx, b):
        x = ctx.inputs[0]
        out_shape = tuple(ctx.output_shapes[0])
        _, H, W, C = x.shape
        kh, kw = int(option(ctx, "filterHeight", 1)), int(option(ctx, "filterWidth", 1))
        sh, sw = int(option(ctx, "strideH", 1)), int(option(ctx, "strideW", 1))
        ph, _ = compute_padding(sh, 1, H, kh, out_shape[1])
        pw, _ = compute_padding(sw, 1, W, kw, out_shape[2])
        lo, hi = activation(ctx)
        op = ctx.op_name
        body = f"""{coords("i", out_shape)}
  var acc: f32 = {_INIT[op]};
  var cnt: u32 = 0u;
  for (var ky = 0; ky < {kh}; ky = ky + 1) {{
    let iy = i32(c1 * {sh}u) - {ph} + ky;
    if (iy < 0 || iy >= {H}) {{ continue; }}
    for (var kx = 0; kx < {kw}; kx = kx + 1) {{
      let ix = i32(c2 * {sw}u) - {pw} + kx;
      if (ix < 0 || ix >= {W}) {{ continue; }}
      let v = f32(x0[((c0 * {H}u + u32(iy)) * {W}u + u32(ix)) * {C}u + c3]);
      {_STEP[op]}
      cnt = cnt + 1u;
    }}
  }}
  y[i] = T({clamp_expr(_FINAL[op], lo, hi)});"""
        n = int(np.prod(out_shape))
        src = kernel(b.T, [("x0", "T", "read"), ("y", "T", "read_write")], n, body)
        b.dispatch(src, [b.tensor(x), b.output(ctx.outputs[0])], n, op)
