"""The helpers that wait in native code (``native_pool``): every chunk once, within
``num_threads``, correct after parking, in a forked child, and the calls they refuse."""

from __future__ import annotations

import multiprocessing
import time

import numpy as np
import pytest

from edgelite.interpreter.compute import bound, native_pool, pool
from edgelite.interpreter.compute.jit import HAVE_NUMBA

from tests.interpreter.compute.test_pool import _fill_chunks

pytestmark = pytest.mark.skipif(not HAVE_NUMBA, reason="Numba not installed or disabled (EDGELITE_DISABLE_JIT): "
                                "the native helpers run compiled kernels only")


def _native_call(out, who, per, work, n, threads):
    """The prepared call the executor would make (``bound.pooled`` -> ``direct_entry``)."""
    args = (out, who, np.int64(per), np.int64(work), np.int64(n))
    fn, args = bound.pooled(_fill_chunks, args, n, threads)
    fn = bound.resolve(fn, threads)
    fn(*args)  # compiles the kernel for these types
    call = bound.direct_entry(fn, args)
    assert isinstance(call, native_pool.NativeCall)
    return call, args


def _expect(out, who, n, per, threads):
    np.testing.assert_array_equal(out, np.repeat(np.arange(1, n + 1), per))
    assert (who >= 0).all()
    assert who.max() < min(threads, n), "slots only for participants: at most num_threads of them"


@pytest.mark.parametrize("n, threads", [(2, 2), (7, 2), (64, 2), (64, 3), (3, 8)])
def test_every_chunk_runs_exactly_once(n, threads):
    per = 5
    out = np.zeros(n * per, np.int64)
    who = np.full(n, -1, np.int64)
    call, args = _native_call(out, who, per, 20_000, n, threads)
    for _ in range(50):
        out[:] = 0
        who[:] = -1
        call(*args)
        _expect(out, who, n, per, threads)


def test_helpers_take_part():
    """With work to share, the helper claims chunks (its slot shows up). A new helper first
    loads (or, on an empty cache, compiles: seconds under emulation) its polling loop, so
    this waits up to a minute for the first job it joins."""
    n, per = 16, 4
    out = np.zeros(n * per, np.int64)
    who = np.full(n, -1, np.int64)
    call, args = _native_call(out, who, per, 200_000, n, 2)
    deadline = time.time() + 60
    shared = False
    while not shared and time.time() < deadline:
        out[:] = 0
        who[:] = -1
        call(*args)
        _expect(out, who, n, per, 2)
        shared = bool((who == 1).any())
    assert shared, "the helper never joined a job"


def test_many_short_jobs_and_several_calls_in_a_row():
    """Late helpers meet exhausted counters of old jobs (another call's, or this call's
    previous run) and never write into the wrong job."""
    calls = []
    for n in (3, 6, 9):
        out = np.zeros(n * 5, np.int64)
        who = np.full(n, -1, np.int64)
        calls.append((n, out, who, *_native_call(out, who, 5, 0, n, 2)))
    for k in range(600):
        n, out, who, call, args = calls[k % 3]
        out[:] = 0
        who[:] = -1
        call(*args)
        _expect(out, who, n, 5, 2)


@pytest.fixture
def own_pool(monkeypatch):
    """A pool of the test's own, its helpers stopped afterwards whatever happens."""
    p = native_pool.NativePool()
    monkeypatch.setattr(native_pool, "_pool", p)
    yield p
    p.stop()


def test_correct_after_the_helpers_park(monkeypatch, own_pool):
    """Idle helpers leave the native loop and sleep; a job posted then still completes
    (with or without them), and they come back."""
    p = own_pool
    monkeypatch.setattr(native_pool, "_spin_limit", lambda: 2000)  # park after a few microseconds
    n = 8
    out = np.zeros(n * 5, np.int64)
    who = np.full(n, -1, np.int64)
    call, args = _native_call(out, who, 5, 100_000, n, 2)
    for _ in range(5):
        out[:] = 0
        call(*args)
        _expect(out, who, n, 5, 2)
        deadline = time.time() + 10  # (slow under emulation)
        while p.state[native_pool.ASLEEP] != 1 and time.time() < deadline:
            time.sleep(0.002)
        assert p.state[native_pool.ASLEEP] == 1, "the idle helper is asleep"


def test_ceiling_with_more_helpers_than_a_call_allows():
    """A 3-thread call starts two helpers; a 2-thread call afterwards lets only one join."""
    n = 32
    out3, who3 = np.zeros(n * 5, np.int64), np.full(n, -1, np.int64)
    call3, args3 = _native_call(out3, who3, 5, 50_000, n, 3)
    call3(*args3)
    assert native_pool.native().size >= 2
    out2, who2 = np.zeros(n * 5, np.int64), np.full(n, -1, np.int64)
    call2, args2 = _native_call(out2, who2, 5, 50_000, n, 2)
    for _ in range(30):
        out2[:] = 0
        who2[:] = -1
        call2(*args2)
        _expect(out2, who2, n, 5, 2)


def _child(q):
    n = 12
    out = np.zeros(n * 5, np.int64)
    who = np.full(n, -1, np.int64)
    call, args = _native_call(out, who, 5, 50_000, n, 2)
    ok = True
    for _ in range(10):
        out[:] = 0
        call(*args)
        ok = ok and bool((out == np.repeat(np.arange(1, n + 1), 5)).all())
    q.put((ok, native_pool.native().size))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform")
def test_forked_child_starts_its_own_helpers():
    out = np.zeros(20, np.int64)
    who = np.full(4, -1, np.int64)
    call, args = _native_call(out, who, 5, 50_000, 4, 2)
    call(*args)  # helpers running in the parent
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(q,))
    proc.start()
    ok, size = q.get(timeout=60)
    proc.join(timeout=30)
    assert ok and size == 1 and proc.exitcode == 0


def test_calls_it_cannot_take_keep_the_python_pool():
    out = np.zeros((10, 10), np.int64)[:, ::2]  # not C-contiguous: no address + shape for it
    who = np.full(4, -1, np.int64)
    args = (out, who, np.int64(5), np.int64(0), np.int64(4))
    fn, args = bound.pooled(_fill_chunks, args, 4, 2)
    fn = bound.resolve(fn, 2)
    assert native_pool.make_call(fn.fn, fn.fn, args, 4, 2) is None
    assert native_pool.make_call(fn.fn, fn.fn, args, 4, 1) is None, "one thread: nothing to share"


def test_disabled_by_the_environment(monkeypatch):
    monkeypatch.setenv("EDGELITE_NATIVE_POOL", "0")
    assert not pool.native_helpers()
    out = np.zeros(20, np.int64)
    who = np.full(4, -1, np.int64)
    fn, args = bound.pooled(_fill_chunks, (out, who, np.int64(5), np.int64(0), np.int64(4)), 4, 2)
    fn = bound.resolve(fn, 2)
    fn(*args)
    assert isinstance(bound.direct_entry(fn, args), bound.Pooled)


def _polling_call(monkeypatch):
    """A native call of 8 chunks whose helper never sleeps on its own (``_spin_limit``
    far away): ``(n, out, who, call, args)``."""
    monkeypatch.setattr(native_pool, "_spin_limit", lambda: 2**62)
    n = 8
    out = np.zeros(n * 5, np.int64)
    who = np.full(n, -1, np.int64)
    return (n, out, who, *_native_call(out, who, 5, 20_000, n, 2))


def _wait_asleep(p, want: int, seconds: float = 5.0) -> None:
    """Wait until ``want`` helpers sleep (or the deadline passes)."""
    deadline = time.time() + seconds
    while p.state[native_pool.ASLEEP] != want and time.time() < deadline:
        time.sleep(0.001)


def test_python_pool_jobs_send_polling_helpers_to_sleep(monkeypatch, own_pool):
    """``num_threads`` stays a ceiling when both pools serve one model: before the Python
    pool's helper runs a job, the native helpers stop polling (and sleep)."""
    p = own_pool
    n, out, who, call, args = _polling_call(monkeypatch)
    call(*args)
    time.sleep(0.05)
    assert p.state[native_pool.ASLEEP] == 0, "still polling"
    pool.run(_fill_chunks, (np.zeros(40, np.int64), np.full(8, -1, np.int64), np.int64(5), np.int64(20_000),
                            np.int64(8)), 8, 2)
    _wait_asleep(p, 1)
    assert p.state[native_pool.ASLEEP] == 1
    out[:] = 0
    call(*args)  # and the next native job wakes it again
    _expect(out, who, n, 5, 2)


def test_two_callers_at_once():
    """Two threads post their own calls to the shared helpers at the same time: each
    job's chunks still run exactly once (a helper serves whichever block it sees)."""
    import threading

    errors = []

    def caller(seed):
        n = 6 + seed
        out = np.zeros(n * 5, np.int64)
        who = np.full(n, -1, np.int64)
        call, args = _native_call(out, who, 5, 5_000 * (seed + 1), n, 2)
        for _ in range(200):
            out[:] = 0
            who[:] = -1
            call(*args)
            if not (out == np.repeat(np.arange(1, n + 1), 5)).all():
                errors.append(seed)

    threads = [threading.Thread(target=caller, args=(s,)) for s in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)


def test_a_damaged_unpacker_file_is_written_again(monkeypatch, tmp_path):
    """The generated unpacker modules are checked against the source this code makes
    before they are imported: a file that differs (truncated, tampered, another version's)
    is written again."""
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(native_pool, "_unpackers", {})
    out = np.zeros(20, np.int64)
    who = np.full(4, -1, np.int64)
    _native_call(out, who, 5, 0, 4, 2)  # writes the unpacker module under tmp_path
    files = list((tmp_path / "native_unpackers").glob("edgelite_unpack_*.py"))
    assert len(files) == 1
    good = files[0].read_text()
    files[0].write_text("raise RuntimeError('not ours')\n")
    monkeypatch.setattr(native_pool, "_unpackers", {})
    call, args = _native_call(out, who, 5, 0, 4, 2)
    assert files[0].read_text() == good
    out[:] = 0
    call(*args)
    _expect(out, who, 4, 5, 2)


from edgelite.interpreter.compute.jit import njit as _njit, prange as _prange  # noqa: E402


@_njit(parallel=True)
def _par_fill(out):
    for i in _prange(out.shape[0]):
        out[i] = i


def test_prange_kernels_in_a_plan_send_polling_helpers_to_sleep(monkeypatch, own_pool):
    """A ``parallel=True`` kernel runs on Numba's own threads: its prepared call sends the
    native helpers to sleep first (else more than ``num_threads`` threads would run)."""
    p = own_pool
    n, out, who, call, args = _polling_call(monkeypatch)
    call(*args)
    time.sleep(0.05)
    assert p.state[native_pool.ASLEEP] == 0, "still polling"
    fn = bound.resolve(_par_fill, threads=2)
    filled = np.zeros(1000, np.int64)
    fn(filled)
    assert (filled == np.arange(1000)).all()
    _wait_asleep(p, 1)
    assert p.state[native_pool.ASLEEP] == 1
    assert bound.resolve(_par_fill, threads=1) is _par_fill.serial(), "one thread: the serial build"


def test_between_invokes_helpers_yield_then_sleep(monkeypatch, own_pool):
    """After an invoke (``end``) a polling helper yields the CPU between polls and sleeps
    after ``BETWEEN_YIELDS`` of them, even when its in-invoke spin limit is far away; a
    new invoke (``begin``) and its first post bring it back."""
    p = own_pool
    n, out, who, call, args = _polling_call(monkeypatch)
    p.begin()
    call(*args)
    time.sleep(0.05)
    assert p.state[native_pool.ASLEEP] == 0, "polling within an invoke"
    p.end()
    _wait_asleep(p, 1)
    assert p.state[native_pool.ASLEEP] == 1, "asleep soon after the invoke"
    p.begin()
    out[:] = 0
    call(*args)
    _expect(out, who, n, 5, 2)
    _wait_asleep(p, 0)
    assert p.state[native_pool.ASLEEP] == 0, "woken by the post"
