"""Runs of prepared calls executed in native code: one Python call for many kernels.

An ``invoke`` runs its plan as ``fn(*args)`` pairs (:mod:`~edgelite.interpreter.compute.bound`).
For a Numba kernel each costs about a microsecond outside the arithmetic even with its
compiled entry point taken once: the entry unboxes every array argument (a dozen or
more) and a pool kernel run alone gets a fresh claim counter. A small model's kernels
run for a few microseconds each, so this is most of its invoke (the digits CNN: 12
calls, 27 us, LiteRT 13 us). Here a maximal run of consecutive calls that native code
can make becomes one :class:`NativeChain`: a table whose rows name, for each call, an
*unpacker* (the generated ``cfunc`` of :mod:`native_pool`, in its ``status`` form) and the
int64 block holding the call's kernel and arguments, and one compiled loop
(``native_loops.run_chain``) makes the calls in order.

What a chain takes: a compiled Numba overload (for exactly these argument types) that
returns nothing or a scalar, with C-contiguous arrays and int, bool or float scalars as
arguments; a pool kernel the plan runs alone (one chunk or one thread: its counter is
zeroed before each call, as the fresh one was); ``np.copyto(dst, src)`` of one dtype and
one shape from a C-contiguous source into a C-contiguous destination (a ``memmove``) or
into a strided view whose last dimension is contiguous (one ``memmove`` per contiguous
run: PAD's interior, a depthwise input's padded buffer); and ``array.fill(value)`` of a
C-contiguous array with a value of its dtype (or a Python int or float it holds exactly);
and, at 2 or more threads, a call split over the native helpers (``native_pool``): the
chain posts its job, runs the caller's part and waits for the helpers in native code, as
``NativeCall`` does from Python (helpers found asleep: the chain returns, Python wakes
them, the chain goes on). Anything else (BLAS products, numpy ufuncs, Python kernels)
stays a Python call between chains. The chain runs without the GIL, as the kernels do.

Compiling: each list of argument types needs its unpacker compiled once per machine
(:data:`SMALL_PLAN_SECONDS` says which plans pay for that).

Errors: the chain calls each kernel's Numba-native function and reads its status, so a
kernel that raises (an integer division by zero, say) stops the chain there; the
chain then makes that call again through its Python entry, which raises the same
exception to the caller, and (if it does not raise the second time) goes on with the
next row. No error is swallowed.

``EDGELITE_NATIVE_CHAIN=0`` turns chains off; ``EDGELITE_NATIVE_CHAIN=compile`` makes
every plan compile the unpackers it needs.

Example:
    >>> from edgelite.interpreter.compute import native_chain
    >>> native_chain.MIN_CALLS
    2
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from edgelite.interpreter.compute import native_pool, pool

MIN_CALLS = 2  # a run shorter than this stays as it is (one call gains little)
# An unpacker not yet in the cache costs about 0.2 s to compile (once per machine and
# argument types): 1.4-2.8 s more on the first run after installing, for MobileNetV2,
# whose invoke a chain shortens by about 1%. Plans whose reference invoke took longer
# than this chain only calls whose unpackers are compiled already; smaller ones (where
# the calls' overhead is a large part of an invoke: the digits CNN's 12 calls, 27 -> 19 us)
# compile what they need.
SMALL_PLAN_SECONDS = 0.02


def enabled() -> bool:
    return os.environ.get("EDGELITE_NATIVE_CHAIN", "1") != "0"


def compile_always() -> bool:
    """``EDGELITE_NATIVE_CHAIN=compile``: every plan compiles the unpackers it needs (a
    service that keeps a big model for long pays the one-time compile for its few percent)."""
    return os.environ.get("EDGELITE_NATIVE_CHAIN", "1") == "compile"


class NativeChain:
    """A run of prepared calls made by ``native_loops.run_chain``: ``chain()`` runs them
    all. ``calls`` are the same calls as Python would make them (each one's direct entry),
    used to raise a kernel's exception. ``pooled``: the parameter blocks of its calls
    shared with the native helpers (their state's address is refreshed after a fork)."""

    __slots__ = ("table", "calls", "keep", "pooled", "helpers", "flags", "_state", "_run", "_start")

    def __init__(self, table: np.ndarray, calls: list, keep: list, run: Callable, pooled: list, helpers: int):
        self.table = table
        self.calls = calls
        self.keep = keep  # blocks and counters the table points at
        self.pooled = pooled
        self.helpers = helpers
        self.flags = np.zeros(1, np.int64)
        self._state = 0
        self._run = run
        self._start = np.int64(0)

    def __call__(self, *_ignored) -> None:
        if self.helpers:
            self._ready_helpers()
        flags = self.flags
        flags[0] = 0
        at = self._run(self.table, self._start, flags)
        while at != -1:
            if at <= -2:  # helpers asleep at a shared call: wake them, go on from there
                native_pool.native().wake()
                at = self._run(self.table, np.int64(-at - 2), flags)
                continue
            fn, args = self.calls[at]
            fn(*args)  # the kernel's exception, raised where Python made the call
            at = self._run(self.table, np.int64(at + 1), flags)

    def _ready_helpers(self) -> None:
        """Start the helpers (again, in a forked child) and point the blocks at their state."""
        p = native_pool.native()
        if p._pid != os.getpid() or p.size < self.helpers:
            p.ensure(self.helpers)
        address = p.state.ctypes.data
        if address != self._state:
            for block in self.pooled:
                block[5] = address
            self._state = address

    def __len__(self) -> int:
        return len(self.calls)

    def __repr__(self) -> str:
        return f"<NativeChain of {len(self.calls)} calls>"


def _row_of_copy(args: tuple, keep: list) -> list[int] | None:
    """The row of ``np.copyto(dst, src[, casting])`` that copies bytes: ``COPY`` when both
    are C-contiguous, ``SCATTER`` when ``src`` is and ``dst`` is a strided view whose
    last dimension is contiguous (a PAD's interior, a depthwise input's padded buffer);
    else None (a cast, a broadcast, other layouts)."""
    if len(args) not in (2, 3) or (len(args) == 3 and not isinstance(args[2], str)):
        return None
    dst, src = args[0], args[1]
    if not (isinstance(dst, np.ndarray) and isinstance(src, np.ndarray)):
        return None
    if dst.dtype != src.dtype or dst.shape != src.shape or not src.flags.c_contiguous or dst.nbytes == 0:
        return None
    if not dst.flags.writeable or np.may_share_memory(dst, src):
        return None
    loops = _loops()
    if dst.flags.c_contiguous:
        return [loops.CHAIN_COPY, dst.ctypes.data, src.ctypes.data, dst.nbytes, 0]
    item = dst.itemsize
    shape, strides = list(dst.shape), list(dst.strides)
    if strides[-1] != item:
        return None
    run, d = item * shape[-1], len(shape) - 1
    while d > 0 and strides[d - 1] == run:  # the contiguous inner block of dst
        d -= 1
        run *= shape[d]
    outer = [(n, st) for n, st in zip(shape[:d], strides[:d]) if n != 1]
    if any(st < 0 for _, st in outer):
        return None
    block = np.array([dst.ctypes.data, src.ctypes.data, run, len(outer), *(n for n, _ in outer),
                      *(st for _, st in outer)], np.int64)
    keep.append(block)
    return [loops.CHAIN_SCATTER, block.ctypes.data, 0, 0, 0]


def _row_of_fill(fn, args: tuple) -> list[int] | None:
    """The ``FILL`` row of ``array.fill(value)`` on a C-contiguous array, when ``value``
    has the array's dtype or is a Python int or float that it holds exactly (no
    conversion to reproduce), else None."""
    arr = getattr(fn, "__self__", None)
    if getattr(fn, "__name__", None) != "fill" or not isinstance(arr, np.ndarray) or len(args) != 1:
        return None
    value = args[0]
    if arr.dtype.kind not in "iufb":
        return None
    if isinstance(value, np.generic):
        if value.dtype != arr.dtype:
            return None
    elif type(value) in (int, float) and arr.dtype.kind == "f":
        if np.array(value, arr.dtype).item() != value:  # inexact in this dtype (NaN too): fill's own conversion
            return None
        value = np.array(value, arr.dtype)[()]
    elif type(value) is int and arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        if not info.min <= value <= info.max:
            return None
        value = np.array(value, arr.dtype)[()]
    else:
        return None
    if arr.itemsize not in (1, 2, 4, 8) or not arr.flags.c_contiguous or not arr.flags.writeable or arr.size == 0:
        return None
    bits = int(np.array([value]).view(f"u{arr.itemsize}")[0])
    return [_loops().CHAIN_FILL, arr.ctypes.data, arr.size, bits if bits < 2**63 else bits - 2**64, arr.itemsize]


def _row_of_kernel(dispatcher, args: tuple, ctr: np.ndarray | None, keep: list, compile_new: bool) -> list[int] | None:
    """``[CALL, unpacker, block, counter]`` for ``dispatcher``'s compiled overload of
    ``args`` (their last is ``ctr`` when given), else None."""
    found = native_pool.compiled_call(dispatcher, args, native=True, compile_new=compile_new)
    if found is None:
        return None
    addr, unpack = found
    block = np.array([unpack.address, addr, 0, *native_pool._fields(args)], np.int64)
    keep.append(block)
    return [_loops().CHAIN_CALL, unpack.address, block.ctypes.data, 0 if ctr is None else ctr.ctypes.data, 0]


class _Shared:
    """A ``POOLED`` row's parameter block, marked so that its chain finds it."""

    __slots__ = ("block",)

    def __init__(self, block: np.ndarray):
        self.block = block


def _row_of_shared(resolved, direct, keep: list, compile_new: bool) -> list[int] | None:
    """The ``POOLED`` row of a call the native helpers share (``direct``: its
    ``NativeCall``): the helpers' block as it is, and the caller's part through the
    kernel's status unpacker, on the same arguments and counter."""
    row = _row_of_kernel(resolved.fn, direct.args, None, keep, compile_new)
    if row is None:
        return None
    block = np.array([row[1], row[2], int(direct.address), direct.ctr.ctypes.data, int(direct.n_chunks), 0], np.int64)
    keep.append(_Shared(block))
    return [_loops().CHAIN_POOLED, block.ctypes.data, 0, 0, 0]


def _row(resolved: Callable, direct: Callable, args: tuple, keep: list, compile_new: bool = True) -> list[int] | None:
    """The chain row of one resolved call (``direct``: its direct entry), or None."""
    from edgelite.interpreter.compute import bound

    if isinstance(direct, native_pool.NativeCall):
        return _row_of_shared(resolved, direct, keep, compile_new) if bound._is_dispatcher(resolved.fn) else None
    if direct is np.copyto:
        return _row_of_copy(args, keep)
    if type(direct).__name__ == "builtin_function_or_method" and getattr(direct, "__name__", None) == "fill":
        return _row_of_fill(direct, args)
    if isinstance(resolved, bound.Pooled):
        if min(resolved.n_chunks, resolved.threads) > 1 or not bound._is_dispatcher(resolved.fn):
            return None  # split over threads: the pool's (or the native helpers') call
        ctr = np.zeros(pool.CTR_LEN, np.int64)
        row = _row_of_kernel(resolved.fn, (*args, ctr), ctr, keep, compile_new)
        if row is not None:
            keep.append(ctr)
        return row
    if bound._is_dispatcher(resolved):
        return _row_of_kernel(resolved, args, None, keep, compile_new)
    return None


_loops_module = None


def _loops():
    global _loops_module
    if _loops_module is None:
        from edgelite.interpreter.compute import native_loops

        _loops_module = native_loops
    return _loops_module


def _runner(table: np.ndarray) -> Callable:
    from edgelite.interpreter.compute import bound

    run = _loops().run_chain
    start, flags = np.int64(0), np.zeros(1, np.int64)
    run(table[:0], start, flags)  # compiled (or loaded from the cache) for these types
    return bound.direct_entry(run, (table, start, flags))


def _any_kernel_row(resolved: list, direct: list) -> bool:
    """Whether some kernel call of the plan has its unpacker without compiling one."""
    keep: list = []
    loops = _loops()
    for (rfn, args), (dfn, _) in zip(resolved, direct):
        if dfn is np.copyto or getattr(dfn, "__name__", None) == "fill":
            continue
        row = _row(rfn, dfn, args, keep, False)
        if row is not None and row[0] in (loops.CHAIN_CALL, loops.CHAIN_POOLED):
            return True
    return False


def chain(resolved: list, direct: list, compile_new: bool = True) -> list:
    """``direct`` (a resolved plan's calls with their direct entries; ``resolved``: the
    same calls before :func:`bound.direct_entry`) with each run of at least
    :data:`MIN_CALLS` calls that native code can make replaced by one :class:`NativeChain`.
    With ``compile_new=False`` a kernel call joins only if its unpacker needs no compiling
    (see :data:`SMALL_PLAN_SECONDS`)."""
    out: list = []
    run_rows: list = []
    run_calls: list = []
    keep: list = []

    def flush() -> None:
        nonlocal keep
        if len(run_rows) >= MIN_CALLS:
            table = np.array(run_rows, np.int64)
            shared = [fn for fn, _ in run_calls if isinstance(fn, native_pool.NativeCall)]
            blocks = [k.block for k in keep if isinstance(k, _Shared)]
            helpers = max((fn.helpers for fn in shared), default=0)
            out.append((NativeChain(table, list(run_calls), keep, _runner(table), blocks, helpers), ()))
        else:
            out.extend(run_calls)
        run_rows.clear()
        run_calls.clear()
        keep = []

    if not compile_new and not _any_kernel_row(resolved, direct):
        return list(direct)  # nothing compiled to chain with: not worth compiling run_chain either
    for (rfn, args), (dfn, _) in zip(resolved, direct):
        row = _row(rfn, dfn, args, keep, compile_new)
        if row is None:
            flush()
            out.append((dfn, args))
        else:
            run_rows.append(row)
            run_calls.append((dfn, args))
    flush()
    return out
