"""Thread policy: how many threads Numba's and BLAS's pools may use, set in one place.

Both counts are process-wide library state. The executor decides them for each run
(:meth:`edgelite.interpreter.executor.SubgraphRuntime.invoke`) from the
interpreter's ``num_threads`` with :func:`plan_threads` and applies them with
:func:`apply`; kernels never change them (they may split work up to
``ctx.num_threads``, and pick a serial build with ``jit.serial_build``).
``num_threads`` is a ceiling that no library exceeds:

* reference (numpy) runs: BLAS may use ``num_threads`` (it is the only pool working);
* JIT runs: the big kernels (int8 SIMD GEMM, int8 3x3/5x5 depthwise, im2col, the float
  1x1 and im2col convolutions) share their chunks with edgelite's own pool
  (:mod:`~edgelite.interpreter.compute.pool`): the calling thread plus at most
  ``num_threads - 1`` helpers, which claim chunks as they come free, so a helper that
  another process keeps off the CPU is never waited for. The remaining ``prange``
  kernels (float depthwise, pooling, a few others) use Numba's pool with
  ``num_threads``. Each BLAS call stays on its caller's thread, because two pools
  spinning for the same cores cost far more than they gave; a plan whose kernels do
  their big products in BLAS outside any Numba region (``Kernel.blas_parallel``, the
  integer GEMM on float BLAS) lets BLAS use ``num_threads`` too, as they never run at
  once. Only one of these pools works at a time (each kernel returns when its work is
  done), so no more than ``num_threads`` threads run at once;
  ``tests/interpreter/compute/test_threads.py`` counts them on the OS's threads.

Example:
    >>> from edgelite.interpreter.compute.threads import plan_threads
    >>> plan_threads(4, use_jit=True, blas_parallel=False)
    ThreadPlan(numba=4, blas=1)
    >>> plan_threads(4, use_jit=False, blas_parallel=False)
    ThreadPlan(numba=4, blas=4)
"""

from __future__ import annotations

import os
import sys

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute.jit import set_num_threads


@dataclass(frozen=True)
class ThreadPlan:
    """Threads for one run: Numba's parallel kernels and BLAS calls."""

    numba: int
    blas: int


def plan_threads(num_threads: int, *, use_jit: bool, blas_parallel: bool) -> ThreadPlan:
    """The thread counts of a run with ``num_threads`` as the ceiling (see the module doc)."""
    n = max(1, int(num_threads or 1))
    if not use_jit:
        return ThreadPlan(numba=n, blas=n)
    return ThreadPlan(numba=n, blas=n if blas_parallel else 1)


def apply(plan: ThreadPlan) -> None:
    """Set both pools; cheap when nothing changed (two interpreters may differ)."""
    set_num_threads(plan.numba)
    set_blas_threads(plan.blas)


_blas_threads: int | None = None
_controller = None
_controller_saw_scipy = False


def set_blas_threads(n: int) -> None:
    """Limit the loaded BLAS libraries to ``n`` threads; cheap when unchanged.

    Calls OpenBLAS's own ``openblas_set_num_threads`` where every BLAS loaded is an
    OpenBLAS (Linux), else uses ``threadpoolctl`` when it is installed, else the
    OpenBLAS setters it finds. Called at
    every ``invoke``: the limit is process-wide, and two interpreters may want
    different counts.
    """
    global _blas_threads, _controller, _controller_saw_scipy
    n = max(1, int(n))
    # SciPy's OpenBLAS (used by other code's Numba np.dot) may load after the first
    # call: look again for libraries then, so that it is limited too.
    scipy_now = "scipy.linalg.cython_blas" in sys.modules
    if n == _blas_threads and scipy_now == _controller_saw_scipy:
        return
    if _controller is None:
        # Where every BLAS loaded is an OpenBLAS (numpy's wheels), its own setter is what
        # threadpoolctl would call, without threadpoolctl's import and library scan
        # (about 5 ms of a cold start, measured). Any other BLAS (MKL, BLIS, FlexiBLAS,
        # a plain libblas) is left to threadpoolctl, which knows how to limit it.
        setters = _openblas_setters(only_if_all_openblas=True)
        if setters:
            for set_threads in setters:
                set_threads(n)
            _blas_threads = n
            _controller_saw_scipy = scipy_now
            return
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional dependency: call OpenBLAS's own setter then
        for set_threads in _openblas_setters():
            set_threads(n)
        _blas_threads = n
        _controller_saw_scipy = scipy_now
        return
    if _controller is None or scipy_now != _controller_saw_scipy:
        _controller = ThreadpoolController()
        _controller_saw_scipy = scipy_now
    _controller.limit(limits=n, user_api="blas")
    _blas_threads = n


# The thread setters OpenBLAS builds export (numpy's and SciPy's wheels prefix and suffix them).
_OPENBLAS_SETTERS = ("openblas_set_num_threads", "openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "scipy_openblas_set_num_threads64_")


# Library names that may hold a BLAS (threadpoolctl's prefixes: libopenblas,
# libscipy_openblas, libblas, libblis, libmkl_rt, libflexiblas), matched loosely.
_BLAS_HINTS = ("blas", "blis", "mkl")


def _openblas_setters(only_if_all_openblas: bool = False) -> list:
    """``openblas_set_num_threads`` of every OpenBLAS loaded in this process (Linux:
    found in ``/proc/self/maps``), for when threadpoolctl is not installed; with
    ``only_if_all_openblas``, none unless every BLAS-like library loaded is an OpenBLAS
    that exports a setter."""
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            libs = {ln.split()[-1] for ln in f if ".so" in ln}
    except OSError:  # no /proc (macOS, Windows): OPENBLAS_NUM_THREADS governs there
        return []
    paths = sorted(p for p in libs if "openblas" in p.lower())
    if only_if_all_openblas:
        names = [os.path.basename(p).lower() for p in libs]
        if not paths or any(h in name and "openblas" not in name for name in names for h in _BLAS_HINTS):
            return []
    setters = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            if only_if_all_openblas:
                return []
            continue
        for name in _OPENBLAS_SETTERS:
            fn = getattr(lib, name, None)  # (ctypes raises AttributeError for a missing symbol)
            if fn is not None:
                fn.argtypes, fn.restype = [ctypes.c_int], None
                setters.append(fn)
                break
        else:
            if only_if_all_openblas:
                return []
    return setters
