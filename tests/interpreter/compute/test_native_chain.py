"""Runs of prepared calls made in native code (``native_chain``): the same results as the
Python calls, every argument kind carried, pool counters fresh on every run, plain
copies only, nothing that could leak chained, and a kernel's exception raised, never
swallowed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.interpreter.compute import bound, native_chain, native_pool, pool
from edgelite.interpreter.compute.jit import HAVE_NUMBA, njit, wait_until_warm

from tests.interpreter.compute.test_pool import _fill_chunks

pytestmark = pytest.mark.skipif(not HAVE_NUMBA, reason="Numba not installed or disabled (EDGELITE_DISABLE_JIT): "
                                "chains run compiled kernels only")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@njit
def _scale_add(out, x, k, c):
    """``out = x * k + c`` (``k`` a float32, ``c`` a float64)."""
    for i in range(out.shape[0]):
        out[i] = np.float32(x[i] * k + c)


@njit
def _scalars(out, a, b, flag, f):
    """Writes its scalar arguments back, to see each one arrive."""
    out[0] = a
    out[1] = b
    out[2] = 1 if flag else 0
    out[3] = np.int64(f * 4.0)


@njit
def _divide(out, num, den):
    """``out = num // den`` elementwise (raises ZeroDivisionError on a zero, as Python does)."""
    for i in range(out.shape[0]):
        out[i] = num[i] // den[i]


@njit
def _divide_once(out, num, den, trap):
    """``out = num // den``, dividing by ``trap[0]`` first (then setting it to 1): raises
    the first time ``trap[0]`` is 0 and never again."""
    t = trap[0]
    trap[0] = 1
    out[0] = num[0] // t
    for i in range(out.shape[0]):
        out[i] = num[i] // den[i]


@njit
def _returns_array(out):
    out[0] = 7
    return out.copy()


def _plan(calls):
    """What the executor makes of ``calls``: resolved, run once (compiled), direct entries, chained."""
    resolved = []
    direct = []
    for fn, args in calls:
        fn = bound.resolve(fn, 1)
        bound.first_run(fn, args)
        resolved.append((fn, args))
        direct.append((bound.direct_entry(fn, args), args))
    return native_chain.chain(resolved, direct)


def _run(plan):
    for fn, args in plan:
        fn(*args)


def test_a_run_of_kernels_becomes_one_chain_with_the_same_results():
    x = np.arange(10, dtype=np.float32)
    a, b, c = (np.zeros(10, np.float32) for _ in range(3))
    plan = _plan([(_scale_add, (a, x, np.float32(2.0), 1.0)),
                  (_scale_add, (b, a, np.float32(-0.5), 0.25)),
                  (np.copyto, (c, b))])
    assert len(plan) == 1 and isinstance(plan[0][0], native_chain.NativeChain)
    a[:] = b[:] = c[:] = 0
    x[:] = np.linspace(-3, 3, 10, dtype=np.float32)
    _run(plan)  # the chain reads the arrays' current data
    want_a = (x * np.float32(2.0) + 1.0).astype(np.float32)
    want_b = (want_a * np.float32(-0.5) + 0.25).astype(np.float32)
    np.testing.assert_array_equal(a, want_a)
    np.testing.assert_array_equal(b, want_b)
    np.testing.assert_array_equal(c, want_b)


def test_every_scalar_kind_arrives():
    out = np.zeros(4, np.int64)
    dummy = np.zeros(4, np.int64)
    plan = _plan([(_scalars, (out, np.int32(-7), 2**40 + 3, True, np.float32(1.25))),
                  (_scalars, (dummy, 1, 2, False, 0.5))])
    assert isinstance(plan[0][0], native_chain.NativeChain)
    out[:] = 0
    _run(plan)
    assert out.tolist() == [-7, 2**40 + 3, 1, 5]
    assert dummy.tolist() == [1, 2, 0, 2]


def test_a_pool_kernel_run_alone_gets_a_fresh_counter_every_run():
    n, per = 6, 3
    out = np.zeros(n * per, np.int64)
    who = np.full(n, -1, np.int64)
    args = (out, who, np.int64(per), np.int64(10), np.int64(n))
    plan = _plan([bound.pooled(_fill_chunks, args, n, 1), bound.pooled(_fill_chunks, args, n, 1)])
    assert len(plan) == 1 and isinstance(plan[0][0], native_chain.NativeChain)
    for _ in range(3):
        out[:] = 0
        _run(plan)  # both calls claim every chunk: each counter was zeroed before its call
        np.testing.assert_array_equal(out, 2 * np.repeat(np.arange(1, n + 1), per))


def test_copies_only_when_they_are_plain_byte_copies():
    src = np.arange(24, dtype=np.int8).reshape(2, 3, 4)
    dst = np.zeros((2, 3, 4), np.int8)
    bigger = np.zeros((2, 3, 8), np.int8)
    other = np.zeros((2, 3, 4), np.int16)
    x, y = np.ones(3, np.float32), np.zeros(3, np.float32)
    kernel = (_scale_add, (y, x, np.float32(1.0), 0.0))
    for args, chained in [((dst, src), True), ((dst, src, "unsafe"), True),
                          ((bigger[:, :, :4], src), True),  # a strided destination: scattered in runs
                          ((bigger[:, :, ::2], src), False),  # its last dimension strided
                          ((bigger[:, ::-1, :4], src), False),  # a negative stride
                          ((other, src, "unsafe"), False),  # a cast
                          ((dst, src[:, :, :1]), False),  # a broadcast
                          ((dst, dst[::-1].copy()[::-1]), False)]:  # a strided source
        plan = _plan([kernel, (np.copyto, args), kernel])
        assert (len(plan) == 1) == chained, args[0].shape
        args[0][...] = 0
        _run(plan)
        if chained:
            np.testing.assert_array_equal(args[0], src)


@pytest.mark.parametrize("view", [(slice(None), slice(1, 4), slice(2, 7), slice(None)),  # PAD's interior
                                  (0, slice(1, 4), slice(2, 7), slice(1, 3)),
                                  (slice(None), slice(0, 1), slice(None), slice(None)),  # contiguous rows
                                  (slice(1, 2), slice(None), slice(3, 4), slice(None))])
def test_scattered_copies_equal_numpy(view):
    out = np.full((2, 6, 9, 3), -1, np.float32)
    want = out.copy()
    dst = out[view]
    src = np.arange(dst.size, dtype=np.float32).reshape(dst.shape) + 0.5
    x, y = np.ones(3, np.float32), np.zeros(3, np.float32)
    kernel = (_scale_add, (y, x, np.float32(1.0), 0.0))
    plan = _plan([kernel, (np.copyto, (dst, src, "unsafe")), kernel])
    assert len(plan) == 1
    out[...] = -1
    _run(plan)
    want[view] = src
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("dtype, value", [(np.int8, -3), (np.uint8, 200), (np.int16, -2), (np.float32, 1.5),
                                          (np.float32, -0.0), (np.float64, np.nan), (np.int64, -(2**40)),
                                          (np.bool_, True)])
def test_fills_equal_numpy(dtype, value):
    arr = np.zeros(37, dtype)
    value = np.array(value, dtype)[()]
    x, y = np.ones(3, np.float32), np.zeros(3, np.float32)
    kernel = (_scale_add, (y, x, np.float32(1.0), 0.0))
    plan = _plan([kernel, (arr.fill, (value,)), kernel])
    assert len(plan) == 1
    arr[...] = 0
    _run(plan)
    want = np.full(37, value, dtype)
    assert arr.tobytes() == want.tobytes()


def test_fills_of_python_numbers_only_when_exact():
    x, y = np.ones(3, np.float32), np.zeros(3, np.float32)
    kernel = (_scale_add, (y, x, np.float32(1.0), 0.0))
    for dtype, value, chained in [(np.int8, 3, True), (np.int8, -128, True), (np.uint8, 255, True),
                                  (np.int8, np.int16(3), False), (np.int8, 2.0, False), (np.int8, True, False),
                                  (np.float32, 0.0, True), (np.float32, -2.5, True), (np.float32, 0.1, False),
                                  (np.float32, float("nan"), False), (np.float64, 0.1, True), (np.float32, 3, True),
                                  (np.float32, 2**24 + 1, False)]:
        arr = np.zeros(8, dtype)
        plan = _plan([kernel, (arr.fill, (value,)), kernel])
        assert (len(plan) == 1) == chained, (dtype, value)
        arr[...] = 7
        _run(plan)
        assert arr.tobytes() == np.full(8, value, dtype).tobytes()


def test_what_cannot_be_chained_stays_a_python_call():
    out = np.zeros(3, np.int64)
    x, y = np.ones(3, np.float32), np.zeros(3, np.float32)
    kernel = (_scale_add, (y, x, np.float32(1.0), 0.0))
    plan = _plan([kernel, (_returns_array, (out,)), kernel, (np.add, (x, x, y)), kernel, kernel])
    kinds = [type(fn).__name__ for fn, _ in plan]
    assert kinds[-1] == "NativeChain" and kinds.count("NativeChain") == 1, kinds
    assert len(plan) == 5  # kernel, _returns_array, kernel, np.add, chain of two


def test_a_kernel_that_raises_stops_the_chain_and_raises():
    num = np.array([7, 8, 9], np.int64)
    den = np.array([2, 1, 3], np.int64)
    first, second, third = (np.zeros(3, np.int64) for _ in range(3))
    plan = _plan([(_divide, (first, num, np.array([1, 1, 1], np.int64))),
                  (_divide, (second, num, den)),
                  (_divide, (third, num, np.array([1, 1, 1], np.int64)))])
    assert len(plan) == 1 and isinstance(plan[0][0], native_chain.NativeChain)
    first[:] = third[:] = 0
    den[1] = 0
    with pytest.raises(ZeroDivisionError):
        _run(plan)
    assert first.tolist() == [7, 8, 9]
    assert third.tolist() == [0, 0, 0]  # not run after the call that raised
    den[1] = 4
    _run(plan)
    assert second.tolist() == [3, 2, 3] and third.tolist() == [7, 8, 9]


def test_after_a_call_raised_once_the_chain_goes_on():
    """The call that raised is made again through Python; when that does not raise, the
    chain continues with the next row."""
    num = np.array([6, 8], np.int64)
    ones = np.ones(2, np.int64)
    trap = np.ones(1, np.int64)
    a, b, c = (np.zeros(2, np.int64) for _ in range(3))
    plan = _plan([(_divide, (a, num, ones)), (_divide_once, (b, num, ones, trap)), (_divide, (c, num, ones))])
    assert len(plan) == 1
    a[:] = b[:] = c[:] = 0
    trap[0] = 0
    _run(plan)
    assert trap[0] == 1 and a.tolist() == b.tolist() == c.tolist() == [6, 8]


def _model_plan(path, monkeypatch, chains: bool):
    monkeypatch.setenv("EDGELITE_NATIVE_CHAIN", "1" if chains else "0")
    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    return it


@pytest.mark.parametrize("name", ["int8_cnn.tflite", "mobilenet_v2_035_96_int8.tflite", "float32_cnn.tflite"])
def test_models_give_the_same_bits_with_and_without_chains(name, monkeypatch):
    path = FIXTURES / name
    runs = {}
    for chains in (True, False):
        it = _model_plan(path, monkeypatch, chains)
        wait_until_warm()
        d = it.get_input_details()[0]
        rng = np.random.default_rng(3)
        outs = []
        for _ in range(4):
            if d["dtype"] == np.float32:
                x = rng.standard_normal(d["shape"]).astype(np.float32)
            else:
                x = rng.integers(-128, 128, d["shape"]).astype(d["dtype"])
            it.set_tensor(d["index"], x)
            it.invoke()
            it.invoke()  # the first invoke of a runtime may run the reference kernels
            outs.append([it.get_tensor(o["index"]).copy() for o in it.get_output_details()])
        calls = it._runtime(0)._calls
        n_chains = sum(isinstance(fn, native_chain.NativeChain) for fn, _ in calls)
        runs[chains] = outs
        if chains and "int8" in name:
            assert n_chains >= 1, "an int8 model's plan has runs of Numba kernels: a chain must form"
        if not chains:
            assert n_chains == 0
    for with_chain, without in zip(runs[True], runs[False]):
        for p, q in zip(with_chain, without):
            assert p.dtype == q.dtype and p.tobytes() == q.tobytes()


def test_counter_length_matches_the_pool():
    from edgelite.interpreter.compute import native_loops

    assert native_loops.CTR_LEN == pool.CTR_LEN


def test_without_compiling_only_cached_unpackers_join(tmp_path, monkeypatch):
    """``compile_new=False`` (a plan whose reference run was long): a kernel call joins a
    chain only when its unpacker was compiled into the cache before (its mark is there)."""
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(native_pool, "_unpackers", {})
    x, y, z = np.ones(5, np.float32), np.zeros(5, np.float32), np.zeros(5, np.float32)
    calls = [(_scale_add, (y, x, np.float32(2.0), 1.0)), (_scale_add, (z, y, np.float32(2.0), 1.0))]
    resolved, direct = [], []
    for fn, args in calls:
        fn = bound.resolve(fn, 1)
        bound.first_run(fn, args)
        resolved.append((fn, args))
        direct.append((bound.direct_entry(fn, args), args))
    assert len(native_chain.chain(resolved, direct, compile_new=False)) == 2  # nothing compiled yet
    assert not list(tmp_path.glob("native_unpackers/*.compiled"))
    assert len(native_chain.chain(resolved, direct, compile_new=True)) == 1
    assert list(tmp_path.glob("native_unpackers/*.compiled"))
    monkeypatch.setattr(native_pool, "_unpackers", {})  # a new process: loaded from the cache
    plan = native_chain.chain(resolved, direct, compile_new=False)
    assert len(plan) == 1
    y[:] = z[:] = 0
    _run(plan)
    np.testing.assert_array_equal(z, np.full(5, 7.0, np.float32))


def test_a_long_reference_run_compiles_no_new_unpacker(monkeypatch):
    """``bound.chained`` passes the rule on: a plan whose reference run took longer than
    ``SMALL_PLAN_SECONDS`` compiles nothing new."""
    seen = []
    monkeypatch.setattr(native_chain, "chain", lambda r, d, compile_new=True: seen.append(compile_new) or d)
    resolved = [(bound.resolve(_scale_add, 1), ())]
    bound.chained(resolved, [(None, ())], reference_seconds=native_chain.SMALL_PLAN_SECONDS * 2)
    bound.chained(resolved, [(None, ())], reference_seconds=native_chain.SMALL_PLAN_SECONDS / 2)
    bound.chained(resolved, [(None, ())], reference_seconds=None)
    monkeypatch.setenv("EDGELITE_NATIVE_CHAIN", "compile")
    bound.chained(resolved, [(None, ())], reference_seconds=native_chain.SMALL_PLAN_SECONDS * 2)
    assert seen == [False, True, True, True]


def _shared_plan(out, who, per, work, n, threads, extra_calls):
    """A plan with a call split over the native helpers between two plain kernel calls."""
    args = (out, who, np.int64(per), np.int64(work), np.int64(n))
    resolved, direct = [], []
    for fn, a in [extra_calls[0], bound.pooled(_fill_chunks, args, n, threads), extra_calls[1]]:
        fn = bound.resolve(fn, threads)
        bound.first_run(fn, a)
        resolved.append((fn, a))
        direct.append((bound.direct_entry(fn, a), a))
    assert isinstance(direct[1][0], native_pool.NativeCall)
    return native_chain.chain(resolved, direct)


@pytest.mark.parametrize("n, threads", [(2, 2), (16, 2), (16, 3)])
def test_calls_shared_with_the_helpers_run_every_chunk_once(n, threads):
    per = 4
    out = np.zeros(n * per, np.int64)
    who = np.full(n, -1, np.int64)
    x, y, z = np.ones(3, np.float32), np.zeros(3, np.float32), np.zeros(3, np.float32)
    plan = _shared_plan(out, who, per, 20_000, n, threads,
                        [(_scale_add, (y, x, np.float32(2.0), 0.0)), (_scale_add, (z, y, np.float32(2.0), 0.0))])
    assert len(plan) == 1 and plan[0][0].helpers == threads - 1
    helper = bound.native_helpers_of(plan)
    assert helper is not None  # the executor wakes them for the invoke
    for _ in range(40):
        out[:] = 0
        who[:] = -1
        y[:] = z[:] = 0
        helper.begin()
        _run(plan)
        helper.end()
        np.testing.assert_array_equal(out, np.repeat(np.arange(1, n + 1), per))
        assert (who >= 0).all() and who.max() < min(threads, n)
        assert z.tolist() == [4.0] * 3  # the calls after the shared one ran, in order


def test_helpers_asleep_are_woken_and_join():
    """A chain shares its pooled calls with a helper (first wait: a new helper loads, or
    on an empty cache compiles, its polling loop: minutes under emulation); then, with
    every helper sent to sleep, the chain returns to Python at the shared call, Python
    wakes them, and a helper takes chunks again."""
    n, per = 16, 4
    out = np.zeros(n * per, np.int64)
    who = np.full(n, -1, np.int64)
    x, y = np.ones(3, np.float32), np.zeros(3, np.float32)
    plan = _shared_plan(out, who, per, 300_000, n, 2,
                        [(_scale_add, (y, x, np.float32(1.0), 0.0)), (_scale_add, (y, x, np.float32(1.0), 0.0))])

    pool_ = native_pool.native()

    def helper_joins(seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            out[:] = 0
            who[:] = -1
            pool_.begin()  # as the executor brackets every invoke
            _run(plan)
            pool_.end()
            np.testing.assert_array_equal(out, np.repeat(np.arange(1, n + 1), per))
            if (who == 1).any():
                return True
        return False

    assert helper_joins(180), "a helper never took a chunk of a chained shared call"
    for _ in range(3):
        pool_.park()  # every helper goes to sleep
        t0 = time.time()
        while pool_.state[native_pool.ASLEEP] < pool_.size and time.time() - t0 < 10:
            time.sleep(0.001)
        assert pool_.state[native_pool.ASLEEP] == pool_.size
        assert helper_joins(60), "helpers sent to sleep were not woken by the chain"
