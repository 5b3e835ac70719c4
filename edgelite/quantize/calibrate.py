"""Run the float model on calibration data and record each activation's range.

Example:
    >>> import numpy as np
    >>> from edgelite.schema.builder import ModelBuilder
    >>> from edgelite.schema import read_model
    >>> b = ModelBuilder(); x = b.add_input("x", (1, 2), np.float32)
    >>> y = b.add_tensor("y", (1, 2), np.float32); _ = b.add_operator("RELU", [x], [y]); b.mark_output(y)
    >>> data = b.build()
    >>> feeds = [{"x": np.array([[-1.0, 3.0]], np.float32)}]
    >>> calibrate(data, read_model(data), feeds, backend="litert")[1]
    (0.0, 3.0)
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterator, Sequence

import numpy as np

from edgelite.quantize.observers import make_observer
from edgelite.quantize.runner import make_runner, model_elements
from edgelite.schema.model import Model, TensorType

ProgressFn = Callable[[int, int, str], None]


def activation_tensors(model: Model) -> list[int]:
    """Indices of subgraph 0's float32 tensors that hold activations (no constant data)."""
    sg = model.subgraphs[0]
    used = set(sg.inputs) | set(sg.outputs)
    for op in sg.operators:
        used.update(i for i in op.inputs if i >= 0)
        used.update(op.outputs)
    return [
        i for i in sorted(used)
        if sg.tensors[i].type == TensorType.FLOAT32 and model.tensor_data(sg.tensors[i]) is None
    ]


def calibrate(
    model_bytes: bytes,
    model: Model,
    feeds: Sequence[dict[str, np.ndarray]],
    *,
    observer: str = "minmax",
    percentile: float = 99.99,
    num_bins: int = 2048,
    moving_average_constant: float = 0.01,
    levels: int = 256,
    backend: str = "auto",
    progress: ProgressFn | None = None,
    means: dict[int, np.ndarray] | None = None,
    mean_samples: Sequence[int] | None = None,
    references: dict[int, list[np.ndarray] | None] | None = None,
    num_threads: int = 1,
) -> dict[int, tuple[float, float]]:
    """``{tensor_index: (low, high)}`` for every float activation the data reached.

    Histogram observers run the data twice (ranges first, histograms second).
    Deterministic: the same model and data give the same ranges.

    ``means``, when given, maps tensor indices to ``None``; on return each holds that
    tensor's per-position mean (float64) over the samples whose indices are in
    ``mean_samples`` (default: all), for bias correction.
    ``references``, when given, maps sample indices to ``None``; on return each holds
    copies of the model's outputs for that sample (in ``subgraph.outputs`` order), the
    float reference that ``bias_correction="auto"`` scores candidate models against.

    ``num_threads`` > 1 runs that many samples at once, each on its own single-threaded
    interpreter (:func:`run_in_order`); the observers still see the samples one by one
    in order, so the ranges, means and references are exactly those of one thread.
    """
    tensors = activation_tensors(model)
    elements = model_elements(model)
    runners = RunnerSet(lambda slot: make_runner(model_bytes, tensors, backend, elements=elements),
                        max(1, min(int(num_threads), len(feeds))))
    observers = {
        t: make_observer(observer, percentile=percentile, num_bins=num_bins,
                         moving_average_constant=moving_average_constant, levels=levels)
        for t in tensors
    }
    n = len(feeds)
    sums = _MeanAccumulator(means)
    mean_at = set(range(n) if mean_samples is None else mean_samples) if means else set()
    keep = set(references or ())
    outputs = model.subgraphs[0].outputs
    for k, values in run_in_order(runners, feeds):
        # Views, not copies: they must be dropped before the next run.
        for t in values:
            observers[t].observe(values[t])
        if k in mean_at:
            sums.add(values)
        if k in keep:
            references[k] = [np.array(values[t]) for t in outputs]
        del values
        if progress is not None:
            progress(k + 1, n, "calibrating")
    if any(o.needs_histogram for o in observers.values()):
        for k, values in run_in_order(runners, feeds):
            for t in values:
                observers[t].observe_histogram(values[t])
            del values
            if progress is not None:
                progress(k + 1, n, "histograms")
    if means is not None:
        means.update(sums.means())
    return {t: o.range() for t, o in observers.items() if o.seen}


class RunnerSet:
    """``size`` runners of one model, runner ``slot`` made by ``make(slot)`` (a runner is
    only ever used by one thread at a time: see :func:`run_in_order`).

    The first is made by the caller (its errors are raised there, before any sample
    runs); the others at the same time, each on a thread of its own, since making one
    (parsing the model, packing its weights) takes about two samples' time on a
    ResNet. A failure to make one of those is raised where that runner is first used.
    """

    def __init__(self, make: Callable[[int], object], size: int):
        size = max(1, size)
        self._pending: dict[int, Future] = {}
        if size > 1:
            pool = ThreadPoolExecutor(max_workers=size - 1)
            self._pending = {slot: pool.submit(make, slot) for slot in range(1, size)}
            pool.shutdown(wait=False)  # the threads end once their runner is made
        try:
            first = make(0)
        except BaseException:
            for f in self._pending.values():
                f.cancel()
            raise
        self._slots: list = [first] + [None] * (size - 1)

    def __len__(self) -> int:
        return len(self._slots)

    def run(self, slot: int, feed: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
        if self._slots[slot] is None:
            self._slots[slot] = self._pending.pop(slot).result()
        return self._slots[slot].run(feed, copy=False)


def run_in_order(runners: RunnerSet, feeds: Sequence[dict[str, np.ndarray]]) -> Iterator[tuple[int, dict]]:
    """``(k, values of feeds[k])`` for every sample, in order (``runner.run(copy=False)``).

    With several runners, sample ``k`` runs on runner ``k % len(runners)`` on a pool
    thread, one sample per runner at once, while the caller reads the values of the
    earliest (the interpreters release the GIL in their BLAS calls and Numba kernels,
    LiteRT in its invoke). A runner gets its next sample only when the caller asks for
    the item after the one it handed out, so the caller must have dropped those views
    by then (they are zero-copy, and an interpreter refuses to run while they are
    referenced). The results are exactly those of one runner running the samples one
    by one: each sample's run is independent and deterministic.

    Example:
        >>> class Double:
        ...     def run(self, feed, copy=True):
        ...         return {0: feed["x"] * 2}
        >>> [(k, v[0]) for k, v in run_in_order(RunnerSet(lambda slot: Double(), 2), [{"x": 1}, {"x": 2}, {"x": 3}])]
        [(0, 2), (1, 4), (2, 6)]
    """
    n, size = len(feeds), len(runners)
    if size == 1:
        for k in range(n):
            yield k, runners.run(0, feeds[k])
        return
    with ThreadPoolExecutor(max_workers=size) as pool:
        pending: dict[int, Future] = {}
        started = 0
        try:
            for k in range(n):
                while started < n and started - k < size:
                    pending[started] = pool.submit(runners.run, started % size, feeds[started])
                    started += 1
                values = pending.pop(k).result()
                yield k, values
                del values
        finally:  # the caller stopped early or a run failed: let the others finish
            for f in pending.values():
                f.cancel()


class _MeanAccumulator:
    """Per-position sums of some tensors over (some of) the samples.

    Adds in float32 (3-4x faster than float64 on the large early activations) and
    folds the partial sums into float64 every ``block`` samples, so rounding stays at
    float32's level for one block whatever the number of samples.
    """

    def __init__(self, wanted, block: int = 64):
        self._wanted = set(wanted or ())
        self._block = block
        self.count = 0
        self._partial: dict[int, np.ndarray] = {}
        self._total: dict[int, np.ndarray] = {}

    def add(self, values: dict[int, np.ndarray]) -> None:
        for t in self._wanted:
            arr = values.get(t)
            if arr is None:
                continue
            if t in self._partial:
                np.add(self._partial[t], arr, out=self._partial[t])
            else:
                self._partial[t] = np.array(arr, np.float32)
        self.count += 1
        if self.count % self._block == 0:
            self._fold()

    def _fold(self) -> None:
        for t, part in self._partial.items():
            if t in self._total:
                self._total[t] += part
            else:
                self._total[t] = part.astype(np.float64)
        self._partial = {}

    def means(self) -> dict[int, np.ndarray | None]:
        self._fold()
        return {t: (self._total[t] / self.count if t in self._total else None) for t in self._wanted}
