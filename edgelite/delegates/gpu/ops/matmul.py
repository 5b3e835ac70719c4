"""FULLY_CONNECTED and BATCH_MATMUL: one thread per output element, a dot product each.

FULLY_CONNECTED flattens its input to ``[M, K]`` (``K`` = the weights' depth) and
reads weights ``[N, K]``; float16 and int8 (dynamic-range) constant weights are
widened/dequantized once at upload, as LiteRT's GPU delegate does.
"""

from __future__ import annotations

import numpy as np

from edgelite.delegates.gpu.ops import gpu_op
from edgelite.delegates.gpu.checks import activation, check_activation, float_constant
from edgelite.delegates.gpu.shaders import clamp_expr, coords, kernel, strides
from edgelite.interpreter.kernels.common import option


@gpu_op("FULLY_CONNECTED")
class FullyConnected:
    def check(self, ctx):
        w = ctx.inputs[1]
        if w is None or len(w.shape) != 2:
            return "weights must be 2D"
        if int(option(ctx, "weightsFormat", 0)) != 0:
            return "shuffled weights format"
        x = ctx.inputs[0]
        if int(np.prod(x.shape)) % max(w.shape[1], 1):
            return "input size is not a multiple of the weights' depth"
        why = float_constant(w)
        if why:
            return why
        bias = ctx.inputs[2] if len(ctx.inputs) > 2 else None
        if bias is not None:
            why = float_constant(bias)
            if why:
                return why
        return check_activation(ctx)

    def build(self, ctx, b):
        x, w = ctx.inputs[0], ctx.inputs[1]
        bias = ctx.inputs[2] if len(ctx.inputs) > 2 else None
        N, K = w.shape
        n = int(np.prod(ctx.output_shapes[0]))
        lo, hi = activation(ctx)
        has_bias = bias is not None
        body = f"""  let m = i / {N}u; let o = i % {N}u;
  var acc: f32 = {"f32(bias[o])" if has_bias else "0.0"};
  let xb = m * {K}u; let wb = o * {K}u;
  for (var k = 0u; k < {K}u; k = k + 1u) {{
    acc = acc + f32(x[xb + k]) * f32(w[wb + k]);
  }}
  y[i] = T({clamp_expr("acc", lo, hi)});"""
        binds = [("x", "T", "read"), ("w", "T", "read")] + ([("bias", "T", "read")] if has_bias else []) + [("y", "T", "read_write")]
        bufs = [b.tensor(x), b.tensor(w)] + ([b.tensor(bias)] if has_bias else []) + [b.output(ctx.outputs[0])]
        b.dispatch(kernel(b.T, binds, n, body), bufs, n, "FULLY_CONNECTED")


@gpu_op("BATCH_MATMUL")
class BatchMatMul:
    def check(self, ctx):
        a, c = ctx.inputs[0], ctx.inputs[1]
        if len(a.shape) < 2 or len(c.shape) < 2:
            return "inputs must have rank >= 2"
        for t in (a, c):
            why = float_constant(t)
            if why:
                return why
        return None

    def build(self, ctx, b):
        a, c = ctx.inputs[0], ctx.inputs[1]
        adj_x, adj_y = bool(option(ctx, "adjX", False)), bool(option(ctx, "adjY", False))
        out_shape = tuple(ctx.output_shapes[0])
        r = len(out_shape)
        K = a.shape[-2] if adj_x else a.shape[-1]
        batch = out_shape[:-2]

        def batch_offset(shape):
            bs = (1,) * (len(batch) - (len(shape) - 2)) + tuple(shape[:-2])
            st = strides(bs)
            mat = shape[-1] * shape[-2]
            terms = [f"c{d} * {st[d] * mat}u" for d in range(len(batch)) if bs[d] != 1]
            return " + ".join(terms) if terms else "0u"

        # element (m, k) of A and (k, nn) of B, honouring the adjoint flags
        a_idx = f"k * {a.shape[-1]}u + m" if adj_x else f"m * {a.shape[-1]}u + k"
        b_idx = f"nn * {c.shape[-1]}u + k" if adj_y else f"k * {c.shape[-1]}u + nn"
        body = f"""{coords("i", out_shape)}
  let m = c{r - 2}; let nn = c{r - 1};
  let ab = {batch_offset(a.shape)}; let bb = {batch_offset(c.shape)};
  var acc: f32 = 0.0;
  for (var k = 0u; k < {K}u; k = k + 1u) {{
    acc = acc + f32(x0[ab + {a_idx}]) * f32(x1[bb + {b_idx}]);
  }}
  y[i] = T(acc);"""
        n = int(np.prod(out_shape))
        binds = [("x0", "T", "read"), ("x1", "T", "read"), ("y", "T", "read_write")]
        b.dispatch(kernel(b.T, binds, n, body), [b.tensor(a), b.tensor(c), b.output(ctx.outputs[0])], n, "BATCH_MATMUL")
