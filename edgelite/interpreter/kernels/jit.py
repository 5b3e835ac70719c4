"""The one place that decides whether Numba is used, and how kernels are compiled.

Kernels never import numba directly: they use ``njit`` from here, which is the real
``numba.njit`` with the project's flags (``cache=True`` so a second process compiles
nothing, ``nogil=True`` so kernels can run on threads) when Numba is installed, and a
no-op otherwise (the reference kernels then run; Android has no Numba).

Set ``EDGELITE_DISABLE_JIT=1`` to force the reference kernels.

Example:
    >>> from edgelite.interpreter.kernels.jit import njit, HAVE_NUMBA
    >>> @njit
    ... def add1(a, out):
    ...     for i in range(a.shape[0]):
    ...         out[i] = a[i] + 1
"""

from __future__ import annotations

import os

HAVE_NUMBA = False
_numba = None
if os.environ.get("EDGELITE_DISABLE_JIT", "") not in ("1", "true", "yes"):
    try:
        import numba as _numba

        HAVE_NUMBA = True
    except ImportError:  # pragma: no cover - depends on the install
        _numba = None


def njit(fn=None, *, parallel: bool = False):
    """``numba.njit(cache=True, nogil=True)`` (no fastmath), or identity without Numba.

    Use ``parallel=True`` together with ``prange`` for kernels split over threads.
    """

    def wrap(f):
        if not HAVE_NUMBA:
            return f
        return _numba.njit(cache=True, nogil=True, parallel=parallel)(f)

    return wrap(fn) if fn is not None else wrap


# ``numba.prange`` inside compiled code (a parallel loop), plain ``range`` otherwise.
prange = _numba.prange if HAVE_NUMBA else range


def set_num_threads(n: int) -> None:
    """Set Numba's thread count for parallel kernels (no-op without Numba)."""
    if HAVE_NUMBA:
        _numba.set_num_threads(max(1, min(int(n), _numba.config.NUMBA_NUM_THREADS)))
