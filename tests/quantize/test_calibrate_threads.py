"""Calibration on several threads (``QuantizeOptions.num_threads``) gives what one thread gives.

* ``run_in_order`` by hand, with fake runners: every sample once, in order, sample ``k``
  on runner ``k % size``, never two runs of one runner at once, never a runner run
  while the caller still holds the values it handed out, errors raised in the caller;
* ``calibrate`` on edgelite's interpreter and on LiteRT: the ranges of every observer
  (the order-dependent moving average and the two-pass histogram ones included), the
  bias-correction means and the float references are equal, bit for bit, to one
  thread's; as many runners as threads are made, at most one per sample;
* ``quantize_model``: the same bytes with 1, 2 and 3 threads (int8 with ``bias_correction="auto"``
  scoring its candidates on threads too, percentile, int16x8, an SQNR target); the default
  thread count; bad values refused.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from edgelite.errors import QuantizationError
from edgelite.quantize import QuantizeOptions, quantize_model
from edgelite.quantize import api as qapi
from edgelite.quantize import calibrate as qcal
from edgelite.quantize.calibrate import RunnerSet, activation_tensors, calibrate, run_in_order
from edgelite.quantize.runner import SMALL_MODEL_ELEMENTS, model_elements
from edgelite.quantize.selection import Candidate, choose
from edgelite.schema import read_model
from tests.quantize.models import image_batch, small_cnn

# -- run_in_order by hand ----------------------------------------------------------------------


class _FakeRunner:
    """Returns ``{0: feed["x"] * 2}``; records what ran and checks nobody overlaps."""

    def __init__(self, log: list, name: int, busy: dict, held: dict):
        self.log, self.name, self.busy, self.held = log, name, busy, held

    def run(self, feed, copy=True):
        assert not copy
        assert not self.busy.get(self.name), "a runner was run twice at once"
        assert not self.held.get(self.name), "a runner was run while its last values were held"
        self.busy[self.name] = True
        time.sleep(0.002 * (int(feed["x"][0]) % 3))  # finish out of order
        self.log.append((self.name, int(feed["x"][0]), threading.get_ident()))
        self.busy[self.name] = False
        return {0: feed["x"] * 2}


def _fake_set(size: int):
    log, busy, held, made = [], {}, {}, []

    def make(slot):  # RunnerSet makes its runners at once, on several threads
        made.append(slot)
        return _FakeRunner(log, slot, busy, held)

    return RunnerSet(make, size), log, held, made


@pytest.mark.parametrize("size", [1, 2, 3])
def test_run_in_order_hands_out_every_sample_in_order(size):
    runners, log, held, made = _fake_set(size)
    feeds = [{"x": np.array([k])} for k in range(10)]
    got = []
    for k, values in run_in_order(runners, feeds):
        runner = k % size
        held[runner] = True  # the caller holds sample k's views of this runner ...
        got.append((k, int(values[0][0])))
        time.sleep(0.001)
        held[runner] = False  # ... and drops them before asking for the next one
        del values
    assert got == [(k, 2 * k) for k in range(10)]
    assert sorted((name, k) for name, k, _ in log) == sorted((k % size, k) for k in range(10))
    assert len(made) == size


def test_run_in_order_uses_several_threads_and_reraises_errors():
    runners, log, _, _ = _fake_set(2)
    feeds = [{"x": np.array([k])} for k in range(6)]
    assert [k for k, _ in run_in_order(runners, feeds)] == list(range(6))
    assert len({tid for _, _, tid in log}) >= 2

    def boom(slot):
        class Bad:
            def run(self, feed, copy=True):
                if int(feed["x"][0]) == 3:
                    raise QuantizationError("sample 3 is bad")
                return {0: feed["x"]}
        return Bad()

    seen = []
    with pytest.raises(QuantizationError, match="sample 3"):
        for k, _ in run_in_order(RunnerSet(boom, 2), feeds):
            seen.append(k)
    assert seen == [0, 1, 2]


# -- calibrate: one thread's results, bit for bit ----------------------------------------------


@pytest.mark.parametrize("backend", ["edgelite", "litert"])
@pytest.mark.parametrize("observer", ["minmax", "moving_average", "percentile", "entropy"])
def test_calibrate_threads_give_one_threads_ranges_means_and_references(backend, observer):
    f = small_cnn()
    m = read_model(f)
    feeds = [{"image": d[None]} for d in image_batch(7, 16, seed=3)]
    tensors = activation_tensors(m)

    def run(threads):
        means = {t: None for t in tensors[1:4]}
        refs = {0: None, 3: None, 6: None}
        ranges = calibrate(f, m, feeds, observer=observer, backend=backend, means=means,
                           mean_samples=[0, 2, 3, 5], references=refs, num_threads=threads)
        return ranges, means, refs

    r1, m1, f1 = run(1)
    for threads in (2, 3, 20):
        r, mm, ff = run(threads)
        assert r == r1
        assert all(np.array_equal(mm[t], m1[t]) for t in m1)
        assert all(np.array_equal(a, b) for k in f1 for a, b in zip(ff[k], f1[k]))


def test_calibrate_makes_one_runner_per_thread_at_most_one_per_sample(monkeypatch):
    made = []
    real = qcal.make_runner

    def counting(*args, **kwargs):
        made.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(qcal, "make_runner", counting)
    f = small_cnn()
    m = read_model(f)
    feeds = [{"image": d[None]} for d in image_batch(5, 16)]
    for threads, want in ((1, 1), (2, 2), (3, 3), (8, 5)):
        made.clear()
        calibrate(f, m, feeds, backend="edgelite", num_threads=threads)
        assert len(made) == want, threads
        assert threading.get_ident() in made  # one in the caller: its errors come first


def test_runner_set_raises_the_callers_make_error_and_later_ones_at_first_use():
    def make(slot):
        if threading.get_ident() == caller:
            raise QuantizationError("the caller's runner")
        return object()

    caller = threading.get_ident()
    with pytest.raises(QuantizationError, match="caller's runner"):
        RunnerSet(make, 3)

    def make_others_fail(slot):
        if threading.get_ident() != caller:
            raise QuantizationError("a pool thread's runner")

        class Ok:
            def run(self, feed, copy=True):
                return {0: feed["x"]}

        return Ok()

    runners = RunnerSet(make_others_fail, 2)
    assert runners.run(0, {"x": 1}) == {0: 1}
    with pytest.raises(QuantizationError, match="pool thread's runner"):
        runners.run(1, {"x": 2})


# -- quantize_model -------------------------------------------------------------------------------


def test_quantize_model_same_bytes_on_any_number_of_threads():
    f = small_cnn(seed=2)
    data = image_batch(12, 16, seed=4)
    want = quantize_model(f, "int8", calibration=data, num_threads=1)
    for threads in (2, 3):
        assert quantize_model(f, "int8", calibration=data, num_threads=threads) == want
    hist = quantize_model(f, "int8", calibration=data, observer="percentile", num_threads=1)
    assert quantize_model(f, "int8", calibration=data, observer="percentile", num_threads=2) == hist
    wide = quantize_model(f, "int16x8", calibration=data, num_threads=1)
    assert quantize_model(f, "int16x8", calibration=data, num_threads=2) == wide
    target = quantize_model(f, "int8", calibration=data, target_sqnr=60.0, num_threads=1)
    assert quantize_model(f, "int8", calibration=data, target_sqnr=60.0, num_threads=2) == target


def test_choose_scores_candidates_on_threads_as_alone():
    f = small_cnn(seed=1)
    data = image_batch(6, 16, seed=5)
    feeds = [{"image": d[None]} for d in data]
    m = read_model(f)
    refs = {k: None for k in range(6)}
    calibrate(f, m, feeds, references=refs)
    a = quantize_model(f, "int8", calibration=data, bias_correction=False)
    b = quantize_model(f, "int8", calibration=data, bias_correction=True)
    assert a != b
    cands = [Candidate("off", a), Candidate("on", b), Candidate("off again", a)]
    ref_list = [refs[k] for k in range(6)]
    best1, scored1 = choose(cands, feeds, ref_list, num_threads=1)
    best2, scored2 = choose(cands, feeds, ref_list, num_threads=2)
    assert [c.sqnr_db for c in scored2] == [c.sqnr_db for c in scored1]
    assert best2.name == best1.name
    assert scored1[0].sqnr_db == scored1[2].sqnr_db


def test_default_thread_count(monkeypatch):
    seen = []
    real = qapi.calibrate

    def spy(*args, **kwargs):
        seen.append(kwargs["num_threads"])
        return real(*args, **kwargs)

    monkeypatch.setattr(qapi, "calibrate", spy)
    f = small_cnn()
    assert model_elements(read_model(f)) < SMALL_MODEL_ELEMENTS
    data = image_batch(4, 16)
    quantize_model(f, "int8", calibration=data)
    quantize_model(f, "int8", calibration=data, num_threads=3)
    assert seen == [1, 3]  # a small model runs on one thread unless told otherwise
    monkeypatch.setattr(qapi, "SMALL_MODEL_ELEMENTS", 0)
    monkeypatch.setattr(qapi.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    quantize_model(f, "int8", calibration=data)
    monkeypatch.setattr(qapi.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    quantize_model(f, "int8", calibration=data)
    assert seen[2:] == [qapi.MAX_DEFAULT_THREADS, 1]
    # a model whose tensors fill the memory allowance twice over gets two threads of 64 CPUs
    monkeypatch.setattr(qapi.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(qapi, "model_elements", lambda m: qapi.DEFAULT_THREADS_MEMORY // 8)
    quantize_model(f, "int8", calibration=data)
    monkeypatch.setattr(qapi, "model_elements", lambda m: qapi.DEFAULT_THREADS_MEMORY)
    quantize_model(f, "int8", calibration=data)
    assert seen[4:] == [2, 1]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_refused(bad):
    with pytest.raises(QuantizationError, match="num_threads"):
        QuantizeOptions(num_threads=bad).validate()
