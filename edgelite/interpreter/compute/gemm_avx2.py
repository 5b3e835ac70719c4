"""The AVX2 flavour of the int8 GEMM micro-kernel (e.g. Intel client CPUs, AMD Zen 2/3).

``vpmaddwd`` multiplies int16 pairs and adds each pair to an int32 lane, 16
multiply-adds per instruction, accumulated with plain 32-bit adds. ``vpmaddubsw`` (32
per instruction) is not used: it saturates its int16 pair sums (``2 * 255 * 127 >
32767``), which is not exact. Activations are sign-extended int8 pairs (the driver
widens each row tile once, :func:`make_widen`), so no ``+ 128`` is needed and the bias
correction is just ``-x_zp * sum w``. Weights are packed int16 ``[n_tiles][K/2][NR][8
lanes][2]``.

Example:
    >>> from edgelite.interpreter.compute.gemm_avx2 import AVX2
    >>> AVX2.name, AVX2.lanes, AVX2.input_offset
    ('avx2', 8, 0)
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.compute.simd_flavour import Flavour


def _madd_signature(ir, vacc):
    vin = ir.VectorType(ir.IntType(16), 2 * vacc.count)
    return vin, "llvm.x86.avx2.pmadd.wd", ir.FunctionType(vacc, [vin, vin])


def _load_word(builder, ir, p):
    """An int16 pair of the widened rows, read as one int32 (a broadcast load)."""
    word = builder.load(builder.bitcast(p, ir.IntType(32).as_pointer()))
    word.align = 2
    return word


def _as_operand(builder, vec, vin):
    return builder.bitcast(vec, vin)


def _madd(builder, fn, acc, a, b):
    return builder.add(acc, builder.call(fn, [a, b]))


# 16 ymm registers: 12 accumulators + NR weights + one broadcast (NR 4: a weight vector
# is read from L1 as a memory operand)
AVX2 = Flavour("avx2", 8, 2, 16, np.int16, {1: 12, 2: 6, 3: 4, 4: 3}, (8, 4, 2), 131071,
               frozenset({"avx2"}), ("avx2",),
               input_offset=0, widen_rows=True, madd_signature=_madd_signature, load_word=_load_word,
               as_operand=_as_operand, madd=_madd)


def make_widen():
    """A Numba intrinsic ``widen16(a, src, dst, d_off)``: ``dst[d_off + t] = int16(a[src + t])``
    for ``t < 16``, as one vector load, sign extension and store (LLVM's own
    vectorization of the plain loop came out as byte inserts, 5x slower overall)."""
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic

    vb, vh = ir.VectorType(ir.IntType(8), 16), ir.VectorType(ir.IntType(16), 16)

    @intrinsic
    def widen16(typingctx, a, src, dst, d_off):
        sig = types.void(a, src, dst, d_off)

        def codegen(context, builder, signature, args):
            a_v, src_v, dst_v, d_off_v = args
            a_ptr = context.make_array(signature.args[0])(context, builder, a_v).data
            d_ptr = context.make_array(signature.args[2])(context, builder, dst_v).data
            ld = builder.load(builder.bitcast(builder.gep(a_ptr, [src_v]), vb.as_pointer()))
            ld.align = 1
            st = builder.store(builder.sext(ld, vh), builder.bitcast(builder.gep(d_ptr, [d_off_v]), vh.as_pointer()))
            st.align = 2
            return context.get_dummy_value()

        return sig, codegen

    return widen16
