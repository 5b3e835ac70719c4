"""The compiled parts of :mod:`~edgelite.interpreter.compute.native_pool` (imports Numba).

Imported only by ``native_pool`` once Numba is loaded. Everything here is compiled with
Numba's on-disk cache: the helpers' polling loop, the job post, and the intrinsics the
generated *unpackers* use (each unpacker is a ``cfunc`` written to a file by
``native_pool`` so that Numba can cache it as well).

Example:
    >>> from edgelite.interpreter.compute import native_loops   # doctest: +SKIP
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import carray, types
from numba.core import callconv, cgutils
from numba.extending import intrinsic

from edgelite.interpreter.compute import pool
from edgelite.interpreter.compute.jit import _load_cached
from edgelite.interpreter.compute.native_pool import (ASLEEP, BETWEEN, BETWEEN_YIELDS, BLOCK, CALLER_SPIN_TRIES, PARK, SEQ,
                                                      STOP, YIELD)

CHAIN_CALL, CHAIN_COPY, CHAIN_FILL, CHAIN_SCATTER, CHAIN_POOLED = 0, 1, 2, 3, 4  # a chain's rows (run_chain)
CTR_LEN = pool.CTR_LEN

_I32, _I64 = ir.IntType(32), ir.IntType(64)


@intrinsic
def load_word(typingctx, addr, index):
    """The int64 at ``addr + 8 * index`` (an atomic, sequentially consistent read)."""
    def codegen(context, builder, signature, args):
        ptr = builder.gep(builder.inttoptr(args[0], _I64.as_pointer()), [args[1]])
        return builder.load_atomic(ptr, "seq_cst", 8)
    return types.int64(types.int64, types.int64), codegen


@intrinsic
def call_block(typingctx, fn, block):
    """``fn(block)`` for a C function ``void fn(int64)`` at address ``fn``."""
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.VoidType(), [_I64])
        builder.call(builder.inttoptr(args[0], fnty.as_pointer()), [args[1]])
        return context.get_dummy_value()
    return types.void(types.int64, types.int64), codegen


@intrinsic
def cpu_relax(typingctx):
    """A spin-wait hint: ``pause`` (x86), ``yield`` (AArch64), nothing elsewhere."""
    def codegen(context, builder, signature, args):
        triple = builder.module.triple or ""
        if triple.startswith(("x86_64", "i686", "i386")):
            name, argtys, vals = "llvm.x86.sse2.pause", [], []
        elif triple.startswith(("aarch64", "arm64")):
            name, argtys, vals = "llvm.aarch64.hint", [_I32], [ir.Constant(_I32, 1)]
        else:
            return context.get_dummy_value()
        fn = builder.module.globals.get(name) or ir.Function(builder.module, ir.FunctionType(ir.VoidType(), argtys),
                                                             name=name)
        builder.call(fn, vals)
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def call_yield(typingctx, fn):
    """``fn()`` for a C function ``int fn(void)`` at address ``fn`` (``sched_yield``)."""
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(_I32, [])
        builder.call(builder.inttoptr(args[0], fnty.as_pointer()), [])
        return context.get_dummy_value()
    return types.void(types.int64), codegen


@intrinsic
def exchange(typingctx, arr, idx, val):
    """``arr[idx] = val`` as an atomic exchange (sequentially consistent: the stores
    before it are visible to whoever reads the new value)."""
    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        builder.atomic_rmw("xchg", builder.gep(ary.data, [args[1]]), args[2], "seq_cst")
        return context.get_dummy_value()
    return types.void(arr, types.int64, types.int64), codegen


@intrinsic
def as_ptr(typingctx, v):
    """An int64 address as a pointer (for ``numba.carray``)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], ir.IntType(8).as_pointer())
    return types.voidptr(types.int64), codegen


@intrinsic
def bits_as(typingctx, v, like):
    """The low bits of int64 ``v`` read as ``like``'s dtype (a float scalar's bits)."""
    target = like.dtype if isinstance(like, types.Array) else like

    def codegen(context, builder, signature, args):
        width = target.bitwidth
        raw = builder.trunc(args[0], ir.IntType(width)) if width < 64 else args[0]
        return builder.bitcast(raw, context.get_value_type(target))
    return target(types.int64, like), codegen


def cfunc_loaded(sig, cache: bool = False):
    """``numba.cfunc(sig, nogil=True, cache=cache)``, loading cached code the way
    :mod:`~edgelite.interpreter.compute.jit` loads its kernels (``jit._load_cached``:
    without Numba's full context refresh, which imports SciPy; 0.4 s measured at the
    first unpacker of a process)."""
    from numba.core import sigutils
    from numba.core.ccallback import CFunc

    def wrap(pyfunc):
        fn = CFunc(pyfunc, sigutils.normalize_signature(sig), locals={}, options={"nogil": True})
        if cache:
            fn.enable_caching()
            _load_cached(fn)
        fn.compile()
        return fn

    return wrap


def make_call_entry(argtypes: tuple, restype):
    """An intrinsic ``call_entry(entry, *args)``: calls the C-ABI function at ``entry``
    (Numba's ``cfunc`` wrapper of a compiled overload) with ``args`` as ``argtypes``."""
    def codegen(context, builder, signature, args):
        lltys = [context.get_value_type(t) for t in argtypes]
        vals = [context.cast(builder, v, st, t) for v, st, t in zip(args[1:], signature.args[1:], argtypes)]
        fnty = ir.FunctionType(context.get_value_type(restype), lltys)
        builder.call(builder.inttoptr(args[0], fnty.as_pointer()), vals)
        return context.get_dummy_value()

    params = ", ".join(f"x{i}" for i in range(len(argtypes)))
    ns = {"sig": types.void(types.int64, *argtypes), "codegen": codegen, "__name__": __name__}
    exec(f"def call_entry(typingctx, entry, {params}):\n    return sig, codegen\n", ns)  # noqa: S102 - named parameters
    return intrinsic(ns["call_entry"])


def make_call_native(argtypes: tuple, restype):
    """An intrinsic ``call_entry(fn, *args) -> int64``: calls the Numba-native function at
    ``fn`` (a compiled overload's own function, in Numba's calling convention) with
    ``args`` as ``argtypes``, and returns 1 when it raised, else 0. Its return value
    (``restype``: none or a scalar) is dropped; the exception is left for the caller to
    raise again through the kernel's Python entry (:mod:`native_chain`)."""
    def codegen(context, builder, signature, args):
        vals = [context.cast(builder, v, st, t) for v, st, t in zip(args[1:], signature.args[1:], argtypes)]
        call_conv = context.call_conv
        fnty = call_conv.get_function_type(restype, argtypes)
        retty = fnty.args[0].pointee
        retval = cgutils.alloca_once(builder, retty)
        builder.store(cgutils.get_null_value(retty), retval)
        excinfo = cgutils.alloca_once(builder, fnty.args[1].pointee, name="excinfo")
        packed = list(context.get_arg_packer(argtypes).as_arguments(builder, vals))
        code = builder.call(builder.inttoptr(args[0], fnty.as_pointer()), [retval, excinfo, *packed])
        ok = builder.or_(builder.icmp_signed("==", code, callconv.RETCODE_OK),
                         builder.icmp_signed("==", code, callconv.RETCODE_NONE))
        return builder.select(ok, ir.Constant(_I64, 0), ir.Constant(_I64, 1))

    params = ", ".join(f"x{i}" for i in range(len(argtypes)))
    ns = {"sig": types.int64(types.int64, *argtypes), "codegen": codegen, "__name__": __name__}
    exec(f"def call_entry(typingctx, entry, {params}):\n    return sig, codegen\n", ns)  # noqa: S102 - named parameters
    return intrinsic(ns["call_entry"])


@intrinsic
def call_status(typingctx, fn, block):
    """``fn(block)`` for a C function ``int64 fn(int64)`` at address ``fn`` (a chain's unpacker)."""
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(_I64, [_I64])
        return builder.call(builder.inttoptr(args[0], fnty.as_pointer()), [args[1]])
    return types.int64(types.int64, types.int64), codegen


@intrinsic
def move_bytes(typingctx, dst, src, n):
    """``memmove(dst, src, n)`` for int64 addresses."""
    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        cgutils.raw_memmove(builder, builder.inttoptr(args[0], i8p), builder.inttoptr(args[1], i8p), args[2], 1)
        return context.get_dummy_value()
    return types.void(types.int64, types.int64, types.int64), codegen


_fetch_add = pool.fetch_add_intrinsic()


@numba.njit(nogil=True, cache=True)
def worker(state, index, spin_limit):
    """Poll ``state`` for jobs; run each one this helper (``index``) may join. Returns
    1 after ``spin_limit`` idle polls or when told to park, 0 when told to stop."""
    seen = _fetch_add(state, SEQ, 0)
    idle = 0
    while True:
        seq = _fetch_add(state, SEQ, 0)
        if seq != seen:
            seen = seq
            block = _fetch_add(state, BLOCK, 0)
            if block != 0 and index < load_word(block, 2):
                call_block(load_word(block, 0), block)
            idle = 0
        elif _fetch_add(state, STOP, 0) != 0:
            return 0
        elif _fetch_add(state, PARK, 0) != 0:
            return 1
        else:
            idle += 1
            if _fetch_add(state, BETWEEN, 0) != 0 and state[YIELD] != 0:
                # between invokes: give the core to any thread that wants it, and sleep
                # after BETWEEN_YIELDS of them (a few hundred microseconds)
                call_yield(state[YIELD])
                if idle >= BETWEEN_YIELDS:
                    return 1
            else:
                cpu_relax()
            if idle >= spin_limit:
                return 1


@numba.njit(nogil=True, cache=True)
def post(state, block, ctr):
    """Reset a call's counter (finished and slot counts first: the claim count opens
    it) and publish its block."""
    ctr[1] = 0
    ctr[2] = 0
    exchange(ctr, 0, 0)
    exchange(state, PARK, 0)
    exchange(state, BLOCK, block)
    _fetch_add(state, SEQ, 1)


@numba.njit(nogil=True, cache=True)
def spin(n):
    """``n`` spin-wait hints (to time one)."""
    for _ in range(n):
        cpu_relax()


@numba.njit(nogil=True, cache=True)
def run_chain(table, start, flags):
    """Run rows ``start..`` of a chain's table (:mod:`native_chain`), each
    ``[kind, a, b, c, d]``, without the GIL (as the kernels themselves run):

    * ``CALL``: ``[CALL, unpacker, block, counter, 0]``, the counter's words zeroed first
      when its address is not 0;
    * ``COPY``: ``[COPY, destination, source, bytes, 0]``;
    * ``FILL``: ``[FILL, destination, count, pattern, itemsize]``: ``count`` items of
      ``itemsize`` bytes (1, 2, 4 or 8), each the low bytes of ``pattern``;
    * ``SCATTER``: ``[SCATTER, block, 0, 0, 0]``, a contiguous source copied into a
      strided destination in runs (:func:`scatter`);
    * ``POOLED``: ``[POOLED, block, 0, 0, 0]``, a call shared with the native helpers
      (:func:`pooled`).

    Returns -1 when every row ran; ``i`` when the call of row ``i`` raised (the rest not
    run); ``-(i + 2)`` when row ``i`` found helpers asleep and ``flags[0]`` was 0 (it sets
    it: the caller wakes them and runs the chain on from row ``i``)."""
    for i in range(start, table.shape[0]):
        kind = table[i, 0]
        if kind == CHAIN_CALL:
            ctr = table[i, 3]
            if ctr != 0:
                words = carray(as_ptr(ctr), CTR_LEN, np.int64)
                for w in range(CTR_LEN):
                    words[w] = 0
            if call_status(table[i, 1], table[i, 2]) != 0:
                return i
        elif kind == CHAIN_COPY:
            move_bytes(table[i, 1], table[i, 2], table[i, 3])
        elif kind == CHAIN_FILL:
            fill(table[i, 1], table[i, 2], table[i, 3], table[i, 4])
        elif kind == CHAIN_SCATTER:
            scatter(table[i, 1])
        else:
            status = pooled(table[i, 1], flags)
            if status == 1:
                return i
            if status == 2:
                return -(i + 2)
    return -1


@numba.njit(nogil=True, cache=True)
def pooled(block, flags):
    """A ``POOLED`` row: ``block`` holds ``[caller unpacker, caller block, helpers' block,
    counter, chunks, state]`` (a ``NativeCall``'s job and its kernel's status unpacker).
    As ``NativeCall.__call__``: post the job, run the caller's part, wait in native code
    for the chunks a helper claimed (yielding the CPU now and then). Returns 0, 1 when the
    caller's part raised (not waiting, as ``NativeCall``), 2 when helpers sleep and
    ``flags[0]`` was 0 (set now; nothing run)."""
    b = carray(as_ptr(block), 6, np.int64)
    state = carray(as_ptr(b[5]), 7, np.int64)
    if flags[0] == 0 and _fetch_add(state, ASLEEP, 0) != 0:
        flags[0] = 1
        return 2
    ctr = carray(as_ptr(b[3]), CTR_LEN, np.int64)
    post(state, b[2], ctr)
    if call_status(b[0], b[1]) != 0:
        return 1
    n = b[4]
    while True:
        for _ in range(CALLER_SPIN_TRIES):
            if _fetch_add(ctr, 1, 0) >= n:
                return 0
        if state[YIELD] != 0:
            call_yield(state[YIELD])


@numba.njit(nogil=True, cache=True)
def fill(dst, count, pattern, itemsize):
    """``count`` items of ``itemsize`` bytes at ``dst``, each the low bytes of ``pattern``."""
    if itemsize == 1:
        a1 = carray(as_ptr(dst), count, np.int8)
        v1 = np.int8(pattern)
        for j in range(count):
            a1[j] = v1
    elif itemsize == 2:
        a2 = carray(as_ptr(dst), count, np.int16)
        v2 = np.int16(pattern)
        for j in range(count):
            a2[j] = v2
    elif itemsize == 4:
        a4 = carray(as_ptr(dst), count, np.int32)
        v4 = np.int32(pattern)
        for j in range(count):
            a4[j] = v4
    else:
        a8 = carray(as_ptr(dst), count, np.int64)
        for j in range(count):
            a8[j] = pattern


@numba.njit(nogil=True, cache=True)
def scatter(block):
    """The ``SCATTER`` row's copy: run ``r`` of the (contiguous) source goes to the
    destination at ``sum_d index_d(r) * stride_d`` over the outer dimensions."""
    b = carray(as_ptr(block), 4, np.int64)
    dst, src, run, nd = b[0], b[1], b[2], b[3]
    dims = carray(as_ptr(block + 32), 2 * nd, np.int64)
    total = 1
    for d in range(nd):
        total *= dims[d]
    for r in range(total):
        rest = r
        off = 0
        for d in range(nd - 1, -1, -1):
            off += (rest % dims[d]) * dims[nd + d]
            rest //= dims[d]
        move_bytes(dst + off, src + r * run, run)


for _dispatcher in (worker, post, spin, run_chain, fill, scatter, pooled):
    _load_cached(_dispatcher)  # cached code loaded as jit loads its kernels (cfunc_loaded)
