"""A small persistent pool of helper threads that share one kernel's chunks with the caller.

Why not OpenMP (Numba's ``prange``): a parallel region forks and joins. With
passive waiting, waking the sleeping workers costs 40-70 us per kernel, and the
join makes the caller wait for *every* worker, so when another process holds the
second core the caller waits for a worker that the OS has not even scheduled yet
(milliseconds: the contention tail). Here the work is cut into chunks that every
participant *claims* from a shared counter (an atomic fetch-add), so:

* the caller starts on its chunks at once; a helper that wakes late claims fewer
  chunks, and one that wakes after all are claimed does nothing and is not waited for;
* the caller waits only for chunks a helper has claimed and not finished (at most
  one chunk per helper), spinning briefly and then sleeping until a helper returns;
* with ``threads == 1`` nothing is posted: the kernel runs all chunks on the caller.

A kernel that takes part is a plain (``nogil``, serial) Numba function whose last
argument is the job's counter ``ctr`` (``np.zeros(CTR_LEN, np.int64)``, fresh per
job) and which loops::

    while True:
        ch = fetch_add(ctr, 0, 1)          # claim the next chunk
        if ch >= n_chunks: break
        if slot < 0:                       # a scratch row of its own, if it needs one:
            slot = fetch_add(ctr, 2, 1)    #   < min(threads, n_chunks), as only
                                           #   participants that got a chunk take one
        ...                                # chunk ch (disjoint outputs)
        fetch_add(ctr, 1, 1)               # one more chunk finished

The helpers are Python threads that call the same dispatcher with the same
arguments; ``nogil=True`` lets them run beside the caller. A fresh counter per job
means a helper that wakes after its job is over finds that job's counter exhausted
and touches nothing (it never sees a later job's buffers through an old counter).

The helper count never exceeds ``threads - 1`` (``num_threads`` is a ceiling: the
caller is one of the threads), and the pool starts its threads on first use only.

Example:
    >>> from edgelite.interpreter.compute import pool
    >>> pool.chunks_for(cost_ns=2_000_000, units=100, threads=2)   # 2 ms: 8 chunks per thread at most
    16
    >>> pool.chunks_for(cost_ns=10_000, units=100, threads=2)
    1
"""

from __future__ import annotations

import os
import queue
import sys
import threading

import numpy as np

from edgelite.interpreter.compute.jit import HAVE_NUMBA, njit

POOL_THREAD_NAME = "edgelite-pool"  # what ``/proc/self/task/*/comm`` shows for a helper
CTR_LEN = 3  # [next chunk to claim, chunks finished, next scratch slot]

# A kernel is split only when one thread would take about this long or more: below
# it, posting a job and a helper's wake-up (tens of us of the helper's CPU) buy nothing.
MIN_SPLIT_COST_NS = 120_000
# Chunks of about this cost: small enough that the caller never waits long for a
# helper's last chunk, large enough that claiming one (an atomic add) is free.
CHUNK_COST_NS = 60_000
MAX_CHUNKS_PER_THREAD = 8
# Atomic reads (a few ns each) the caller spins on before it sleeps on a helper.
SPIN_TRIES = 4000
# The same for prepared calls run by the native helpers (:mod:`native_pool`). A split call
# costs about 3 us of the caller's time and breaks a native chain (``native_chain``);
# measured in one process, 1 against 2 threads (ninth session): from 30 us the 96x96
# MobileNetV2 0.35 int8 fixture ran 0.86-0.91x as fast at 2 threads as at 1, from 45 us
# 1.07x; the 224x224 MobileNetV1/V2 int8 and float32 the same or within 2% either way.
NATIVE_MIN_SPLIT_COST_NS = 45_000
NATIVE_CHUNK_COST_NS = 15_000


def native_helpers() -> bool:
    """Whether prepared pool calls go to the helpers that wait in native code
    (:mod:`native_pool`): with Numba, unless ``EDGELITE_NATIVE_POOL=0``."""
    return HAVE_NUMBA and os.environ.get("EDGELITE_NATIVE_POOL", "1") != "0"


def chunks_for(cost_ns: float, units: int, threads: int, prepared: bool = False) -> int:
    """How many chunks to cut a kernel of ``cost_ns`` (one-thread estimate) into.

    ``units`` is the most chunks the kernel can be cut into (row tiles, rows). 1
    means "run it serially on the caller" (small work, one thread or one unit).
    ``prepared``: the kernel is a prepared call (``compute.bound.pooled``) that the
    helpers waiting in native code (:mod:`native_pool`) will take, which join within
    about a microsecond: split from :data:`NATIVE_MIN_SPLIT_COST_NS` on, into chunks of
    about :data:`NATIVE_CHUNK_COST_NS`.
    """
    native = prepared and native_helpers()
    if threads <= 1 or units <= 1 or cost_ns < (NATIVE_MIN_SPLIT_COST_NS if native else MIN_SPLIT_COST_NS):
        return 1
    n = int(cost_ns // (NATIVE_CHUNK_COST_NS if native else CHUNK_COST_NS))
    n = max(2 * threads, min(n, MAX_CHUNKS_PER_THREAD * threads))
    return max(1, min(n, units))


def fetch_add(arr: np.ndarray, i: int, v: int) -> int:
    """``old = arr[i]; arr[i] += v; return old``, atomically in compiled kernels.

    Kernels call it by this name; ``jit`` binds the Numba intrinsic (:func:`fetch_add_intrinsic`)
    in its place when it compiles them. This Python body serves ``NUMBA_DISABLE_JIT``
    runs (one thread: the pool posts nothing without Numba).
    """
    old = int(arr[i])
    arr[i] = old + v
    return old


fetch_add.jit_intrinsic = "fetch_add"  # what ``jit._bind_globals`` looks for (survives a module reload)
# The name this module's own kernel uses: binding it leaves ``pool.fetch_add`` the Python function.
_atomic_add = fetch_add


_fetch_add = None


def fetch_add_intrinsic():
    """The Numba intrinsic of :func:`fetch_add` on a 1-D int64 array (a sequentially
    consistent atomic add). Built once, after Numba is imported."""
    global _fetch_add
    if _fetch_add is None:
        _fetch_add = _make_fetch_add()
    return _fetch_add


def _make_fetch_add():
    from numba import types
    from numba.extending import intrinsic

    def _check(arr):
        return isinstance(arr, types.Array) and arr.ndim == 1 and arr.dtype == types.int64

    @intrinsic
    def fetch_add(typingctx, arr, idx, val):
        if not _check(arr):
            return None
        sig = types.int64(arr, types.int64, types.int64)

        def codegen(context, builder, signature, args):
            ary = context.make_array(signature.args[0])(context, builder, args[0])
            ptr = builder.gep(ary.data, [args[1]])
            return builder.atomic_rmw("add", ptr, args[2], "seq_cst")

        return sig, codegen

    return fetch_add


@njit
def _spin_until_done(ctr, n, tries):
    """Wait in native code, without the GIL, up to ``tries`` reads for ``ctr[1] >= n``."""
    for _ in range(tries):
        if _atomic_add(ctr, 1, 0) >= n:  # (an atomic read)
            return True
    return False


class _Job:
    __slots__ = ("fn", "args", "ctr", "n_chunks", "error", "returned")

    def __init__(self, fn, args, ctr, n_chunks):
        self.fn = fn
        self.args = args
        self.ctr = ctr
        self.n_chunks = n_chunks
        self.error: BaseException | None = None
        self.returned = threading.Event()  # set by each helper when its call returns


class Pool:
    """Helper threads (started on first use) that join the caller's current job."""

    def __init__(self) -> None:
        self._queues: list[queue.SimpleQueue] = []
        self._threads: list[threading.Thread] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Helper threads started so far (the caller is not counted)."""
        return len(self._threads)

    def _ensure(self, helpers: int) -> None:
        if os.getpid() != self._pid:  # a forked child has no helper threads
            self._queues, self._threads, self._pid = [], [], os.getpid()
        with self._lock:
            while len(self._threads) < helpers:
                q: queue.SimpleQueue = queue.SimpleQueue()
                t = threading.Thread(target=_helper_loop, args=(q,), name=f"{POOL_THREAD_NAME}-{len(self._threads)}",
                                     daemon=True)
                t.start()
                self._queues.append(q)
                self._threads.append(t)

    def run(self, fn, args: tuple, n_chunks: int, threads: int) -> None:
        """Run ``fn(*args, ctr)`` on the caller and up to ``threads - 1`` helpers (see the module doc).

        Returns once all ``n_chunks`` chunks are finished.
        """
        ctr = np.zeros(CTR_LEN, np.int64)
        helpers = min(int(threads), n_chunks) - 1
        if helpers <= 0 or not HAVE_NUMBA:  # (without Numba, fetch_add is not atomic)
            fn(*args, ctr)
            return
        self._ensure(helpers)
        native = sys.modules.get("edgelite.interpreter.compute.native_pool")
        if native is not None and native._pool is not None:
            native._pool.park()  # its polling helpers would make one thread too many
        job = _Job(fn, (*args, ctr), ctr, n_chunks)
        for q in self._queues[:helpers]:
            q.put(job)
        fn(*args, ctr)
        # Read the count atomically (a barrier: on AArch64 a plain read would not order
        # the helpers' output writes before what the caller reads next). A helper holding
        # a chunk is usually about to finish: spin a few microseconds, then sleep until a
        # helper returns (it may have been preempted: spinning or yielding then burned
        # the CPU that it needed). With several helpers the first return wakes the caller
        # and it spins again.
        n = np.int64(n_chunks)
        if _spin_until_done(ctr, n, np.int64(1)):
            return
        while not _spin_until_done(ctr, n, np.int64(SPIN_TRIES)):
            if job.error is not None:
                raise job.error
            job.returned.wait(0.005)


def _name_os_thread(name: bytes) -> None:
    """Give the calling thread an OS-visible name (``/proc/self/task/*/comm``), Linux only."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name[:15]), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):  # not Linux / no prctl: only a diagnostic name is lost
        pass


def _helper_loop(q: queue.SimpleQueue) -> None:
    _name_os_thread(POOL_THREAD_NAME.encode())
    while True:
        job = q.get()
        if job.ctr[0] >= job.n_chunks:
            # Woke after the caller claimed every chunk: skip the call (its argument
            # unboxing would hold the GIL the caller wants back).
            job.returned.set()
            continue
        try:
            job.fn(*job.args)
        except BaseException as e:  # handed to the caller, which re-raises it
            job.error = e
        job.returned.set()


_pool: Pool | None = None


def pool() -> Pool:
    """The process's pool (created on first use)."""
    global _pool
    if _pool is None:
        _pool = Pool()
    return _pool


def run(fn, args: tuple, n_chunks: int, threads: int) -> None:
    """:meth:`Pool.run` on the process's pool."""
    pool().run(fn, args, n_chunks, threads)
