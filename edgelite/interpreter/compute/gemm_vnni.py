"""The AVX-512 VNNI flavour of the int8 GEMM micro-kernel.

``vpdpbusd`` multiplies 4 unsigned bytes by 4 signed bytes and adds the four products
to an int32 lane, 64 multiply-adds per instruction (a float32 FMA does 16). Its first
operand is unsigned, so the activations are read as ``x ^ 0x80 == x + 128`` (one
``xor`` per broadcast) and the constant ``128 * sum_k w[n, k]`` is taken off through
the bias (``input_offset``): ``sum (x + 128) w - (128 + x_zp) sum w == sum (x - x_zp) w``.
No product can overflow (``|(x + 128) w| <= 32640``); ``max_depth`` keeps every partial
sum in int32 range. Weights are packed int8 ``[n_tiles][K/4][NR][16 lanes][4]``.

Example:
    >>> from edgelite.interpreter.compute.gemm_vnni import VNNI
    >>> VNNI.name, VNNI.vec_elems
    ('vnni', 64)
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.compute.simd_flavour import Flavour


def _madd_signature(ir, vacc):
    return vacc, "llvm.x86.avx512.vpdpbusd.512", ir.FunctionType(vacc, [vacc, vacc, vacc])


def _load_word(builder, ir, p):
    """4 int8 activations as one int32, each byte read as ``x + 128`` (unsigned)."""
    i32 = ir.IntType(32)
    ld = builder.load(builder.bitcast(p, i32.as_pointer()))
    ld.align = 1
    return builder.xor(ld, ir.Constant(i32, 0x80808080 - (1 << 32)))


def _as_operand(builder, vec, vin):
    return vec


def _madd(builder, fn, acc, a, b):
    return builder.call(fn, [acc, a, b])  # vpdpbusd accumulates itself


VNNI = Flavour("vnni", 16, 4, 64, np.int8, {1: 12, 2: 8, 3: 6, 4: 6}, (8, 4, 2), 65792,
               frozenset({"avx512f", "avx512bw", "avx512_vnni"}), ("avx512f", "avx512bw", "avx512vnni"),
               input_offset=128, widen_rows=False, madd_signature=_madd_signature, load_word=_load_word,
               as_operand=_as_operand, madd=_madd)
