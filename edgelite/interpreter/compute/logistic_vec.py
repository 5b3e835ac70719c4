"""LiteRT's packet logistic (and the swish ``x * logistic(x)``) 16 floats at a time.

``float_order._logistic_packets_jit`` is Eigen's packet logistic one rounding at a
time, as LiteRT's built-in LOGISTIC computes it. Numba's LLVM compiles it for 256-bit
vectors (it prefers them on AVX-512 CPUs): 0.9 ns a value measured, compute-bound (the
same in L1 as in memory), and EfficientNet-B0's swish activations spent 22% of its
dynamic-range invoke there. :func:`logistic_run` emits the same operations, in the same
order and with the same comparisons and selects, on 16-lane vectors (``<16 x float>``)
as LLVM IR, so each lane gets the bits the scalar formula gives (NaN, infinities and the
clamp's ``max``/``min`` included, as Numba lowers them: ``max(r, lo)`` is ``lo if lo > r
else r``). It does the whole 16-value blocks of a run and returns how many values it
did; the caller's loop does the rest.

Only where the CPU has AVX-512F and Numba compiles for the host CPU (no
``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``): elsewhere ``jit`` binds a compiled function
that does nothing and returns 0. Without Numba the Python body below does the whole run.
Kernels call :func:`logistic_run` by name; ``jit`` binds what :func:`intrinsic` gives.

Example:
    >>> import numpy as np
    >>> out = np.zeros(3, np.float32)
    >>> logistic_run(np.array([-200.0, 0.0, 30.0], np.float32), out, 0, False, np.float32(0), np.float32(0))
    3
    >>> out.tolist()
    [0.0, 0.5, 1.0]
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.compute import ir_blocks

BLOCK = 16
LANES = 16

_F = np.float32
# The constants of float_order (Eigen's, as compiled into LiteRT); float_order imports
# this module, so they are repeated here and a test checks that they agree.
EXP_HI, LOGISTIC_LO, HALF, LOG2E = _F(16.635532), _F(-104.0), _F(0.5), _F(1.4426950216293335)
LN2_HI, LN2_LO = _F(-0.693359375), _F(2.1219444170128554e-4)
P0, P1, P2, P3 = _F(0.04189866781234741), _F(0.49999141693115234), _F(0.00833471305668354), _F(0.16666877269744873)
ONE, BIAS, EXP_MAX = _F(1.0), _F(127.0), _F(255.0)


def logistic_run(x, out, write, clamp, lo, hi):
    """``out[i]`` = the packet logistic of ``x[i]`` (``write`` 0), ``x * l`` (1) or ``l * x``
    (2), clamped to ``[lo, hi]`` when ``clamp`` (``float_order``'s ``_written``); returns
    the count done. Without Numba: ``float_order``'s numpy packet formula, then the
    product and the clamp as Numba's ``max``/``min`` give them (``lo if lo > r else r``)."""
    from edgelite.interpreter.compute import float_order

    n = x.shape[0]
    if n == 0:
        return 0
    q = float_order._logistic_packets(np.asarray(x, np.float32))
    if write != 0:
        with np.errstate(all="ignore"):
            q = (x * q if write == 1 else q * x).astype(np.float32)
        if clamp:
            q = np.where(lo > q, lo, q)
            q = np.where(hi < q, hi, q)
    out[:n] = q
    return n


logistic_run.jit_intrinsic = "logistic_run"

_built = None


def avx512_available() -> bool:
    """Whether the 16-lane form can be compiled and run here (see the module doc)."""
    return ir_blocks.host_has("avx512f")


def intrinsic():
    """What ``jit`` binds for :func:`logistic_run`: the 16-lane intrinsic, or a compiled
    function that returns 0 where it cannot run. Built once, after Numba is imported."""
    global _built
    if _built is None:
        _built = _make() if avx512_available() else _make_none()
    return _built


def _make_none():
    from numba import njit

    @njit(nogil=True)
    def logistic_run_none(x, out, write, clamp, lo, hi):
        return 0

    return logistic_run_none


def _make():
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic as numba_intrinsic

    f32, i32, i64 = ir.FloatType(), ir.IntType(32), ir.IntType(64)
    vf, vi = ir.VectorType(f32, LANES), ir.VectorType(i32, LANES)

    def const(value):
        return ir.Constant(vf, [float(value)] * LANES)

    def codegen(context, builder, signature, args):
        tys = signature.args
        for k, what in enumerate(("x", "out")):
            ty = tys[k]
            if not isinstance(ty, types.Array) or ty.ndim != 1 or ty.layout != "C" or ty.dtype != types.float32:
                raise TypeError(f"logistic_run: {what} must be a contiguous 1-D float32 array, got {ty}")
        xa = context.make_array(tys[0])(context, builder, args[0])
        oa = context.make_array(tys[1])(context, builder, args[1])
        n = builder.extract_value(xa.shape, 0)
        write = context.cast(builder, args[2], tys[2], types.int64)
        clamp = context.cast(builder, args[3], tys[3], types.boolean)
        lo = ir_blocks.splat(builder, context.cast(builder, args[4], tys[4], types.float32), vf)
        hi = ir_blocks.splat(builder, context.cast(builder, args[5], tys[5], types.float32), vf)
        floor = builder.module.globals.get("llvm.floor.v16f32") or ir.Function(
            builder.module, ir.FunctionType(vf, [vf]), name="llvm.floor.v16f32")
        x_times = builder.icmp_signed("==", write, ir.Constant(i64, 1))
        plain = builder.icmp_signed("==", write, ir.Constant(i64, 0))

        def block(i):
            v = ir_blocks.vload(builder, xa.data, i, vf, 4)
            h = builder.fmul(builder.select(builder.fcmp_ordered(">=", v, const(EXP_HI)), const(EXP_HI), v), const(HALF))
            m = builder.call(floor, [builder.fadd(builder.fmul(h, const(LOG2E)), const(HALF))])
            r = builder.fadd(builder.fmul(m, const(LN2_HI)), h)
            r = builder.fadd(builder.fmul(m, const(LN2_LO)), r)
            r2 = builder.fmul(r, r)
            a = builder.fadd(builder.fmul(r2, const(P0)), const(P1))
            b = builder.fadd(builder.fmul(builder.fadd(builder.fmul(r2, const(P2)), const(P3)), r), a)
            y = builder.fadd(builder.fmul(b, r2), builder.fadd(r, const(ONE)))
            t = builder.fadd(m, const(BIAS))
            t = builder.select(builder.fcmp_ordered(">=", t, const(0.0)), t, const(0.0))
            t = builder.select(builder.fcmp_ordered("<=", t, const(EXP_MAX)), t, const(EXP_MAX))
            k = builder.shl(builder.fptosi(t, vi), ir.Constant(vi, [23] * LANES))
            e = builder.fmul(builder.bitcast(k, vf), y)
            e = builder.fmul(e, e)
            q = builder.fdiv(e, builder.fadd(e, const(ONE)))
            q = builder.select(builder.fcmp_ordered("<", v, const(LOGISTIC_LO)), const(0.0), q)
            prod = builder.select(x_times, builder.fmul(v, q), builder.fmul(q, v))
            clamped = builder.select(builder.fcmp_ordered(">", lo, prod), lo, prod)
            clamped = builder.select(builder.fcmp_ordered("<", hi, clamped), hi, clamped)
            res = builder.select(plain, q, builder.select(clamp, clamped, prod))
            st = builder.store(res, builder.bitcast(builder.gep(oa.data, [i]), vf.as_pointer()))
            st.align = 4

        return ir_blocks.whole_blocks(builder, n, BLOCK, block, "logistic")

    @numba_intrinsic
    def logistic_run_avx512(typingctx, x, out, write, clamp, lo, hi):
        return types.int64(x, out, write, clamp, lo, hi), codegen

    return logistic_run_avx512
