"""Small LLVM-IR building blocks shared by the explicit-vector kernels.

``requant_vec``, ``depthwise_vec`` and ``lut_vec`` (and ``simd_gemm``'s epilogue) emit
their loops as LLVM IR inside Numba intrinsics; these are the pieces they all need:
a loop over the whole vector blocks of a run, an unaligned vector load, a splat.
llvmlite's ``ir`` is passed in (or imported here lazily): importing this module costs
nothing until a kernel is compiled.

Example:
    >>> from edgelite.interpreter.compute import ir_blocks
    >>> ir_blocks.whole_blocks.__name__
    'whole_blocks'
"""

from __future__ import annotations


def vload(builder, ptr, index, vty, align: int):
    """The vector of type ``vty`` at element ``index`` of ``ptr`` (an unaligned-safe load)."""
    ld = builder.load(builder.bitcast(builder.gep(ptr, [index]), vty.as_pointer()))
    ld.align = align
    return ld


def splat(builder, value, vty):
    """``value`` in every lane of a vector of type ``vty``."""
    from llvmlite import ir

    lanes = vty.count
    vec = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(vec, ir.Constant(vty, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), lanes),
                                                                                  [0] * lanes))


def whole_blocks(builder, n, block: int, emit, name: str = "blk"):
    """Emit ``for t in range(0, n // block * block, block): emit(t)`` (``n``, ``t``: i64)
    and return the count covered, ``n // block * block`` (the caller's loop does the rest)."""
    from llvmlite import ir

    i64 = ir.IntType(64)
    covered = builder.mul(builder.sdiv(n, ir.Constant(i64, block)), ir.Constant(i64, block))
    pre = builder.block
    head = builder.append_basic_block(f"{name}.head")
    body = builder.append_basic_block(f"{name}.body")
    done = builder.append_basic_block(f"{name}.done")
    builder.branch(head)
    builder.position_at_end(head)
    t = builder.phi(i64, "t")
    t.add_incoming(ir.Constant(i64, 0), pre)
    builder.cbranch(builder.icmp_signed("<", t, covered), body, done)
    builder.position_at_end(body)
    emit(t)
    t.add_incoming(builder.add(t, ir.Constant(i64, block)), builder.block)
    builder.branch(head)
    builder.position_at_end(done)
    return covered


def host_has(*features: str) -> bool:
    """Whether this CPU has every one of ``features`` (``/proc/cpuinfo`` names, which
    LLVM's host features share for these) and Numba compiles for it: False when
    ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` point Numba at another CPU. The explicit-
    vector modules compile their intrinsics only where this holds."""
    import os

    if os.environ.get("NUMBA_CPU_NAME") or os.environ.get("NUMBA_CPU_FEATURES"):
        return False
    from edgelite.interpreter.compute import simd_gemm

    flags = simd_gemm._linux_cpu_flags()
    if flags is not None:
        return set(features) <= flags
    try:
        import llvmlite.binding as llvm

        feats = llvm.get_host_cpu_features()
    except (ImportError, RuntimeError):
        return False
    return all(feats.get(f, False) for f in features)
