"""Helper threads that wait for work in native code, without the GIL.

:mod:`~edgelite.interpreter.compute.pool` hands a kernel's chunks to Python helper
threads. A helper needs the GIL to start a job (its argument unboxing) and wakes from a
futex, then from the GIL's condition variable: on the 2-vCPU VMs measured here it
joined a job 100-150 us after it was posted, so kernels under about half a millisecond
gained nothing from a second thread, and MobileNetV2's (0.1-0.6 ms each) did not. Here
a helper is a Python thread that enters a compiled loop (:func:`_worker`, ``nogil``)
and stays there: it polls a shared job counter (with ``pause`` between reads), and
when a job is posted it calls it through a function pointer. Posting a job is two
atomic stores; the helper joins within about a microsecond.

A job is one *prepared call* of a pool kernel (``compute.bound.pooled``): the same
kernel, the same arrays and scalars on every run. :class:`NativeCall` writes them once
into an int64 block -- the kernel's C-ABI entry (Numba's ``cfunc`` wrapper of the
overload already compiled for those argument types), the address and shape of every
(C-contiguous) array, every scalar -- and an *unpacker*, a small ``cfunc`` per list of
argument types, rebuilds the arguments from the block and calls the entry. The claim
counter (``ctr``) is the call's own, reset before each run: the chunks are claimed with
an atomic add as in :mod:`pool`, so a helper that joins late claims fewer chunks, and
one that joins after every chunk is claimed touches nothing (a helper still holding an
old job's block finds its counter exhausted). The caller runs its part first and then
waits, in native code, for the chunks a helper has claimed.

Idle helpers: between invokes (the executor marks the start and the end of one, ``begin``
and ``end``) a polling helper calls ``sched_yield`` between polls, so that any other
thread of the application gets the core at once, and after :data:`BETWEEN_YIELDS` polls
(a few hundred microseconds) it leaves the loop and sleeps on an ``Event``; within an
invoke it sleeps after about :data:`SPIN_SECONDS` without a job. The next post wakes a
sleeping helper (that post's job may finish without it). (Sending helpers to sleep at the end of every invoke
cost MobileNetV2 most of its 2-thread gain: a woken helper needs the GIL several times
before it polls again.) When :mod:`pool`'s Python helpers are about to run a job, the polling
helpers are sent to sleep first (``park``), so that no more than ``num_threads``
threads run at once. ``num_threads`` stays a ceiling: the block says how many helpers may take
part. Blocks and counters are kept until every helper is asleep (a helper may still
read the last block it saw); helpers are stopped at exit and restarted after a fork.

Calls this cannot take (a kernel that is not a compiled Numba function, an argument
that is not a C-contiguous array or an int, bool or float scalar) keep :mod:`pool`.

Example:
    >>> from edgelite.interpreter.compute import native_pool
    >>> native_pool.SPIN_SECONDS
    0.002
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

import numpy as np

from edgelite.interpreter.compute import pool

SPIN_SECONDS = 0.002  # a helper keeps polling this long after its last job, then sleeps
BETWEEN_YIELDS = 2000  # polls (each a sched_yield, about a microsecond) between invokes before it sleeps
CALLER_SPIN_TRIES = 20000  # atomic reads the caller spins between checks while it waits

# The shared state: [job sequence, current block's address, stop, helpers asleep, park now,
# between invokes, the address of sched_yield (0: none)]
SEQ, BLOCK, STOP, ASLEEP, PARK, BETWEEN, YIELD = 0, 1, 2, 3, 4, 5, 6
# A block: [unpacker address, kernel entry address, helpers allowed, argument fields...]
HEAD = 3

_loops = None  # native_loops, imported on first use (it imports Numba)


def _m():
    global _loops
    if _loops is None:
        from edgelite.interpreter.compute import native_loops

        _loops = native_loops
    return _loops


def _spin_limit() -> int:
    """Polls of the helpers' loop in about :data:`SPIN_SECONDS` (measured once)."""
    import time

    spin = _m().spin
    spin(1000)
    n = 20000
    t0 = time.perf_counter()
    spin(n)
    per = max((time.perf_counter() - t0) / n, 1e-9)
    return int(SPIN_SECONDS / per)


# ---------------------------------------------------------------------------------- unpackers

_unpackers: dict[tuple, object] = {}


def _field_kinds(args) -> list | None:
    """How each argument travels in a block: ``("array", dtype, ndim)``, ``("int",)``,
    ``("bool",)``, ``("float", bits)``; None if one cannot."""
    kinds = []
    for a in args:
        if isinstance(a, np.ndarray):
            if not a.flags.c_contiguous or a.dtype.kind not in "iufb" or a.ndim == 0:
                return None
            kinds.append(("array", a.dtype.str, a.ndim))
        elif isinstance(a, (bool, np.bool_)):
            kinds.append(("bool",))
        elif isinstance(a, (int, np.integer)):
            kinds.append(("int", np.dtype(type(a)).str if isinstance(a, np.integer) else "<i8"))
        elif isinstance(a, (float, np.floating)):
            kinds.append(("float", np.dtype(type(a)).str if isinstance(a, np.floating) else "<f8"))
        else:
            return None
    return kinds


def _fields(args) -> list[int]:
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(a.ctypes.data)
            out.extend(int(d) for d in a.shape)
        elif isinstance(a, (bool, np.bool_)):
            out.append(int(bool(a)))
        elif isinstance(a, (int, np.integer)):
            out.append(int(a))
        else:
            bits = np.array([a], dtype=np.dtype(type(a)) if isinstance(a, np.floating) else np.float64)
            out.append(int(bits.view(np.int32 if bits.itemsize == 4 else np.int64)[0]))
    return out


def _type_source(t) -> str:
    """Source that makes the Numba type ``t`` (an array, a scalar or none) again. Written
    out, not pickled: a pickled Numba type carries its per-process type code, so the
    same types gave a different file (and a fresh compile) in every process."""
    from numba import types
    from numba.np.numpy_support import as_dtype

    if t is types.none:
        return "types.none"
    if isinstance(t, types.Array):
        return (f"types.Array(from_dtype(np.dtype({as_dtype(t.dtype).str!r})), {t.ndim}, {t.layout!r}, "
                f"readonly={not t.mutable}, aligned={t.aligned})")
    if isinstance(t, (types.Integer, types.Float, types.Boolean)):
        return f"from_dtype(np.dtype({as_dtype(t).str!r}))"
    raise ValueError(f"no unpacker for arguments of type {t}")


def _unpacker_source(kinds: list, argtypes: tuple, restype, status: bool = False) -> str:
    """The source of a module defining ``unpack``, the ``cfunc`` that rebuilds arguments
    of ``argtypes`` from a block and calls the entry in the block: the kernel's C-ABI
    wrapper, or with ``status`` its Numba-native function, returning 1 when it raised
    (:mod:`native_chain`)."""
    total = HEAD + sum(1 + k[2] if k[0] == "array" else 1 for k in kinds)
    maker = "make_call_native" if status else "make_call_entry"
    lines = [
        '"""Generated by edgelite.interpreter.compute.native_pool: one unpacker of prepared pool calls."""',
        # Numba's cache of this file knows nothing of the intrinsics it calls: a new
        # native_loops gives a new file (and a fresh compile), never stale machine code.
        f"# native_loops {_loops_digest()}",
        "import numpy as np",
        "from numba import carray, types",
        f"from edgelite.interpreter.compute.native_loops import as_ptr, bits_as, cfunc_loaded, {maker}",
        "from numba.np.numpy_support import from_dtype",
        f"ARGTYPES = ({''.join(_type_source(t) + ', ' for t in argtypes)})",
        f"RESTYPE = {_type_source(restype)}",
        f"call_entry = {maker}(ARGTYPES, RESTYPE)",
    ]
    body, names, pos = [], [], HEAD
    for i, k in enumerate(kinds):
        v = f"a{i}"
        if k[0] == "array":
            shape = ", ".join(f"b[{pos + 1 + d}]" for d in range(k[2]))
            lines.append(f"DT{i} = np.dtype({k[1]!r})")
            body.append(f"    {v} = carray(as_ptr(b[{pos}]), ({shape},), DT{i})")
            pos += 1 + k[2]
        elif k[0] == "bool":
            body.append(f"    {v} = b[{pos}] != 0")
            pos += 1
        elif k[0] == "int":
            lines.append(f"TY{i} = np.dtype({k[1]!r}).type")
            body.append(f"    {v} = TY{i}(b[{pos}])")
            pos += 1
        else:
            lines.append(f"LIKE{i} = np.zeros(1, np.dtype({k[1]!r}))")
            body.append(f"    {v} = bits_as(b[{pos}], LIKE{i})")
            pos += 1
        names.append(v)
    signature, call = ("types.int64(types.int64)", "return call_entry") if status else ("types.void(types.int64)", "call_entry")
    lines += ["", "", f"@cfunc_loaded({signature}, cache=True)", "def unpack(p):",
              f"    b = carray(as_ptr(p), {total}, np.int64)", *body, f"    {call}(b[1], {', '.join(names)})", ""]
    return "\n".join(lines)


_digest: str | None = None


def _loops_digest() -> str:
    """A digest of ``native_loops``' source (where the unpackers' intrinsics live)."""
    global _digest
    if _digest is None:
        import hashlib

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native_loops.py")
        with open(path, "rb") as f:
            _digest = hashlib.sha1(f.read()).hexdigest()[:16]
    return _digest


def _unpacker_dir() -> str | None:
    """Where generated unpacker modules are written (so Numba caches them), or None."""
    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "edgelite")
    path = os.path.join(base, "native_unpackers")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def _unpacker(kinds: list, argtypes: tuple, restype, status: bool = False, compile_new: bool = True):
    """The unpacker for these argument types (made once per process; compiled once per
    machine where its module can be written to the cache directory). With
    ``compile_new=False``, None unless it is loaded already or was compiled into the cache
    by an earlier process (its ``.compiled`` mark, written after the first load, is there)."""
    import hashlib
    import importlib.util

    source = _unpacker_source(kinds, argtypes, restype, status)
    key = hashlib.sha1(source.encode()).hexdigest()[:20]
    fn = _unpackers.get(key)
    if fn is not None:
        return fn
    folder = _unpacker_dir()
    name = f"edgelite_unpack_{key}"
    if folder is None and not compile_new:
        return None
    if folder is not None:
        path = os.path.join(folder, name + ".py")
        mark = os.path.join(folder, name + ".compiled")
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read() == source
        except OSError:
            current = False
        if not compile_new and not (current and os.path.exists(mark)):
            return None
        if not current:  # missing, or not what this code generates: (re)written
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(source)
            os.replace(tmp, path)  # atomic: another process may write the same file
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # Numba's cache finds the function's module by name
        spec.loader.exec_module(module)
        if module.ARGTYPES != tuple(argtypes) or module.RESTYPE != restype:
            raise ValueError(f"{path}: its types are not {argtypes}")  # make_call keeps the pool then
        fn = module.unpack
        if not os.path.exists(mark):
            with open(mark, "w", encoding="utf-8") as f:
                f.write(key)
    else:  # nowhere to write: compiled in memory, every process
        ns = {"__name__": name}
        exec(compile(source.replace(", cache=True)", ")"), name, "exec"), ns)  # noqa: S102 - generated above
        fn = ns["unpack"]
    _unpackers[key] = fn
    return fn


# ---------------------------------------------------------------------------------- the pool


class NativePool:
    """The process's native helpers (started on first use) and the state they poll."""

    def __init__(self) -> None:
        self.state = np.zeros(7, np.int64)
        self.state[YIELD] = _yield_address()
        self._threads: list[threading.Thread] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._spin_limit = 0
        self._graveyard: list = []  # blocks and counters of dropped calls, freed when all helpers sleep

    @property
    def size(self) -> int:
        return len(self._threads)

    def ensure(self, helpers: int) -> None:
        if os.getpid() != self._pid:  # a forked child has no helper threads
            self.__init__()
        if len(self._threads) >= helpers:
            return
        with self._lock:
            if not self._spin_limit:
                self._spin_limit = _spin_limit()
            while len(self._threads) < helpers:
                t = threading.Thread(target=self._helper, args=(len(self._threads),),
                                     name=f"{pool.POOL_THREAD_NAME}-n{len(self._threads)}", daemon=True)
                self._threads.append(t)
                t.start()

    def _helper(self, index: int) -> None:
        pool._name_os_thread(pool.POOL_THREAD_NAME.encode())
        worker = _m().worker
        state, limit = self.state, np.int64(self._spin_limit)
        while True:
            if worker(state, np.int64(index), limit) == 0:
                return
            with self._lock:
                state[ASLEEP] += 1
                if state[ASLEEP] >= len(self._threads):
                    self._graveyard.clear()  # no helper can be reading an old block now
            self._wake.wait()
            with self._lock:
                state[ASLEEP] -= 1
                if state[ASLEEP] == 0:
                    self._wake.clear()
            if state[STOP]:
                return

    def park(self) -> None:
        """Send the helpers that are polling to sleep now (the Python pool is about to
        run a job: with them still polling, more than ``num_threads`` threads would run)."""
        if len(self._threads) > self.state[ASLEEP]:
            self.state[PARK] = 1

    def wake(self) -> None:
        if self.state[ASLEEP]:
            self._wake.set()

    def begin(self) -> None:
        """An invoke with native calls starts: helpers poll with ``pause`` (and one that
        sleeps is woken on the first post)."""
        self.state[BETWEEN] = 0

    def end(self) -> None:
        """The invoke is over: until the next one (or :data:`SPIN_SECONDS`), polling helpers
        yield the CPU between polls, so that the application's other threads get it."""
        self.state[BETWEEN] = 1

    def retire(self, keep) -> None:
        """Keep ``keep`` (a dropped call's block and counter) until every helper sleeps."""
        with self._lock:
            if self.state[ASLEEP] >= len(self._threads):
                return
            self._graveyard.append(keep)

    def stop(self) -> None:
        self.state[STOP] = 1
        self._wake.set()
        for t in self._threads:
            t.join(timeout=1.0)


def _yield_address() -> int:
    """The address of libc's ``sched_yield`` (0 where there is none)."""
    try:
        import ctypes

        return int(ctypes.cast(ctypes.CDLL(None).sched_yield, ctypes.c_void_p).value or 0)
    except (OSError, AttributeError, TypeError):
        return 0


_pool: NativePool | None = None


def native() -> NativePool:
    global _pool
    if _pool is None:
        _pool = NativePool()
        atexit.register(_pool.stop)
    return _pool


class NativeCall:
    """A prepared pool call run with the native helpers: ``NativeCall(...)()`` runs it."""

    __slots__ = ("entry", "args", "ctr", "block", "address", "n_chunks", "helpers")

    def __init__(self, entry, args: tuple, ctr: np.ndarray, block: np.ndarray, n_chunks: int, helpers: int):
        self.entry = entry
        self.args = (*args, ctr)  # the arrays stay alive with the call
        self.ctr = ctr
        self.block = block
        self.address = np.int64(block.ctypes.data)
        self.n_chunks = np.int64(n_chunks)
        self.helpers = helpers

    def __call__(self, *_ignored) -> None:
        p = native()
        if len(p._threads) < self.helpers or p._pid != _getpid():
            p.ensure(self.helpers)
        _post(p.state, self.address, self.ctr)
        if p.state[ASLEEP]:
            p.wake()
        self.entry(*self.args)
        # The chunks a helper claimed: it joined within microseconds and is about to
        # finish them; spin in native code, yielding the CPU now and then (it may have
        # been preempted).
        while not _spin_until_done(self.ctr, self.n_chunks, _CALLER_TRIES):
            _yield()

    def __del__(self) -> None:
        if _pool is not None:
            _pool.retire((self.block, self.ctr))


_post = None
_getpid = os.getpid
_spin_until_done = pool._spin_until_done
_CALLER_TRIES = np.int64(CALLER_SPIN_TRIES)
_yield = getattr(os, "sched_yield", lambda: None)


def compiled_call(dispatcher, args: tuple, native: bool, compile_new: bool = True) -> tuple[int, object] | None:
    """``(address, unpacker)`` for calling ``dispatcher``'s overload compiled for exactly
    ``args``' types from native code: its C-ABI wrapper and a plain unpacker, or with
    ``native`` its Numba-native function and a status unpacker (:mod:`native_chain`;
    only for an overload returning nothing or a scalar: an array or object returned would
    leak). None where that cannot be done (see the module doc; ``compile_new``:
    :func:`_unpacker`)."""
    kinds = _field_kinds(args)
    if kinds is None:
        return None
    from numba import types
    from numba.core.typing.typeof import Purpose, typeof

    sig = tuple(typeof(a, Purpose.argument) for a in args)
    cres = dispatcher.overloads.get(sig)
    if cres is None:
        return None
    restype = cres.signature.return_type
    if native and not (restype is types.none or isinstance(restype, (types.Integer, types.Float, types.Boolean))):
        return None
    name = cres.fndesc.llvm_func_name if native else cres.fndesc.llvm_cfunc_wrapper_name
    try:
        addr = cres.library.get_pointer_to_function(name)
        unpack = _unpacker(kinds, sig, restype, status=native, compile_new=compile_new) if addr else None
    except Exception:  # noqa: BLE001 - an argument type the unpacker cannot rebuild: the caller keeps Python
        return None
    return None if unpack is None else (addr, unpack)


def make_call(dispatcher, entry, args: tuple, n_chunks: int, threads: int) -> NativeCall | None:
    """A :class:`NativeCall` of ``dispatcher``'s overload for ``(*args, ctr)`` (``entry``:
    its entry point, for the caller's part), or None where the native helpers cannot
    take it (see the module doc)."""
    global _post
    if threads <= 1 or n_chunks <= 1 or not hasattr(dispatcher, "overloads"):
        return None
    ctr = np.zeros(pool.CTR_LEN, np.int64)
    full = (*args, ctr)
    found = compiled_call(dispatcher, full, native=False)
    if found is None:
        return None
    addr, unpack = found
    if _post is None:
        _post = _m().post
    block = np.array([unpack.address, addr, threads - 1, *_fields(full)], np.int64)
    return NativeCall(entry, args, ctr, block, n_chunks, threads - 1)
