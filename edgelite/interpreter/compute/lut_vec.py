"""8-bit table lookups, 64 bytes at a time with AVX-512 VBMI.

``out[i] = table[xb[i]]`` (a 256-entry table of 8-bit values, ``xb`` the input's bytes)
is how the int8 kernels apply an activation of one input (LOGISTIC, TANH, the fused
``LOGISTIC+MUL`` of EfficientNet's swish, ...). As a Numba loop it is one scalar load
per byte (0.3 ns a value: EfficientNet-B0 int8 spends 16% of its time there). With
AVX-512 VBMI, ``vpermi2b`` picks 64 bytes out of a 128-byte half of the table in one
instruction; two of them and a select on each index's top bit give 64 lookups
(about 4x faster, measured on 1.2 M values). :func:`lut_run` does the whole 64-byte
blocks of a run and returns how many values it did; the caller's loop does the rest.

Only where the CPU has AVX-512 VBMI (Ice Lake and later, Zen 4) and Numba compiles for
the host CPU (no ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``). Elsewhere ``jit`` binds a
compiled function that does nothing and returns 0, so the loop does every value; without
Numba the Python body below does the whole run (and returns ``n``). Kernels call
:func:`lut_run` by name; ``jit`` binds what :func:`intrinsic` gives in its place.

Example:
    >>> import numpy as np
    >>> table = np.arange(256, dtype=np.uint8)[::-1].copy()
    >>> out = np.zeros(3, np.uint8)
    >>> lut_run(table, np.array([0, 1, 255], np.uint8), out), out.tolist()
    (3, [255, 254, 0])
"""

from __future__ import annotations

from edgelite.interpreter.compute import ir_blocks

BLOCK = 64


def lut_run(table, xb, out):
    """``out[i] = table[xb[i]]`` for every ``i``; returns the count done."""
    n = xb.shape[0]
    for i in range(n):
        out[i] = table[xb[i]]
    return n


lut_run.jit_intrinsic = "lut_run"

_built = None


def vbmi_available() -> bool:
    """Whether the vector lookup can be compiled and run here (see the module doc)."""
    return ir_blocks.host_has("avx512f", "avx512bw", "avx512vbmi")


def intrinsic():
    """What ``jit`` binds for :func:`lut_run`: the VBMI intrinsic, or a compiled function
    that returns 0 where it cannot run. Built once, after Numba is imported."""
    global _built
    if _built is None:
        _built = _make() if vbmi_available() else _make_none()
    return _built


def _make_none():
    from numba import njit

    @njit(nogil=True)
    def lut_run_none(table, xb, out):
        return 0

    return lut_run_none


def _make():
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic as numba_intrinsic

    i8, i64 = ir.IntType(8), ir.IntType(64)
    vb = ir.VectorType(i8, BLOCK)
    name = "llvm.x86.avx512.vpermi2var.qi.512"

    def codegen(context, builder, signature, args):
        tys = signature.args
        for k, what in enumerate(("table", "xb", "out")):
            ty = tys[k]
            if (not isinstance(ty, types.Array) or ty.ndim != 1 or ty.layout != "C"
                    or not isinstance(ty.dtype, types.Integer) or ty.dtype.bitwidth != 8):
                raise TypeError(f"lut_run: {what} must be a contiguous 1-D array of bytes, got {ty}")
        arrays = [context.make_array(tys[k])(context, builder, args[k]) for k in range(3)]
        table, xb, out = (a.data for a in arrays)
        n = builder.extract_value(arrays[1].shape, 0)
        fn = builder.module.globals.get(name)
        if fn is None:
            fn = ir.Function(builder.module, ir.FunctionType(vb, [vb, vb, vb]), name=name)
        quarters = []
        tp = builder.bitcast(table, vb.as_pointer())
        for q in range(4):  # the table's four 64-byte quarters (the caller checks its 256 entries)
            ld = builder.load(builder.gep(tp, [ir.Constant(i64, q)]))
            ld.align = 1
            quarters.append(ld)
        def block(i):
            idx = ir_blocks.vload(builder, xb, i, vb, 1)
            low = builder.call(fn, [quarters[0], idx, quarters[1]])  # table[idx & 127]
            high = builder.call(fn, [quarters[2], idx, quarters[3]])  # table[128 + (idx & 127)]
            picked = builder.select(builder.icmp_signed("<", idx, ir.Constant(vb, None)), high, low)  # idx >= 128
            st = builder.store(picked, builder.bitcast(builder.gep(out, [i]), vb.as_pointer()))
            st.align = 1

        return ir_blocks.whole_blocks(builder, n, BLOCK, block, "lut")

    @numba_intrinsic
    def lut_run_vbmi(typingctx, table, xb, out):
        return types.int64(table, xb, out), codegen

    return lut_run_vbmi
