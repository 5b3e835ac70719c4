"""Reductions (MEAN, SUM, REDUCE_MAX/MIN/PROD) and SOFTMAX/LOG_SOFTMAX over the last axis.

A reduction runs one thread per output element, looping over the reduced positions
(their offsets are baked in as a constant table when there are several axes).
"""

from __future__ import annotations

import numpy as np

from edgelite.delegates.gpu.ops import gpu_op
from edgelite.delegates.gpu.shaders import coords, f32, kernel, strides
from edgelite.interpreter.kernels.common import option

_INIT = {"MEAN": "0.0", "SUM": "0.0", "REDUCE_PROD": "1.0", "REDUCE_MAX": "-3.4028234663852886e38",
         "REDUCE_MIN": "3.4028234663852886e38"}
_STEP = {"MEAN": "acc = acc + v;", "SUM": "acc = acc + v;", "REDUCE_PROD": "acc = acc * v;",
         "REDUCE_MAX": "acc = max(acc, v);", "REDUCE_MIN": "acc = min(acc, v);"}


def _axes(ctx) -> list[int] | None:
    t = ctx.inputs[1]
    if t is None or t.data is None:
        return None
    r = len(ctx.inputs[0].shape)
    return sorted({int(a) % r for a in np.asarray(t.data).reshape(-1)}) if r else []


@gpu_op(*_INIT)
class Reduce:
    def check(self, ctx):
        if _axes(ctx) is None:
            return "axes must be constant"
        if not _axes(ctx):
            return "empty axis list"
        return None

    def build(self, ctx, b):
        x = ctx.inputs[0]
        shape = tuple(x.shape)
        axes = _axes(ctx)
        kept = [d for d in range(len(shape)) if d not in axes]
        kept_shape = tuple(shape[d] for d in kept) or (1,)
        st = strides(shape)
        red_shape = [shape[d] for d in axes]
        count = int(np.prod(red_shape))
        # offsets of every reduced position relative to the output element's base
        grids = np.meshgrid(*[np.arange(s) for s in red_shape], indexing="ij")
        rel = sum(g.reshape(-1) * st[d] for g, d in zip(grids, axes)).astype(np.uint32)
        base = " + ".join(f"c{k} * {st[d]}u" for k, d in enumerate(kept)) if kept else "0u"
        op = ctx.op_name
        final = f"acc / {f32(count)}" if op == "MEAN" else "acc"
        body = f"""{coords("i", kept_shape)}
  let base = {base if kept else "0u"};
  var acc: f32 = {_INIT[op]};
  for (var k = 0u; k < {count}u; k = k + 1u) {{
    let v = f32(x0[base + rel[k]]);
    {_STEP[op]}
  }}
  y[i] = T({final});"""
        n = int(np.prod(kept_shape))
        src = kernel(b.T, [("x0", "T", "read"), ("rel", "u32", "read"), ("y", "T", "read_write")], n, body)
        b.dispatch(src, [b.tensor(x), b.const(rel, "u32"), b.output(ctx.outputs[0])], n, op)


@gpu_op("SOFTMAX", "LOG_SOFTMAX")
class Softmax:
    def check(self, ctx):
        return None

    def build(self, ctx, b):
        x = ctx.inputs[0]
        shape = tuple(x.shape)
        d = shape[-1] if shape else 1
        rows = int(np.prod(shape)) // max(d, 1)
        beta = float(option(ctx, "beta", 0.0)) if ctx.op_name == "SOFTMAX" else 1.0  # CPU kernel default
        if ctx.op_name == "SOFTMAX":
            write = f"y[o + k] = T(exp((f32(x0[o + k]) - mx) * {f32(beta)}) / s);"
            acc = f"s = s + exp((f32(x0[o + k]) - mx) * {f32(beta)});"
        else:
            write = "y[o + k] = T(f32(x0[o + k]) - mx - log(s));"
            acc = "s = s + exp(f32(x0[o + k]) - mx);"
        body = f"""  let o = i * {d}u;
  var mx: f32 = -3.4028234663852886e38;
  for (var k = 0u; k < {d}u; k = k + 1u) {{ mx = max(mx, f32(x0[o + k])); }}
  var s: f32 = 0.0;
  for (var k = 0u; k < {d}u; k = k + 1u) {{ {acc} }}
  for (var k = 0u; k < {d}u; k = k + 1u) {{ {write} }}"""
        src = kernel(b.T, [("x0", "T", "read"), ("y", "T", "read_write")], rows, body)
        b.dispatch(src, [b.tensor(x), b.output(ctx.outputs[0])], rows, ctx.op_name)
