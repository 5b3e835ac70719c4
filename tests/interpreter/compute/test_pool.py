"""The thread pool: chunks claimed once each, helpers within ``num_threads``, errors handed back."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.compute import pool
from edgelite.interpreter.compute.jit import HAVE_NUMBA, njit
from edgelite.interpreter.compute.pool import fetch_add

needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="Numba not installed or disabled (EDGELITE_DISABLE_JIT): the pool only shares compiled kernels")


@njit
def _fill_chunks(out, who, per, work, n_chunks, ctr):
    """``out[ch*per:(ch+1)*per] += ch + 1`` for each claimed chunk; ``who[ch]`` = the claimer's slot."""
    slot = -1
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        if slot < 0:
            slot = fetch_add(ctr, 2, 1)
        acc = 0.0
        for i in range(work):  # some work, so that a helper gets a chance to join
            acc += np.sqrt(i + 1.0)
        for i in range(ch * per, min(out.shape[0], (ch + 1) * per)):
            out[i] += ch + 1 + (acc < 0)
        who[ch] = slot
        fetch_add(ctr, 1, 1)


@pytest.mark.parametrize("n, threads", [(1, 1), (7, 1), (7, 2), (64, 2), (64, 4), (3, 8)])
def test_every_chunk_runs_exactly_once(n, threads):
    per = 5
    out = np.zeros(n * per, np.int64)
    who = np.full(n, -1, np.int64)
    pool.run(_fill_chunks, (out, who, np.int64(per), np.int64(20_000), np.int64(n)), n, threads)
    np.testing.assert_array_equal(out, np.repeat(np.arange(1, n + 1), per))
    assert (who >= 0).all()
    assert who.max() < min(threads, n), "slots only for participants: at most num_threads of them"


@needs_numba
def test_helpers_never_exceed_threads_minus_one():
    p = pool.Pool()
    out = np.zeros(40, np.int64)
    who = np.full(8, -1, np.int64)
    for threads in (1, 2, 3):
        out[:] = 0
        p.run(_fill_chunks, (out, who, np.int64(5), np.int64(50_000), np.int64(8)), 8, threads)
        assert p.size <= threads - 1 or (threads == 1 and p.size == 0)
        np.testing.assert_array_equal(out, np.repeat(np.arange(1, 9), 5))
    assert p.size == 2


@needs_numba
def test_many_jobs_in_a_row_stay_correct():
    """Late helpers meet exhausted counters of old jobs and never write into a new job."""
    out = np.zeros(30, np.int64)
    who = np.full(6, -1, np.int64)
    for k in range(300):
        out[:] = 0
        pool.run(_fill_chunks, (out, who, np.int64(5), np.int64(k % 7 * 50), np.int64(6)), 6, 2)
        np.testing.assert_array_equal(out, np.repeat(np.arange(1, 7), 5))


def test_chunks_for_policy():
    assert pool.chunks_for(1e9, 100, 1) == 1, "one thread: never split"
    assert pool.chunks_for(pool.MIN_SPLIT_COST_NS - 1, 100, 2) == 1, "small work stays on the caller"
    assert pool.chunks_for(1e9, 1, 4) == 1, "one unit cannot be split"
    n = pool.chunks_for(1e9, 1000, 2)
    assert 2 <= n <= 2 * pool.MAX_CHUNKS_PER_THREAD
    assert pool.chunks_for(1e9, 3, 2) == 3, "never more chunks than units"


def test_fetch_add_without_numba_is_plain_python():
    a = np.zeros(3, np.int64)
    assert pool.fetch_add(a, 1, 5) == 0 and pool.fetch_add(a, 1, 2) == 5 and a[1] == 7


@needs_numba
def test_a_helpers_error_reaches_the_caller():
    calls = []

    def boom(*args):
        calls.append(1)
        ctr = args[-1]
        if len(calls) > 1:  # the helper: claims the second chunk, then fails
            ctr[0] += 1
            raise RuntimeError("helper failed")
        ctr[0] += 1  # the caller takes chunk 0 and finishes it, then waits for chunk 1
        ctr[1] += 1
        import time

        deadline = time.monotonic() + 10
        while ctr[0] < 2 and time.monotonic() < deadline:
            time.sleep(0.001)

    with pytest.raises(RuntimeError, match="helper failed"):
        pool.Pool().run(boom, (), 2, 2)


@needs_numba
def test_building_the_pools_own_wait_leaves_fetch_add_a_python_function():
    """Binding the intrinsic into pool's own kernel must not rebind ``pool.fetch_add``:
    kernels of other modules compiled later look for that placeholder (a bug met here)."""
    ctr = np.array([0, 3, 0], np.int64)
    assert pool._spin_until_done(ctr, np.int64(3), np.int64(1))
    a = np.zeros(3, np.int64)
    assert pool.fetch_add(a, 2, 4) == 0 and a[2] == 4
    assert getattr(pool.fetch_add, "jit_intrinsic", None) == "fetch_add"
