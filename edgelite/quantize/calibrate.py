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

from typing import Callable, Sequence

import numpy as np

from edgelite.quantize.observers import make_observer
from edgelite.quantize.runner import make_runner
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
) -> dict[int, tuple[float, float]]:
    """``{tensor_index: (low, high)}`` for every float activation the data reached.

    Histogram observers run the data twice (ranges first, histograms second).
    Deterministic: the same model and data give the same ranges.

    ``means``, when given, maps tensor indices to ``None``; on return each holds that
    tensor's per-position mean over the samples (float64), for bias correction.
    """
    tensors = activation_tensors(model)
    runner = make_runner(model_bytes, tensors, backend)
    observers = {
        t: make_observer(observer, percentile=percentile, num_bins=num_bins,
                         moving_average_constant=moving_average_constant, levels=levels)
        for t in tensors
    }
    n = len(feeds)
    sums: dict[int, np.ndarray] = {}
    wanted = set(means or ())
    for k, feed in enumerate(feeds):
        values = runner.run(feed)
        for t, arr in values.items():
            observers[t].observe(arr)
            if t in wanted:
                if t in sums:
                    sums[t] += arr
                else:
                    sums[t] = np.array(arr, np.float64)
        if progress is not None:
            progress(k + 1, n, "calibrating")
    if any(o.needs_histogram for o in observers.values()):
        for k, feed in enumerate(feeds):
            values = runner.run(feed)
            for t, arr in values.items():
                observers[t].observe_histogram(arr)
            if progress is not None:
                progress(k + 1, n, "histograms")
    if means is not None:
        for t in list(means):
            means[t] = sums[t] / n if t in sums else None
    return {t: o.range() for t, o in observers.items() if o.seen}
