"""A run of int32 accumulators requantized to 8 bits in explicit 16-lane vectors.

The int8 depthwise kernels (:mod:`~edgelite.interpreter.compute.depthwise_int8_loops`)
requantize each chunk of accumulators with per-element tables, in the one-shift form of
``int_gemm.fast_requant_tables``::

    pq = int64(a[t]) * int64(q[t])
    v  = ((pq + add[t] - (neg[t] if pq + 2**30 < 0 else 0)) >> total[t]) + out_zp
    out[ob + t] = clamp(v, lo, hi)                       (stored as 8 bits)

(``neg`` only where LiteRT rounds some channels gemmlowp's way, ``has_neg``). Written as
a Numba loop, LLVM vectorizes it 4 int64 lanes wide (its tuning prefers 256-bit vectors
on AVX-512 CPUs) with a 64-bit multiply (``vpmullq``, three uops): 37% of the depthwise
layers' time in MobileNetV2 int8. :func:`requant_run` is the same arithmetic as LLVM IR
on ``<16 x i32>`` / ``<16 x i64>`` vectors: the multiply of two sign-extended int32
values becomes ``vpmuldq``. It handles the whole 16-element blocks of the run and returns
how many it did; the caller's loop does the rest, element by element. Without Numba the
Python body below does the whole run (and returns ``n``), so the kernels still run as
Python with ``NUMBA_DISABLE_JIT``.

Kernels call :func:`requant_run` / :func:`requant_run_neg` by name; ``jit`` binds the
intrinsic in their place when it compiles them (``jit_intrinsic`` names the factory).

Example:
    >>> import numpy as np
    >>> a = np.array([100, -100], np.int32)
    >>> q = np.full(2, 1 << 30, np.int32)                 # 0.5
    >>> add, total = np.full(2, 1 << 30, np.int64), np.full(2, 31, np.int64)
    >>> out = np.zeros(2, np.int8)
    >>> requant_run(a, 2, q, add, total, 3, -128, 127, out, 0), out.tolist()
    (2, [53, -47])
"""

from __future__ import annotations

from edgelite.interpreter.compute import ir_blocks

LANES = 16


def requant_run(a, n, q, add, total, out_zp, lo, hi, out, ob):
    """``out[ob + t]`` for ``t < n`` (see the module doc, no ``neg``); returns the count done."""
    for t in range(n):
        v = ((int(a[t]) * int(q[t]) + int(add[t])) >> int(total[t])) + out_zp
        out[ob + t] = min(max(v, lo), hi)
    return n


def requant_run_neg(a, n, q, add, neg, total, out_zp, lo, hi, out, ob):
    """:func:`requant_run` with the ``neg`` correction; returns the count done."""
    for t in range(n):
        pq = int(a[t]) * int(q[t])
        v = ((pq + int(add[t]) - (int(neg[t]) if pq + 1073741824 < 0 else 0)) >> int(total[t])) + out_zp
        out[ob + t] = min(max(v, lo), hi)
    return n


requant_run.jit_intrinsic = "requant_run"
requant_run_neg.jit_intrinsic = "requant_run_neg"

_built: dict[bool, object] = {}


def intrinsic(with_neg: bool):
    """The Numba intrinsic of :func:`requant_run_neg` (``with_neg``) or :func:`requant_run`,
    built once after Numba is imported."""
    fn = _built.get(with_neg)
    if fn is None:
        fn = _built[with_neg] = _make(with_neg)
    return fn


def _make(with_neg: bool):
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic as numba_intrinsic

    i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
    v32, v64, v8 = ir.VectorType(i32, LANES), ir.VectorType(i64, LANES), ir.VectorType(i8, LANES)

    def codegen_for(names):
        def codegen(context, builder, signature, args):
            tys = dict(zip(names, signature.args))
            vals = dict(zip(names, args))

            def data(name):
                return context.make_array(tys[name])(context, builder, vals[name]).data

            def lanes_of(name, index):
                """16 elements of the int32 / int64 array ``name`` from ``index``, as int64."""
                ty = tys[name].dtype
                if not isinstance(ty, types.Integer) or ty.bitwidth not in (32, 64):
                    raise TypeError(f"requant_run: {name} must be an int32 or int64 array, got {tys[name]}")
                ld = ir_blocks.vload(builder, data(name), index, v64 if ty.bitwidth == 64 else v32, ty.bitwidth // 8)
                return ld if ty.bitwidth == 64 else builder.sext(ld, v64)

            def splat(val):
                return ir_blocks.splat(builder, val, v64)

            for name in ("a", "q", "add", "neg", "total", "out"):
                if name in tys and (not isinstance(tys[name], types.Array) or tys[name].ndim != 1
                                    or tys[name].layout != "C"):
                    raise TypeError(f"requant_run: {name} must be a contiguous 1-D array, got {tys[name]}")
            if not isinstance(tys["out"].dtype, types.Integer) or tys["out"].dtype.bitwidth != 8:
                raise TypeError(f"requant_run: out must be an int8 or uint8 array, got {tys['out']}")
            for name in ("a", "q"):
                if not isinstance(tys[name].dtype, types.Integer) or tys[name].dtype.bitwidth != 32:
                    raise TypeError(f"requant_run: {name} must be an int32 array, got {tys[name]}")
            zps, los, his = splat(vals["out_zp"]), splat(vals["lo"]), splat(vals["hi"])
            out_ptr = builder.gep(data("out"), [vals["ob"]])

            def block(t):
                pq = builder.mul(lanes_of("a", t), lanes_of("q", t))
                v = builder.add(pq, lanes_of("add", t))
                if with_neg:
                    below = builder.icmp_signed("<", builder.add(pq, splat(ir.Constant(i64, 1 << 30))),
                                                ir.Constant(v64, None))
                    v = builder.sub(v, builder.select(below, lanes_of("neg", t), ir.Constant(v64, None)))
                v = builder.add(builder.ashr(v, lanes_of("total", t)), zps)
                v = builder.select(builder.icmp_signed("<", v, los), los, v)
                v = builder.select(builder.icmp_signed(">", v, his), his, v)
                st = builder.store(builder.trunc(v, v8), builder.bitcast(builder.gep(out_ptr, [t]), v8.as_pointer()))
                st.align = 1

            return ir_blocks.whole_blocks(builder, vals["n"], LANES, block, "rq")

        return codegen

    if with_neg:
        names = ("a", "n", "q", "add", "neg", "total", "out_zp", "lo", "hi", "out", "ob")

        @numba_intrinsic
        def requant_run_neg(typingctx, a, n, q, add, neg, total, out_zp, lo, hi, out, ob):
            sig = types.int64(a, types.int64, q, add, neg, total, types.int64, types.int64, types.int64, out, types.int64)
            return sig, codegen_for(names)

        return requant_run_neg

    names = ("a", "n", "q", "add", "total", "out_zp", "lo", "hi", "out", "ob")

    @numba_intrinsic
    def requant_run_(typingctx, a, n, q, add, total, out_zp, lo, hi, out, ob):
        sig = types.int64(a, types.int64, q, add, total, types.int64, types.int64, types.int64, out, types.int64)
        return sig, codegen_for(names)

    return requant_run_
