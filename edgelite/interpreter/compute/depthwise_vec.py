"""The multiply-adds of the int8 3x3 / 5x5 depthwise kernels in explicit 32-lane vectors.

:mod:`~edgelite.interpreter.compute.depthwise_int8_loops` sums, for each value ``t`` of a
chunk of output pixels (``a`` is int32, the sum wraps as LiteRT's int32 does)::

    a[t] = int32(bias[t] + sum_{i, j < k} wt[i*k + j, t] * xs[b, r0 + i*dh, base + taps[j] + t])

Each product fits int16 (``|w| <= 127``, ``|x| <= 128``: at most 16384) and so does the
sum of two (at most 32512), so the products are summed in int16 pairs and then in int32;
no step overflows, and int32 additions give the same bits in any order. Written as a Numba
loop, LLVM vectorizes it 16 int16 lanes wide (its tuning prefers 256-bit vectors on
AVX-512 CPUs). :func:`dw_run` emits the same sums as LLVM IR on ``<32 x i16>`` and
``<32 x i32>`` vectors for the whole 32-value blocks of the chunk and returns how many
values it did; the kernel's own loop does the rest. Without Numba the Python body below
does the whole chunk (and returns ``n``).

Kernels call :func:`dw_run` by name; ``jit`` binds the intrinsic for the filter size
``k`` (3 or 5, the length of ``taps``: a kernel passes a ``k``-long array, and ``jit``
binds by the name the kernel uses, ``dw_run3`` or ``dw_run5``).

Example:
    >>> import numpy as np
    >>> xs = np.arange(2 * 3 * 8, dtype=np.int8).reshape(1, 6, 8)      # 6 rows of 8 values
    >>> wt = np.ones((9, 4), np.int16); a = np.zeros(4, np.int32)
    >>> dw_run(xs, 0, 0, 1, 0, np.array([0, 1, 2]), wt, np.zeros(4, np.int32), a, 4)
    4
    >>> a.tolist()   # a[0] = sum of rows 0-2, columns 0-2
    [81, 90, 99, 108]
"""

from __future__ import annotations

from edgelite.interpreter.compute import ir_blocks

LANES = 32


def dw_run(xs, b, r0, dh, base, taps, wt, bias, a, n):
    """``a[t]`` for ``t < n`` (see the module doc); returns the count done."""
    k = len(taps)
    for t in range(n):
        s = int(bias[t])
        for i in range(k):
            row = xs[b, r0 + i * dh]
            for j in range(k):
                s += int(wt[i * k + j, t]) * int(row[base + taps[j] + t])
        a[t] = (s + 2**31) % 2**32 - 2**31
    return n


def dw_run3(xs, b, r0, dh, base, taps, wt, bias, a, n):
    """:func:`dw_run` for 3x3 filters (what ``jit`` binds by this name)."""
    return dw_run(xs, b, r0, dh, base, taps, wt, bias, a, n)


def dw_run5(xs, b, r0, dh, base, taps, wt, bias, a, n):
    """:func:`dw_run` for 5x5 filters (what ``jit`` binds by this name)."""
    return dw_run(xs, b, r0, dh, base, taps, wt, bias, a, n)


dw_run3.jit_intrinsic = "dw_run3"
dw_run5.jit_intrinsic = "dw_run5"

_built: dict[int, object] = {}


def intrinsic(k: int):
    """The Numba intrinsic of :func:`dw_run` for ``k x k`` filters, built once after Numba is imported."""
    fn = _built.get(k)
    if fn is None:
        fn = _built[k] = _make(k)
    return fn


def _make(k: int):
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic as numba_intrinsic

    i8, i16, i32, i64 = ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
    vx, vw, va = ir.VectorType(i8, LANES), ir.VectorType(i16, LANES), ir.VectorType(i32, LANES)
    names = ("xs", "b", "r0", "dh", "base", "taps", "wt", "bias", "a", "n")
    want = {"xs": (3, 8), "taps": (1, 64), "wt": (2, 16), "bias": (1, 32), "a": (1, 32)}

    def codegen(context, builder, signature, args):
        tys = dict(zip(names, signature.args))
        vals = dict(zip(names, args))
        for name, (ndim, bits) in want.items():
            ty = tys[name]
            if (not isinstance(ty, types.Array) or ty.ndim != ndim or ty.layout != "C"
                    or not isinstance(ty.dtype, types.Integer) or ty.dtype.bitwidth != bits
                    or (name != "taps" and not ty.dtype.signed)):
                raise TypeError(f"dw_run: {name} must be a contiguous {ndim}-D int{bits} array, got {ty}")
        arrays = {name: context.make_array(tys[name])(context, builder, vals[name]) for name in want}
        _, hp, rowlen = cgutils.unpack_tuple(builder, arrays["xs"].shape, 3)
        wt_cols = cgutils.unpack_tuple(builder, arrays["wt"].shape, 2)[1]
        xs_data, wt_data = arrays["xs"].data, arrays["wt"].data
        bias_data, a_data, taps_data = arrays["bias"].data, arrays["a"].data, arrays["taps"].data
        b, r0, dh, base, n = (vals[v] for v in ("b", "r0", "dh", "base", "n"))

        rows = []
        for i in range(k):
            r = builder.add(builder.mul(b, hp), builder.add(r0, builder.mul(dh, ir.Constant(i64, i))))
            rows.append(builder.gep(xs_data, [builder.add(builder.mul(r, rowlen), base)]))
        taps = [builder.load(builder.gep(taps_data, [ir.Constant(i64, j)])) for j in range(k)]
        wrows = [builder.gep(wt_data, [builder.mul(wt_cols, ir.Constant(i64, f))]) for f in range(k * k)]

        def vload(ptr, index, vty, align):
            return ir_blocks.vload(builder, ptr, index, vty, align)

        def block(t):
            acc = vload(bias_data, t, va, 4)
            prods = []
            for i in range(k):
                for j in range(k):
                    x = builder.sext(vload(rows[i], builder.add(taps[j], t), vx, 1), vw)
                    prods.append(builder.mul(vload(wrows[i * k + j], t, vw, 2), x))
            for p in range(0, len(prods), 2):
                pair = prods[p] if p + 1 == len(prods) else builder.add(prods[p], prods[p + 1])
                acc = builder.add(acc, builder.sext(pair, va))
            st = builder.store(acc, builder.bitcast(builder.gep(a_data, [t]), va.as_pointer()))
            st.align = 4

        return ir_blocks.whole_blocks(builder, n, LANES, block, "dw")

    @numba_intrinsic
    def dw_run_k(typingctx, xs, b, r0, dh, base, taps, wt, bias, a, n):
        i = types.int64
        return types.int64(xs, i, i, i, i, taps, wt, bias, a, i), codegen

    return dw_run_k
