"""The one place that decides whether Numba is used, and how kernels are compiled.

Kernels never import numba directly: they use ``njit`` from here, which gives the
real ``numba.njit`` with the project's flags (``cache=True`` so a second process
compiles nothing, ``nogil=True`` so kernels can run on threads) when Numba is
installed, and the plain Python function otherwise (the reference kernels then run;
Android has no Numba).

Numba is imported *lazily*: ``import numba`` alone costs about 0.2 s and 90 MiB, so a
decorated function stays a light ``LazyJit`` until it is first called. Importing
every kernel module, or running a model whose kernels never reach a JIT function,
never imports Numba. On the first call the function's Numba dispatcher is built
(loading its machine code from the on-disk cache when a previous process compiled
it), and the JIT functions it calls by name (``helper(...)`` or ``module.helper(...)``)
are bound to their dispatchers so that Numba can compile the call.

``HAVE_NUMBA`` says whether Numba is importable (found without importing it) and not
disabled. Set ``EDGELITE_DISABLE_JIT=1`` to force the reference kernels.

Start-up: ``start_warm_up`` imports Numba on a background thread. The interpreter's
first invoke in a fresh process runs the reference (numpy) kernels and starts it; the
next invoke waits for ``is_warm()`` and runs the JIT kernels, each loaded from the
on-disk cache without Numba's full context refresh (``_load_cached``: that refresh,
which also imports SciPy, was most of a warm start's cost). Every JIT kernel computes
in the same order as its reference kernel, so both invokes give the same bits for the
same input (tests: ``assert_bit_identical`` in the float kernel tests and
``tests/interpreter/test_first_invoke_bits.py``).

Threads: the biggest kernels share work through :mod:`~edgelite.interpreter.compute.pool`
(plain serial builds that claim chunks with ``pool.fetch_add``, bound here to an atomic
intrinsic), not ``prange``. For the rest, ``set_num_threads`` records the count and applies it to Numba only once a
``parallel=True`` kernel exists. With one thread, a ``parallel=True`` kernel runs a
serial build of itself: a parallel launch costs about 100 us on Numba's ``workqueue``
layer even with one thread (measured), and a model makes over a hundred of them.
For more threads the layer is OpenMP with ``OMP_WAIT_POLICY=PASSIVE`` (launch about
9 us; passive so idle workers sleep: OpenMP's default spin made two threads up to 8x
slower than one on a busy 2-core machine), falling back to ``workqueue`` where Numba
has no OpenMP. ``NUMBA_THREADING_LAYER`` / ``OMP_WAIT_POLICY`` set by the user win.
GNU OpenMP is not fork-safe: a process that forks after running multi-threaded
kernels should start its children with ``spawn`` (or set
``NUMBA_THREADING_LAYER=workqueue``).

Example:
    >>> from edgelite.interpreter.compute.jit import njit, HAVE_NUMBA
    >>> @njit
    ... def add1(a, out):
    ...     for i in range(a.shape[0]):
    ...         out[i] = a[i] + 1
    >>> import numpy as np
    >>> out = np.zeros(3); add1(np.arange(3.0), out); out.tolist()
    [1.0, 2.0, 3.0]
"""

from __future__ import annotations

import importlib.util
import os
import threading
import types

_DISABLED = os.environ.get("EDGELITE_DISABLE_JIT", "") in ("1", "true", "yes")


def _numba_importable() -> bool:
    if _DISABLED:
        return False
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # e.g. sys.modules["numba"] = None, a broken install
        return False


HAVE_NUMBA = _numba_importable()
_numba = None  # the numba module once imported
_import_failed = False
_wanted_threads: int | None = None
_parallel_used = False


def numba_module():
    """The ``numba`` module, imported on first use; None when it is unavailable."""
    global _numba, _import_failed
    if _numba is None and HAVE_NUMBA and not _import_failed:
        try:
            import numba
        except ImportError:  # pragma: no cover - find_spec saw it, the import failed
            _import_failed = True
            return None
        if "NUMBA_THREADING_LAYER" not in os.environ:
            # Read when the first parallel kernel starts the pool, not at import;
            # OpenMP reads its wait policy when Numba loads it, also later.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]
            numba.config.THREADING_LAYER = "default"
        _numba = numba
    return _numba


_warm = threading.Event()
_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None


def _warm_up() -> None:
    try:
        numba = numba_module()
        if numba is not None:
            from numba.core.registry import cpu_target

            # Creating the contexts sets up LLVM's code generator, which every cache
            # load needs. Their full ``refresh()`` (every typing and lowering registry,
            # and SciPy through numba.np.arraymath: about 0.55 s of CPU, measured) is
            # left to the first real compile, which does it itself: a process whose
            # kernels all come from the on-disk cache never pays it (see _load_cached).
            cpu_target.typing_context  # noqa: B018 - a lazy property: built here, off the caller's path
            target_context = cpu_target.target_context
            # What the first cache loads would otherwise do on the caller's thread
            # (measured about 0.1 s of CPU there): set up Numba's runtime (it compiles
            # a small module) and import what unpickling a kernel's environment and
            # typing an ndarray argument import (numba.np.arrayobj, numpy.ma).
            from numba.core.compiler_lock import global_compiler_lock
            from numba.core.runtime import rtsys

            with global_compiler_lock:
                rtsys.initialize(target_context)
            import numba.cpython.unicode  # noqa: F401
            import numba.np.arrayobj  # noqa: F401
            import numpy.ma  # noqa: F401
    finally:
        # Never leave a waiter blocked: a failure shows again on the first JIT call.
        _warm.set()


def _load_cached(dispatcher) -> None:
    """Make ``dispatcher`` load its cached machine code without a full context refresh.

    Numba's ``Cache.load_overload`` refreshes the target context first (loading every
    registry, which imports SciPy: about 0.55 s of CPU, the largest part of a warm
    start). Loading object code needs none of it, only Numba's runtime (NRT) set up;
    on a cache miss the dispatcher compiles, and the compiler refreshes the contexts
    itself. Where Numba's cache object lacks the expected private methods (another
    Numba version) its own loading stays in place.
    """
    cache = getattr(dispatcher, "_cache", None)
    load = getattr(cache, "_load_overload", None)
    guard = getattr(cache, "_guard_against_spurious_io_errors", None)
    if load is None or guard is None:
        return
    from numba.core.runtime import rtsys

    def load_overload(sig, target_context):
        rtsys.initialize(target_context)  # cheap after the first time; cached code calls NRT
        with guard():
            return load(sig, target_context)
        return None  # the guard swallowed a spurious I/O error: compile instead

    cache.load_overload = load_overload


def start_warm_up() -> None:
    """Import Numba and fill its tables on a background thread (once per process).

    The interpreter calls it after a first invoke run on the reference kernels, so
    the first results of a fresh process do not wait for Numba (about a second of
    CPU). Set ``EDGELITE_JIT_WARMUP=sync`` to load it on the calling thread instead.
    """
    global _warm_thread
    if not HAVE_NUMBA or _warm.is_set():
        return
    with _warm_lock:
        if _warm_thread is not None:
            return
        if os.environ.get("EDGELITE_JIT_WARMUP", "background") == "sync":
            _warm_up()
            return
        _warm_thread = threading.Thread(target=_warm_up, name="edgelite-numba-warm-up", daemon=True)
        _warm_thread.start()


def warm_up_started() -> bool:
    """Whether ``start_warm_up`` has run in this process (or Numba is already set up)."""
    return _warm_thread is not None or _warm.is_set()


def is_warm() -> bool:
    """Whether Numba is imported and ready (always False without Numba)."""
    return _warm.is_set()


def wait_until_warm(timeout: float | None = None) -> bool:
    """Block until the background warm-up is done (starting it if needed); returns ``is_warm()``."""
    start_warm_up()
    return _warm.wait(timeout) if HAVE_NUMBA else False


def prange(*args):
    """``numba.prange`` inside compiled code (bound when the kernel is built), ``range`` in Python."""
    return range(*args)


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _bind_globals(fn, numba) -> None:
    """Replace the lazy objects ``fn`` refers to by name with what Numba can compile.

    Numba resolves globals when it compiles, and only understands dispatchers,
    ``numba.prange`` and intrinsics (``pool.fetch_add`` becomes its atomic intrinsic,
    ``requant_vec.requant_run(_neg)``, ``depthwise_vec.dw_run3/5``, ``lut_vec.lut_run`` and
    ``logistic_vec.logistic_run`` their vector ones); the module globals are rebound in place (Python callers of the
    same names keep working: a dispatcher is callable and prange is range).
    """
    from edgelite.interpreter.compute import pool

    g = fn.__globals__
    names = _code_names(fn.__code__)
    for name in names:
        v = g.get(name)
        if v is prange:
            g[name] = numba.prange
        elif getattr(v, "jit_intrinsic", None) == "fetch_add":
            g[name] = pool.fetch_add_intrinsic()
        elif getattr(v, "jit_intrinsic", None) in ("requant_run", "requant_run_neg"):
            from edgelite.interpreter.compute import requant_vec

            g[name] = requant_vec.intrinsic(v.jit_intrinsic == "requant_run_neg")
        elif getattr(v, "jit_intrinsic", None) in ("dw_run3", "dw_run5"):
            from edgelite.interpreter.compute import depthwise_vec

            g[name] = depthwise_vec.intrinsic(int(v.jit_intrinsic[-1]))
        elif getattr(v, "jit_intrinsic", None) == "lut_run":
            from edgelite.interpreter.compute import lut_vec

            g[name] = lut_vec.intrinsic()
        elif getattr(v, "jit_intrinsic", None) == "logistic_run":
            from edgelite.interpreter.compute import logistic_vec

            g[name] = logistic_vec.intrinsic()
        elif isinstance(v, LazyJit):
            # Called from compiled code: a parallel kernel nested in another runs serially.
            g[name] = v.serial()
        elif isinstance(v, types.ModuleType):
            for attr in names:
                a = getattr(v, attr, None)
                if isinstance(a, LazyJit):
                    setattr(v, attr, a.serial())
                elif a is prange:
                    setattr(v, attr, numba.prange)


def _twin(fn, suffix: str):
    """A copy of ``fn`` (same code and globals) under another name, for a second build."""
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + suffix
    twin.__module__ = fn.__module__
    return twin


class LazyJit:
    """A function compiled by Numba on its first call (see the module docstring)."""

    def __init__(self, fn, parallel: bool):
        self.py_func = fn
        self.parallel = parallel
        self._dispatcher = None
        self._serial = None
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__module__ = fn.__module__
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def dispatcher(self):
        """The Numba dispatcher (built now if needed), or the Python function without Numba."""
        d = self._dispatcher
        if d is None:
            d = self._build()
        return d

    def _build(self):
        global _parallel_used
        warm = _warm_thread
        if warm is not None and warm is not threading.current_thread():
            # The warm-up holds Numba's compiler lock while it fills the target context;
            # building a dispatcher meanwhile takes the two locks in the other order and
            # deadlocked (measured): wait for it instead.
            _warm.wait()
        numba = numba_module()
        if numba is None:
            self._dispatcher = self.py_func
            return self.py_func
        _bind_globals(self.py_func, numba)
        d = numba.njit(cache=True, nogil=True, parallel=self.parallel)(self.py_func)
        _load_cached(d)
        if self.parallel:
            # A parallel launch costs 1-10 us (OpenMP) to 100 us (workqueue) even on one
            # thread; one-thread calls go to a serial build (prange is range there),
            # cached under its own name (Numba's cache key ignores the flags).
            self._serial = numba.njit(cache=True, nogil=True)(_twin(self.py_func, "_serial"))
            _load_cached(self._serial)
            _parallel_used = True
            _apply_threads()
        else:
            # Python callers then reach the dispatcher directly.
            g = self.py_func.__globals__
            for name, v in list(g.items()):
                if v is self:
                    g[name] = d
        self._dispatcher = d
        return d

    def serial(self):
        """The one-thread build (the dispatcher itself for a serial kernel)."""
        d = self.dispatcher()
        return self._serial if self.parallel and self._serial is not None else d

    def __call__(self, *args):
        d = self._dispatcher
        if d is None:
            d = self._build()
        if self.parallel and _wanted_threads == 1 and self._serial is not None:
            return self._serial(*args)
        return d(*args)

    def __repr__(self) -> str:
        state = "built" if self._dispatcher is not None else "not built yet"
        return f"<LazyJit {self.__qualname__} ({state})>"


def serial_build(fn):
    """The one-thread build of a ``parallel=True`` kernel, for callers that decide per
    call not to split (small work): ``fn`` itself without Numba or for a serial kernel."""
    return fn.serial() if isinstance(fn, LazyJit) else fn


def njit(fn=None, *, parallel: bool = False):
    """``numba.njit(cache=True, nogil=True)`` (no fastmath) built on first call, or identity without Numba.

    Use ``parallel=True`` together with ``prange`` for kernels split over threads.
    """

    def wrap(f):
        if not HAVE_NUMBA:
            return f
        return LazyJit(f, parallel)

    return wrap(fn) if fn is not None else wrap


_pool_started = False


def _apply_threads() -> None:
    global _pool_started
    if _numba is None or _wanted_threads is None:
        return
    if _wanted_threads == 1 and not _pool_started:
        # One thread runs the serial builds only: starting Numba's pool (OpenMP
        # workers that wait, passively, for work that never comes) is not needed.
        return
    _pool_started = True
    _numba.set_num_threads(max(1, min(_wanted_threads, _numba.config.NUMBA_NUM_THREADS)))


def set_num_threads(n: int) -> None:
    """Set Numba's thread count for parallel kernels (no-op without Numba).

    Cheap and import-free until a ``parallel=True`` kernel has been built.
    """
    global _wanted_threads
    _wanted_threads = int(n)
    if _parallel_used:
        _apply_threads()
