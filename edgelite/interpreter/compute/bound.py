"""Prepared calls: a kernel's work on one operator as ``(function, arguments)`` pairs made once.

An ``invoke`` of a small model is mostly overhead outside the arithmetic: each kernel's
Python ``eval`` reshapes its views, builds scalars and picks a Numba build on every call,
and Numba's dispatcher then types every argument to find the compiled code (1-2 us a
call). A kernel that defines ``bind(params, inputs, outputs)`` does that work once, at
``allocate_tensors``, and returns the calls its ``eval`` would make, with their argument
tuples (views of the arena, constants, scalars) fixed. The executor runs them as
``fn(*args)``.

Binding must not import Numba (allocation stays cheap in a fresh process), so a call's
function may still be lazy: a :class:`~edgelite.interpreter.compute.jit.LazyJit`, or a
:class:`Deferred` whose factory builds the function. :func:`resolve` turns either into
the callable the kernel would have reached, on the first run; :func:`direct_entry` then
takes, for a Numba dispatcher, the machine code it already compiled for exactly these
argument types, so later calls skip the dispatcher's type resolution. A kernel shared
with the thread pool (:mod:`~edgelite.interpreter.compute.pool`) is prepared as
:func:`pooled`: its chunk count and thread count are fixed at bind time, its claim
counter is made fresh by every run, and its kernel is resolved (and given its entry
point) like any other call's function. The arguments of a
prepared call are the same objects on every run (arrays keep their dtype, shape and
layout), which is what makes skipping that resolution safe; anything else (a type that
has no compiled code yet) keeps the dispatcher.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute.bound import Deferred, resolve, direct_entry
    >>> out = np.zeros(3)
    >>> fn, args = Deferred(lambda: np.copyto), (out, np.arange(3.0))
    >>> f = direct_entry(resolve(fn, threads=1), args); f(*args); out.tolist()
    [0.0, 1.0, 2.0]
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np

from edgelite.interpreter.compute import pool
from edgelite.interpreter.compute.jit import LazyJit

Call = tuple[Callable, tuple]


class Deferred:
    """A call's function chosen on the first run (building it may import Numba)."""

    __slots__ = ("factory",)

    def __init__(self, factory: Callable[[], Callable]):
        self.factory = factory

    def __repr__(self) -> str:
        return f"<Deferred {getattr(self.factory, '__qualname__', self.factory)}>"


class Pooled:
    """A call's function that runs its kernel through the thread pool:
    ``Pooled(fn, n_chunks, threads)(*args)`` is ``pool.run(fn, args, n_chunks, threads)``,
    which calls ``fn(*args, ctr)`` with a claim counter ``ctr`` made fresh for that run
    (never shared between runs). ``fn`` may be lazy (a ``LazyJit`` or a :class:`Deferred`)."""

    __slots__ = ("fn", "n_chunks", "threads")

    def __init__(self, fn: Any, n_chunks: int, threads: int):
        self.fn = fn
        self.n_chunks = int(n_chunks)
        self.threads = int(threads)

    def __call__(self, *args) -> None:
        fn = self.fn
        if isinstance(fn, Deferred):
            fn = fn.factory()
        pool.run(fn, args, self.n_chunks, self.threads)

    def __repr__(self) -> str:
        return f"<Pooled {self.fn!r}: {self.n_chunks} chunks, {self.threads} threads>"


def pooled(fn: Any, args: tuple, n_chunks: int, threads: int) -> Call:
    """The prepared call of a pool kernel ``fn(*args, ctr)`` cut into ``n_chunks`` chunks
    (``pool.chunks_for``, worked out once) on up to ``threads`` threads; with one chunk
    or one thread the caller runs every chunk alone."""
    return Pooled(fn, n_chunks, threads), args


# What a claim counter looks like to Numba (a fresh one is made by every run).
_CTR_SAMPLE = np.zeros(pool.CTR_LEN, np.int64)


def resolve(fn: Any, threads: int) -> Callable:
    """The callable ``fn`` stands for in a run with ``threads`` Numba threads.

    A parallel ``LazyJit`` gives its serial build at one thread, as ``LazyJit.__call__``
    does when the run's thread count (set before every run) is one.
    """
    if isinstance(fn, Pooled):
        return Pooled(resolve(fn.fn, threads), fn.n_chunks, fn.threads)
    if isinstance(fn, Deferred):
        fn = fn.factory()
    if isinstance(fn, LazyJit):
        if fn.parallel and threads > 1:
            return _parking_native_helpers(fn.dispatcher())
        fn = fn.serial() if fn.parallel else fn.dispatcher()
    return fn


def _parking_native_helpers(parallel_kernel: Callable) -> Callable:
    """``parallel_kernel`` (a ``prange`` kernel: Numba's own thread pool runs it), after
    sending the native helpers that are polling to sleep (with them, more than
    ``num_threads`` threads would run)."""

    def run_parallel(*args):
        native = sys.modules.get("edgelite.interpreter.compute.native_pool")
        if native is not None and native._pool is not None:
            native._pool.park()
        return parallel_kernel(*args)

    return run_parallel


def first_run(fn: Callable, args: tuple) -> None:
    """Run a :func:`resolve`-d call once, as a plan's first run does: a pool kernel on the
    caller alone (it compiles for these arguments there; the later runs share its chunks
    through :func:`direct_entry`'s call, so no other pool's helper is started for it)."""
    if isinstance(fn, Pooled):
        fn.fn(*args, np.zeros(pool.CTR_LEN, np.int64))
    else:
        fn(*args)


def native_helpers_of(calls: list[Call]):
    """The native helpers' pool (:func:`native_pool.native`) when ``calls`` (a resolved
    plan) has calls for them, else None: the executor wakes them at the start of an invoke
    and lets them sleep at its end."""
    native = sys.modules.get("edgelite.interpreter.compute.native_pool")
    if native is None or not any(isinstance(fn, native.NativeCall) or getattr(fn, "helpers", 0) for fn, _ in calls):
        return None
    return native.native()


def chained(resolved: list[Call], calls: list[Call], reference_seconds: float | None = None) -> list[Call]:
    """``calls`` (a plan's direct entries; ``resolved``: the same before
    :func:`direct_entry`) with its runs of natively callable calls made one call each
    (:mod:`~edgelite.interpreter.compute.native_chain`), where Numba is loaded and
    chains are not turned off (``EDGELITE_NATIVE_CHAIN=0``). ``reference_seconds``: how
    long the plan's reference run took, when it ran (``native_chain.SMALL_PLAN_SECONDS``)."""
    if "numba" not in sys.modules or not any(_is_dispatcher(fn.fn if isinstance(fn, Pooled) else fn)
                                             for fn, _ in resolved):
        return calls
    from edgelite.interpreter.compute import native_chain

    if not native_chain.enabled():
        return calls
    small = (reference_seconds is None or reference_seconds < native_chain.SMALL_PLAN_SECONDS
             or native_chain.compile_always())
    return native_chain.chain(resolved, calls, compile_new=small)


def run(calls: list[Call]) -> None:
    """Run prepared calls now, as a kernel's own eval would (lazy builds through their ``__call__``)."""
    for fn, args in calls:
        if isinstance(fn, Deferred):
            fn = fn.factory()
        fn(*args)


def contiguous(*arrays) -> bool:
    """Whether every array is C-contiguous, so that its reshapes made at bind time are
    views of the memory the run writes (kernels bind only then)."""
    return all(a is not None and a.flags.c_contiguous for a in arrays)


def _alone(fn: Callable) -> Callable:
    """``fn(*args, ctr)`` on the caller alone, with a fresh zeroed counter every run."""
    zeros, i64, n = np.zeros, np.int64, pool.CTR_LEN

    def run_alone(*args):
        fn(*args, zeros(n, i64))

    return run_alone


def _is_dispatcher(fn) -> bool:
    return hasattr(fn, "overloads") and hasattr(fn, "py_func")


def direct_entry(fn: Callable, args: tuple) -> Callable:
    """``fn``'s compiled entry point for ``args``' types when ``fn`` is a Numba dispatcher
    that has compiled them (call ``fn(*args)`` once first), else ``fn`` itself. For a
    :class:`Pooled` call: the same with its kernel's entry point for ``(*args, ctr)``, or,
    when it has one chunk or one thread, a plain function that runs that entry point on
    the caller with a fresh counter."""
    if isinstance(fn, Pooled):
        entry = direct_entry(fn.fn, (*args, _CTR_SAMPLE))
        if min(fn.n_chunks, fn.threads) <= 1:
            return _alone(entry)  # nothing to share: what pool.run does then, ~1 us less a call
        if _is_dispatcher(fn.fn) and pool.native_helpers():
            from edgelite.interpreter.compute import native_pool

            call = native_pool.make_call(fn.fn, entry, args, fn.n_chunks, fn.threads)
            if call is not None:
                return call  # helpers waiting in native code (native_pool's module doc)
        return Pooled(entry, fn.n_chunks, fn.threads)
    if not _is_dispatcher(fn):
        return fn
    from numba.core.typing.typeof import Purpose, typeof

    sig = tuple(typeof(a, Purpose.argument) for a in args)
    cres = fn.overloads.get(sig)
    return fn if cres is None else cres.entry_point
