"""Elementwise operators: binary with broadcasting, unary activations and math, PRELU, ADD_N.

One thread per output element; broadcast inputs are indexed with zero strides on
their size-1 dimensions (baked into the shader).
"""

from __future__ import annotations

import numpy as np

from edgelite.delegates.gpu.ops import gpu_op
from edgelite.delegates.gpu.checks import activation, check_activation, float_constant
from edgelite.delegates.gpu.shaders import clamp_expr, coords, f32, kernel, offset_expr
from edgelite.interpreter.kernels.common import option

BINARY = {
    "ADD": "a + b",
    "SUB": "a - b",
    "MUL": "a * b",
    "DIV": "a / b",
    "MAXIMUM": "max(a, b)",
    "MINIMUM": "min(a, b)",
    "SQUARED_DIFFERENCE": "(a - b) * (a - b)",
}
FUSED = {"ADD", "SUB", "MUL", "DIV"}


def _index(name: str, shape, out_shape) -> str:
    if tuple(shape) == tuple(out_shape):
        return "i"
    if int(np.prod(shape)) == 1:
        return "0u"
    return offset_expr("c", tuple(shape), len(out_shape))


@gpu_op(*BINARY)
class Binary:
    def check(self, ctx):
        if len(ctx.inputs) != 2 or any(t is None for t in ctx.inputs):
            return "needs two inputs"
        for t in ctx.inputs:
            why = float_constant(t)
            if why:
                return why
        return check_activation(ctx) if ctx.op_name in FUSED else None

    def build(self, ctx, b):
        a, bb = ctx.inputs
        out = ctx.outputs[0]
        shape = tuple(ctx.output_shapes[0])
        lo, hi = activation(ctx) if ctx.op_name in FUSED else (float("-inf"), float("inf"))
        ia, ib = _index("a", a.shape, shape), _index("b", bb.shape, shape)
        pre = coords("i", shape) if ("c" in ia or "c" in ib) else ""
        body = f"""{pre}
  let a = f32(x0[{ia}]);
  let b = f32(x1[{ib}]);
  y[i] = T({clamp_expr(BINARY[ctx.op_name], lo, hi)});"""
        n = int(np.prod(shape))
        src = kernel(b.T, [("x0", "T", "read"), ("x1", "T", "read"), ("y", "T", "read_write")], n, body)
        b.dispatch(src, [b.tensor(a), b.tensor(bb), b.output(out)], n, ctx.op_name)


def _unary_expr(ctx) -> str:
    name = ctx.op_name
    if name == "LEAKY_RELU":
        alpha = float(option(ctx, "alpha", 0.0))  # defaults as the CPU kernel
        return f"select({f32(alpha)} * x, x, x > 0.0)"
    if name == "GELU":
        if bool(option(ctx, "approximate", False)):
            return "0.5 * x * (1.0 + tanh_s(0.7978845608028654 * (x + 0.044715 * x * x * x)))"
        return "0.5 * x * (1.0 + erf_s(x * 0.7071067811865476))"
    return UNARY[name]


UNARY = {
    "RELU": "max(x, 0.0)",
    "RELU6": "clamp(x, 0.0, 6.0)",
    "RELU_N1_TO_1": "clamp(x, -1.0, 1.0)",
    "RELU_0_TO_1": "clamp(x, 0.0, 1.0)",
    "LEAKY_RELU": None,
    "GELU": None,
    "HARD_SWISH": "x * clamp(x + 3.0, 0.0, 6.0) / 6.0",
    "LOGISTIC": "sigmoid(x)",
    "TANH": "tanh_s(x)",
    "ELU": "select(expm1_s(x), x, x > 0.0)",
    "EXP": "exp(x)",
    "LOG": "log(x)",
    "RSQRT": "inverseSqrt(x)",
    "SQRT": "sqrt(x)",
    "ABS": "abs(x)",
    "NEG": "-x",
    "SQUARE": "x * x",
    "SIN": "sin(x)",
    "COS": "cos(x)",
    "FLOOR": "floor(x)",
    "CEIL": "ceil(x)",
    "SIGN": "sign(x)",
}


@gpu_op(*UNARY)
class Unary:
    def check(self, ctx):
        if ctx.inputs[0] is None or ctx.inputs[0].data is not None:
            return "input must be a run-time tensor"
        return None

    def build(self, ctx, b):
        x, out = ctx.inputs[0], ctx.outputs[0]
        n = int(np.prod(out.shape))
        body = f"  let x = f32(x0[i]);\n  y[i] = T({_unary_expr(ctx)});"
        src = kernel(b.T, [("x0", "T", "read"), ("y", "T", "read_write")], n, body)
        b.dispatch(src, [b.tensor(x), b.output(out)], n, ctx.op_name)


@gpu_op("PRELU")
class Prelu:
    def check(self, ctx):
        return float_constant(ctx.inputs[1])

    def build(self, ctx, b):
        x, alpha = ctx.inputs
        out = ctx.outputs[0]
        shape = tuple(ctx.output_shapes[0])
        ia, ib = _index("a", x.shape, shape), _index("b", alpha.shape, shape)
        pre = coords("i", shape) if ("c" in ia or "c" in ib) else ""
        body = f"""{pre}
  let a = f32(x0[{ia}]);
  let b = f32(x1[{ib}]);
  y[i] = T(select(a * b, a, a >= 0.0));"""
        n = int(np.prod(shape))
        src = kernel(b.T, [("x0", "T", "read"), ("x1", "T", "read"), ("y", "T", "read_write")], n, body)
        b.dispatch(src, [b.tensor(x), b.tensor(alpha), b.output(out)], n, "PRELU")


@gpu_op("ADD_N")
class AddN:
    def check(self, ctx):
        if len(ctx.inputs) > 7:
            return "more than 7 inputs"
        if any(tuple(t.shape) != tuple(ctx.output_shapes[0]) for t in ctx.inputs):
            return "inputs of different shapes"
        return None

    def build(self, ctx, b):
        out = ctx.outputs[0]
        n = int(np.prod(out.shape))
        k = len(ctx.inputs)
        binds = [(f"x{j}", "T", "read") for j in range(k)] + [("y", "T", "read_write")]
        body = "  y[i] = T(" + " + ".join(f"f32(x{j}[i])" for j in range(k)) + ");"
        b.dispatch(kernel(b.T, binds, n, body), [b.tensor(t) for t in ctx.inputs] + [b.output(out)], n, "ADD_N")


@gpu_op("QUANTIZE", "DEQUANTIZE")
class Requantize:
    """float <-> int8 and int8 -> int8: a copy of the real values (the output is then
    rounded to its grid by the shared fake-quant step when it is quantized)."""

    def check(self, ctx):
        if ctx.inputs[0] is None or ctx.inputs[0].data is not None:
            return "input must be a run-time tensor (constant DEQUANTIZE is folded at prepare)"
        return None

    def build(self, ctx, b):
        out = ctx.outputs[0]
        n = int(np.prod(out.shape))
        src = kernel(b.T, [("x0", "T", "read"), ("y", "T", "read_write")], n, "  y[i] = x0[i];")
        b.dispatch(src, [b.tensor(ctx.inputs[0]), b.output(out)], n, ctx.op_name)
