"""Binary elementwise kernels: arithmetic, comparisons, logical ops, SELECT, ADD_N.

Float32 (and int32/int64 where TFLite has them) with numpy broadcasting up to 6-D and
the fused activation of ADD/SUB/MUL/DIV. Quantized int8/uint8/int16 arithmetic is the
int8 kernels' job: ``accepts`` refuses quantized tensors here. Comparisons take every
dtype (quantized int8/uint8 rescaled as LiteRT does, see ``Compare``).

ADD, SUB, MUL and DIV on float32 also have a Numba ``eval_jit`` that gives the same
results as the numpy reference (one rounding per element in both). It runs the Numba
loop for equal shapes and scalar operands (one pass, activation fused) and numpy for
general broadcasting, where numpy is faster; ``_binary_arith_kernel`` itself handles
every case and is tested on all of them.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.elementwise.elementwise_float import Arith
    >>> f32 = lambda i, s: TensorInfo(i, f"t{i}", s, np.dtype(np.float32), 0)
    >>> ctx = OpContext("ADD", 0, 1, None, None, None, [f32(0, (2, 3)), f32(1, (3,))], [f32(2, None)])
    >>> k = Arith(); p = k.prepare(ctx); out = np.empty(ctx.output_shapes[0], np.float32)
    >>> k.eval(p, [np.ones((2, 3), np.float32), np.arange(3, dtype=np.float32)], [out])
    >>> out[1].tolist()
    [1.0, 2.0, 3.0]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import (
    apply_activation,
    broadcast_output,
    fused_activation,
    is_quantized,
    movement_accepts,
    same_quant,
)
from edgelite.interpreter.compute import bound
from edgelite.interpreter.compute.jit import njit

_F32 = np.dtype(np.float32)
_I32 = np.dtype(np.int32)
_I64 = np.dtype(np.int64)


# -- shape planning shared by the reference and the JIT path -------------------------

MODE_SAME, MODE_B_SCALAR, MODE_A_SCALAR, MODE_GENERAL = range(4)


@dataclass(frozen=True)
class BinaryParams:
    out_shape: tuple[int, ...]
    lo: float
    hi: float
    mode: int
    # 6-D iteration space and element strides of each input (0 on broadcast dims)
    shape6: np.ndarray
    stride_a: np.ndarray
    stride_b: np.ndarray
    # the float kernels' numpy function ``fn(a, b, out=...)`` and Numba op code
    fn: Callable | None = None
    op_code: int = 0


def _collapse(out_shape, a_shape, b_shape):
    """Merge neighbouring dims that both inputs treat alike (both full or both broadcast).

    Returns the merged out, a and b shapes (same rank, a and b dims are 1 or the out dim).
    """
    r = len(out_shape)
    a = (1,) * (r - len(a_shape)) + tuple(a_shape)
    b = (1,) * (r - len(b_shape)) + tuple(b_shape)
    dims: list[list[int]] = []  # [out, a, b]
    for o, x, y in zip(out_shape, a, b):
        if o == 1:
            continue
        if dims:
            po, px, py = dims[-1]
            if (px == 1) == (x == 1) and (py == 1) == (y == 1):
                dims[-1] = [po * o, px * x, py * y]
                continue
        dims.append([o, x, y])
    if not dims:
        dims = [[1, 1, 1]]
    return [d[0] for d in dims], [d[1] for d in dims], [d[2] for d in dims]


def plan_binary(ctx: OpContext, lo: float = -np.inf, hi: float = np.inf) -> BinaryParams:
    """Output shape, activation bounds and 6-D broadcast strides of a binary op."""
    out_shape = broadcast_output(ctx, 0, 1)
    a_shape, b_shape = ctx.input(0).shape, ctx.input(1).shape
    shape6 = np.ones(6, np.int64)
    sa = np.zeros(6, np.int64)
    sb = np.zeros(6, np.int64)
    size = int(np.prod(out_shape, dtype=np.int64))
    a_size = int(np.prod(a_shape, dtype=np.int64))
    b_size = int(np.prod(b_shape, dtype=np.int64))
    if a_size == size and b_size == size:
        mode = MODE_SAME
    elif b_size == 1:
        mode = MODE_B_SCALAR
    elif a_size == 1:
        mode = MODE_A_SCALAR
    else:
        mode = MODE_GENERAL
        o, x, y = _collapse(out_shape, a_shape, b_shape)
        if len(o) > 6:
            raise ctx.fail(f"cannot broadcast {a_shape} with {b_shape} in 6 dimensions")
        off = 6 - len(o)
        shape6[off:] = o
        for dims, strides in ((x, sa), (y, sb)):
            step = 1
            for k in range(len(o) - 1, -1, -1):
                strides[off + k] = 0 if dims[k] == 1 else step
                step *= dims[k]
    ctx.set_output_shape(0, out_shape)
    return BinaryParams(out_shape, lo, hi, mode, shape6, sa, sb)


# -- the Numba kernel for ADD/SUB/MUL/DIV ---------------------------------------------

OP_ADD, OP_SUB, OP_MUL, OP_DIV = range(4)


@njit
def _arith(x, y, op):
    if op == 0:
        return x + y
    if op == 1:
        return x - y
    if op == 2:
        return x * y
    # np.divide keeps IEEE results for a zero divisor (x / y raises in Numba); float32
    # division rounded through float64 is still correctly rounded.
    return np.float32(np.divide(x, y))


@njit
def _arith_row(a, pa, sa, b, pb, sb, out, o, n, op, clamp, lo, hi):
    """out[o:o+n] = act(a[pa::sa] <op> b[pb::sb]) for strides sa, sb in {0, 1}.

    Each stride pattern has its own loop so that the compiler can vectorize it (the
    op and clamp tests are loop-invariant and get hoisted).
    """
    if sa == 1 and sb == 1:
        for i in range(n):
            r = _arith(a[pa + i], b[pb + i], op)
            if clamp:
                r = min(max(r, lo), hi)
            out[o + i] = r
    elif sa == 1:
        y = b[pb]
        for i in range(n):
            r = _arith(a[pa + i], y, op)
            if clamp:
                r = min(max(r, lo), hi)
            out[o + i] = r
    elif sb == 1:
        x = a[pa]
        for i in range(n):
            r = _arith(x, b[pb + i], op)
            if clamp:
                r = min(max(r, lo), hi)
            out[o + i] = r
    else:
        r = _arith(a[pa], b[pb], op)
        if clamp:
            r = min(max(r, lo), hi)
        for i in range(n):
            out[o + i] = r


@njit
def _binary_arith_kernel(a, b, out, mode, shape6, sa, sb, op, clamp, lo, hi):
    """out = act(a <op> b) over flat float32 buffers (TFLite ADD/SUB/MUL/DIV, float path).

    ``mode`` picks same-shape, scalar-b, scalar-a or general 6-D broadcasting with
    element strides ``sa``/``sb`` (0 on broadcast dims); ``clamp`` applies [lo, hi].
    """
    n = out.shape[0]
    if mode == 0:
        _arith_row(a, 0, 1, b, 0, 1, out, 0, n, op, clamp, lo, hi)
    elif mode == 1:
        _arith_row(a, 0, 1, b, 0, 0, out, 0, n, op, clamp, lo, hi)
    elif mode == 2:
        _arith_row(a, 0, 0, b, 0, 1, out, 0, n, op, clamp, lo, hi)
    else:
        n5 = shape6[5]
        sa5 = sa[5]
        sb5 = sb[5]
        o = 0
        for i0 in range(shape6[0]):
            for i1 in range(shape6[1]):
                for i2 in range(shape6[2]):
                    for i3 in range(shape6[3]):
                        for i4 in range(shape6[4]):
                            pa = i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3] + i4 * sa[4]
                            pb = i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3] + i4 * sb[4]
                            _arith_row(a, pa, sa5, b, pb, sb5, out, o, n5, op, clamp, lo, hi)
                            o += n5


@njit
def _rows_arith_kernel(a, b, out, op, lo, hi):
    """out[i, j] = clamp(a[i, j] <op> b[j], lo, hi) over 2-D float32 ``a``/``out`` and a row ``b``.

    The broadcast of a per-channel vector over every pixel (``[1, H, W, C] * [C]``: the
    squeeze-excitation scale, a bias add), which ``_binary_arith_kernel``'s row-by-row
    general path does not vectorize. One loop per op so each one vectorizes.
    """
    m, n = out.shape
    for i in range(m):
        ai = a[i]
        oi = out[i]
        if op == 0:
            for j in range(n):
                oi[j] = min(max(ai[j] + b[j], lo), hi)
        elif op == 1:
            for j in range(n):
                oi[j] = min(max(ai[j] - b[j], lo), hi)
        elif op == 2:
            for j in range(n):
                oi[j] = min(max(ai[j] * b[j], lo), hi)
        else:
            for j in range(n):
                oi[j] = min(max(np.float32(np.divide(ai[j], b[j])), lo), hi)


def _row_broadcast(params: BinaryParams) -> int:
    """Row length ``n`` when the op is ``[m, n] <op> [n]`` (input 0 full, input 1 one row
    repeated m times) after collapsing dimensions, else 0."""
    s6, sa, sb = params.shape6, params.stride_a, params.stride_b
    n = int(s6[5])
    if int(np.prod(s6[:4])) != 1:
        return 0
    if sa[4] == n and sa[5] == 1 and sb[4] == 0 and sb[5] == 1:
        return n
    return 0


# -- arithmetic kernels -------------------------------------------------------------


def _c_int_divide(a, b, out):
    """C++ integer division (truncates toward zero), as TFLite's int32 DIV."""
    q = np.floor_divide(a, b)
    fix = (np.remainder(a, b) != 0) & ((np.asarray(a) < 0) != (np.asarray(b) < 0))
    np.add(q, fix.astype(q.dtype), out=out, casting="unsafe")


def _floor_div(a, b, out):
    if out.dtype.kind == "f":
        # floor(a / b) like TFLite, not numpy's divmod-based floor_divide
        np.divide(a, b, out=out)
        np.floor(out, out=out)
    else:
        np.floor_divide(a, b, out=out)


def _floor_mod(a, b, out):
    if out.dtype.kind == "f":
        # fmod, then move into the divisor's sign, as TFLite's FloorMod
        r = np.fmod(a, b)
        adjust = (r != 0) & ((r < 0) != (np.asarray(b) < 0))
        np.add(r, np.where(adjust, b, 0).astype(r.dtype), out=out)
    else:
        np.remainder(a, b, out=out)


def _squared_difference(a, b, out):
    np.subtract(a, b, out=out)
    np.multiply(out, out, out=out)


def _divide(a, b, out):
    if out.dtype.kind == "f":
        np.divide(a, b, out=out)
    else:
        _c_int_divide(a, b, out)


_F32_MAX = float(np.finfo(np.float32).max)
_SMALL_INTS = (np.dtype(np.int8), np.dtype(np.int16))
_NUMERIC = (_F32, _I32, _I64)

# TFLite op -> (numpy function ``fn(a, b, out=...)``, dtypes TFLite's kernel takes)
BINARY: dict[str, tuple] = {
    "SQUARED_DIFFERENCE": (_squared_difference, (_F32, _I32)),
    "MAXIMUM": (np.maximum, _NUMERIC),
    "MINIMUM": (np.minimum, _NUMERIC),
    "POW": (np.power, (_F32, _I32)),
    "FLOOR_DIV": (_floor_div, (_F32, _I32) + _SMALL_INTS),
    "FLOOR_MOD": (_floor_mod, (_F32, _I32, _I64) + _SMALL_INTS),
}
# ADD/SUB/MUL/DIV: (numpy function, dtypes, op code of ``_binary_arith_kernel``)
ARITH: dict[str, tuple] = {
    "ADD": (np.add, _NUMERIC, OP_ADD),
    "SUB": (np.subtract, _NUMERIC, OP_SUB),
    "MUL": (np.multiply, _NUMERIC, OP_MUL),
    "DIV": (_divide, (_F32, _I32), OP_DIV),
}


@register("SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "POW", "FLOOR_DIV", "FLOOR_MOD")
class Binary(Kernel):
    """A broadcasting binary op of ``BINARY`` on float32/integers (no quantized tensors)."""

    table: ClassVar[dict[str, tuple]] = BINARY

    def accepts(self, ctx: OpContext) -> bool:
        a, b, o = ctx.optional_input(0), ctx.optional_input(1), ctx.outputs[0]
        if a is None or b is None:
            return False
        if any(is_quantized(t) for t in (a, b, o)):
            return False
        return a.dtype == b.dtype == o.dtype and a.dtype in self.table[ctx.op_name][1]

    def prepare(self, ctx: OpContext) -> BinaryParams:
        return replace(plan_binary(ctx), fn=self.table[ctx.op_name][0])

    def eval(self, params: BinaryParams, inputs, outputs):
        out = outputs[0]
        with np.errstate(all="ignore"):
            params.fn(inputs[0], inputs[1], out=out)
        apply_activation(out, params.lo, params.hi)


@register("ADD", "SUB", "MUL", "DIV")
class Arith(Binary):
    """ADD/SUB/MUL/DIV with their fused activation; the float32 path also runs as one
    Numba loop (``eval_jit``)."""

    table = ARITH

    def prepare(self, ctx: OpContext) -> BinaryParams:
        lo, hi = fused_activation(ctx)
        if np.dtype(ctx.outputs[0].dtype) == _F32:
            # LiteRT clamps float ADD/SUB/MUL/DIV to the fused activation's range even
            # for NONE, whose range is +-FLT_MAX: an infinite result becomes +-FLT_MAX
            # (NaN stays NaN). Measured on ai-edge-litert 2.3, with and without broadcast.
            lo, hi = max(lo, -_F32_MAX), min(hi, _F32_MAX)
        fn, _, op_code = ARITH[ctx.op_name]
        return replace(plan_binary(ctx, lo, hi), fn=fn, op_code=op_code)

    def eval_jit(self, params: BinaryParams, inputs, outputs):
        out = outputs[0]
        # General broadcasting stays with numpy (its strided loops beat the Numba row
        # loop: 0.11 vs 0.78 ms for a (12544, 32) + (32,) bias add), except a full
        # tensor times a row repeated over it, which has its own vectorized loop
        # (0.15 ms there; numpy's product plus the clamp pass take 0.57 ms).
        if out.dtype != _F32 or out.size == 0:
            return self.eval(params, inputs, outputs)
        if params.mode == MODE_GENERAL:
            n = _row_broadcast(params)
            if not n:
                return self.eval(params, inputs, outputs)
            _rows_arith_kernel(inputs[0].reshape(-1, n), inputs[1].reshape(n), out.reshape(-1, n), params.op_code,
                               np.float32(params.lo), np.float32(params.hi))
            return None
        clamp = not (params.lo == -np.inf and params.hi == np.inf)
        _binary_arith_kernel(
            inputs[0].reshape(-1), inputs[1].reshape(-1), out.reshape(-1), params.mode,
            params.shape6, params.stride_a, params.stride_b, params.op_code, clamp,
            np.float32(params.lo), np.float32(params.hi),
        )
        return None

    def bind(self, params: BinaryParams, inputs, outputs):
        """``eval_jit``'s Numba loop as one prepared call (``compute.bound``); None where it runs ``eval``."""
        out = outputs[0]
        if out.dtype != _F32 or out.size == 0 or params.mode == MODE_GENERAL:
            return None
        if not bound.contiguous(inputs[0], inputs[1], out):
            return None
        clamp = not (params.lo == -np.inf and params.hi == np.inf)
        return [(_binary_arith_kernel, (
            inputs[0].reshape(-1), inputs[1].reshape(-1), out.reshape(-1), params.mode,
            params.shape6, params.stride_a, params.stride_b, params.op_code, clamp,
            np.float32(params.lo), np.float32(params.hi),
        ))]


# -- comparisons and logical ops ----------------------------------------------------


# TFLite op -> numpy comparison
COMPARE: dict[str, Callable] = {
    "EQUAL": np.equal, "NOT_EQUAL": np.not_equal, "LESS": np.less, "LESS_EQUAL": np.less_equal,
    "GREATER": np.greater, "GREATER_EQUAL": np.greater_equal,
}
LOGICAL: dict[str, Callable] = {"LOGICAL_AND": np.logical_and, "LOGICAL_OR": np.logical_or}


@register("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL")
class Compare(Kernel):
    """Elementwise comparison of ``COMPARE`` with broadcasting; bool output, every
    numeric dtype. Quantized inputs must share scale and zero point here (stored values
    compare as reals do); quantized inputs with different parameters are
    ``compare_quant.py``'s (priority INT8, tried first)."""

    table: ClassVar[dict[str, Callable]] = COMPARE

    def accepts(self, ctx: OpContext) -> bool:
        a, b = ctx.optional_input(0), ctx.optional_input(1)
        if a is None or b is None or a.dtype != b.dtype or ctx.outputs[0].dtype != np.bool_:
            return False
        return a.dtype.kind in "biuf" and same_quant(a, b)

    def prepare(self, ctx: OpContext) -> BinaryParams:
        return replace(plan_binary(ctx), fn=self.table[ctx.op_name])

    def eval(self, params: BinaryParams, inputs, outputs):
        params.fn(inputs[0], inputs[1], out=outputs[0])


@register("LOGICAL_AND", "LOGICAL_OR")
class Logical(Compare):
    table = LOGICAL

    def accepts(self, ctx: OpContext) -> bool:
        return all(t is not None and t.dtype == np.bool_ for t in ctx.inputs[:2] + ctx.outputs[:1])


@register("LOGICAL_NOT")
class LogicalNot(Kernel):
    def accepts(self, ctx: OpContext) -> bool:
        return ctx.input(0).dtype == np.bool_ and ctx.outputs[0].dtype == np.bool_

    def prepare(self, ctx: OpContext):
        ctx.set_output_shape(0, ctx.input(0).shape)

    def eval(self, params, inputs, outputs):
        np.logical_not(inputs[0], out=outputs[0])


# -- SELECT, SELECT_V2, ADD_N -------------------------------------------------------


@dataclass(frozen=True)
class SelectParams:
    rank_one: bool  # SELECT with a 1-D condition picking whole rows of x / y


@register("SELECT", "SELECT_V2")
class Select(Kernel):
    """``out = where(condition, x, y)``. SELECT takes equal shapes, a scalar condition,
    or a 1-D condition over the first dimension; SELECT_V2 broadcasts all three."""

    def accepts(self, ctx: OpContext) -> bool:
        c = ctx.optional_input(0)
        return c is not None and c.dtype == np.bool_ and movement_accepts(ctx, (1, 2))

    def prepare(self, ctx: OpContext) -> SelectParams:
        c, x, y = ctx.input(0).shape, ctx.input(1).shape, ctx.input(2).shape
        if ctx.op_name == "SELECT_V2":
            ctx.set_output_shape(0, broadcast_output(ctx, 0, 1, 2))
            return SelectParams(False)
        if x != y:
            raise ctx.fail(f"x {x} and y {y} must have the same shape")
        if c == x or len(c) == 0:
            ctx.set_output_shape(0, x)
            return SelectParams(False)
        if len(c) == 1 and len(x) >= 1 and c[0] == x[0]:
            ctx.set_output_shape(0, x)
            return SelectParams(True)
        raise ctx.fail(f"condition {c} must match x {x}, be a scalar, or be 1-D over its first dimension")

    def eval(self, params: SelectParams, inputs, outputs):
        cond, x, y = inputs[0], inputs[1], inputs[2]
        if params.rank_one:
            cond = cond.reshape(cond.shape + (1,) * (x.ndim - 1))
        np.copyto(outputs[0], np.where(cond, x, y))


@register("ADD_N")
class AddN(Kernel):
    """Sum of all inputs, which share one shape (float32 or int32)."""

    def accepts(self, ctx: OpContext) -> bool:
        ts = [t for t in ctx.inputs] + [ctx.outputs[0]]
        return all(t is not None and not is_quantized(t) and t.dtype == ts[-1].dtype for t in ts) and ts[
            -1
        ].dtype in (_F32, _I32)

    def prepare(self, ctx: OpContext):
        shape = ctx.input(0).shape
        for i in range(1, len(ctx.inputs)):
            if ctx.input(i).shape != shape:
                raise ctx.fail(f"input {i} has shape {ctx.input(i).shape}, input 0 has {shape}")
        ctx.set_output_shape(0, shape)

    def eval(self, params, inputs, outputs):
        out = outputs[0]
        np.copyto(out, inputs[0])
        for x in inputs[1:]:
            np.add(out, x, out=out)
