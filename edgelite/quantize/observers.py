"""Calibration observers: what each activation tensor showed, turned into a range.

Every observer first sees the values once to learn their minimum and maximum. The
histogram observers (percentile, entropy, MSE) then see them a second time, filling a
fixed histogram over that range, and pick a clipping range from it:

* ``minmax``: the extreme values (TFLite's default).
* ``moving_average``: per-sample minimum and maximum, averaged (a plain mean over the
  first ``1/constant`` samples, then exponentially), robust to one odd sample.
* ``percentile``: drop the given percentile of outliers at each end.
* ``entropy``: TensorRT's method: the clipping threshold whose quantized histogram
  has the smallest KL divergence from the original one (exact zeros left out of the
  histogram, and at most 0.1% of the values clipped).
* ``mse``: the clipping range whose quantization has the smallest expected squared
  error over the histogram.

Example:
    >>> import numpy as np
    >>> obs = make_observer("minmax")
    >>> obs.observe(np.array([-1.0, 2.0, 0.5], np.float32))
    >>> obs.range()
    (-1.0, 2.0)
"""

from __future__ import annotations

import numpy as np

from edgelite.errors import QuantizationError


class Observer:
    """Base: tracks the running minimum and maximum."""

    needs_histogram = False

    def __init__(self) -> None:
        self.min = np.inf
        self.max = -np.inf
        self.count = 0

    def observe(self, x: np.ndarray) -> None:
        """First pass: one sample's values of the tensor."""
        if x.size == 0:
            return
        lo, hi = float(np.min(x)), float(np.max(x))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            finite = x[np.isfinite(x)]
            if finite.size == 0:
                return
            lo, hi = float(finite.min()), float(finite.max())
        self._update(lo, hi)
        self.count += 1

    def _update(self, lo: float, hi: float) -> None:
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)

    def observe_histogram(self, x: np.ndarray) -> None:
        """Second pass (histogram observers only)."""

    @property
    def seen(self) -> bool:
        return self.count > 0

    def range(self) -> tuple[float, float]:
        """The (low, high) range to quantize to."""
        if not self.seen:
            raise QuantizationError("observer saw no values")
        return float(self.min), float(self.max)


class MinMaxObserver(Observer):
    """The overall minimum and maximum."""


class MovingAverageObserver(Observer):
    """Moving average of per-sample minimum and maximum (mean first, then exponential)."""

    def __init__(self, constant: float = 0.01) -> None:
        super().__init__()
        self.constant = float(constant)
        self.avg_min = 0.0
        self.avg_max = 0.0

    def _update(self, lo: float, hi: float) -> None:
        super()._update(lo, hi)
        # Plain mean while fewer than 1/constant samples were seen (so the first sample
        # does not dominate a short calibration run), exponential average after.
        weight = max(self.constant, 1.0 / (self.count + 1))
        self.avg_min += weight * (lo - self.avg_min)
        self.avg_max += weight * (hi - self.avg_max)

    def range(self) -> tuple[float, float]:
        super().range()
        return float(self.avg_min), float(self.avg_max)


class _HistogramObserver(Observer):
    """Fills ``num_bins`` bins over [min, max] (or [0, max|x|] when ``absolute``)."""

    needs_histogram = True
    absolute = False
    skip_zeros = False

    def __init__(self, num_bins: int = 2048) -> None:
        super().__init__()
        self.num_bins = int(num_bins)
        self.hist: np.ndarray | None = None

    def _edges(self) -> tuple[float, float]:
        if self.absolute:
            return 0.0, max(abs(self.min), abs(self.max))
        return self.min, self.max

    def observe_histogram(self, x: np.ndarray) -> None:
        if not self.seen:
            return
        if self.hist is None:
            self.hist = np.zeros(self.num_bins, np.int64)
        lo, hi = self._edges()
        if hi <= lo:
            self.hist[0] += x.size
            return
        v = np.abs(x) if self.absolute else x
        if self.skip_zeros:
            v = v[v != 0]
        # Bin index = floor((v - lo) / width), the last edge going into the last bin.
        idx = ((v.astype(np.float64, copy=False) - lo) * (self.num_bins / (hi - lo))).astype(np.int64)
        np.clip(idx, 0, self.num_bins - 1, out=idx)
        self.hist += np.bincount(idx.ravel(), minlength=self.num_bins)

    def _ready(self) -> bool:
        lo, hi = self._edges()
        return self.hist is not None and hi > lo and self.hist.sum() > 0


class PercentileObserver(_HistogramObserver):
    """Clip the ``100 - percentile`` tail at each end (only the top end for x >= 0)."""

    def __init__(self, percentile: float = 99.99, num_bins: int = 2048) -> None:
        super().__init__(num_bins)
        self.percentile = float(percentile)

    def range(self) -> tuple[float, float]:
        lo, hi = super().range()
        if not self._ready():
            return lo, hi
        cdf = np.cumsum(self.hist) / self.hist.sum()
        width = (hi - lo) / self.num_bins
        p = self.percentile / 100.0
        top = int(np.searchsorted(cdf, p, side="left"))
        new_hi = lo + (top + 1) * width
        new_lo = lo
        if lo < 0:
            bottom = int(np.searchsorted(cdf, 1.0 - p, side="left"))
            new_lo = lo + bottom * width
        return float(new_lo), float(min(hi, new_hi))


class EntropyObserver(_HistogramObserver):
    """TensorRT-style calibration: minimize KL(P || Q) over clipping thresholds.

    P is the histogram of |x| cut at a threshold (outliers folded into the last bin);
    Q is P merged into as many groups as the quantized type has levels on that side,
    each group's mass spread evenly over its non-empty bins.
    """

    absolute = True
    # Exact zeros (ReLU outputs, padding) are represented exactly at any scale; as a
    # spike in the first bin they would dominate P and pull the threshold down.
    skip_zeros = True

    def __init__(self, num_bins: int = 2048, levels: int = 256, max_candidates: int = 256,
                 max_clipped: float = 1e-3) -> None:
        super().__init__(num_bins)
        self.levels = int(levels)
        self.max_candidates = int(max_candidates)
        self.max_clipped = float(max_clipped)

    def range(self) -> tuple[float, float]:
        lo, hi = super().range()
        if not self._ready():
            return lo, hi
        hist = self.hist.astype(np.float64)
        # Signed data spends half the levels on each side of zero.
        levels = self.levels // 2 if lo < 0 else self.levels
        levels = min(levels, self.num_bins)
        # Never clip more than ``max_clipped`` of the values: on strongly discrete data
        # (a few repeated values) KL alone can pick thresholds that cut whole modes.
        cdf = np.cumsum(hist) / hist.sum()
        start = max(levels, int(np.searchsorted(cdf, 1.0 - self.max_clipped)) + 1)
        start = min(start, self.num_bins)
        step = max(1, (self.num_bins - start) // self.max_candidates)
        candidates = list(range(start, self.num_bins + 1, step))
        if candidates[-1] != self.num_bins:
            candidates.append(self.num_bins)
        best_i, best_kl = self.num_bins, np.inf
        for i in candidates:
            kl = _kl_for_threshold(hist, i, levels)
            if kl < best_kl:
                best_kl, best_i = kl, i
        width = max(abs(lo), abs(hi)) / self.num_bins
        threshold = best_i * width
        return float(max(lo, -threshold)), float(min(hi, threshold))


def _kl_for_threshold(hist: np.ndarray, i: int, levels: int) -> float:
    p = hist[:i].copy()
    p[i - 1] += hist[i:].sum()
    kept = hist[:i]
    group = (np.arange(i) * levels) // i
    nonzero = kept > 0
    sums = np.bincount(group, weights=kept, minlength=levels)
    counts = np.bincount(group, weights=nonzero.astype(np.float64), minlength=levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(nonzero, sums[group] / np.maximum(counts[group], 1.0), 0.0)
    p_sum, q_sum = p.sum(), q.sum()
    if p_sum <= 0 or q_sum <= 0:
        return np.inf
    p = p / p_sum
    q = q / q_sum
    mask = p > 0
    # A bin P has and Q lost (only the folded outlier bin can) gets a small floor.
    qm = np.maximum(q[mask], 1e-12)
    return float(np.sum(p[mask] * np.log(p[mask] / qm)))


class MSEObserver(_HistogramObserver):
    """The range (shrunk from [min, max]) with the least expected squared error."""

    def __init__(self, num_bins: int = 2048, levels: int = 256, grid: int = 32) -> None:
        super().__init__(num_bins)
        self.levels = int(levels)
        self.grid = int(grid)

    def range(self) -> tuple[float, float]:
        lo, hi = super().range()
        if not self._ready():
            return lo, hi
        width = (hi - lo) / self.num_bins
        centers = lo + (np.arange(self.num_bins) + 0.5) * width
        counts = self.hist.astype(np.float64)
        used = counts > 0
        centers, counts = centers[used], counts[used]
        fractions = np.linspace(1.0 / self.grid, 1.0, self.grid)
        lows = lo * fractions if lo < 0 else np.array([min(lo, 0.0)])
        highs = hi * fractions if hi > 0 else np.array([max(hi, 0.0)])
        a = np.repeat(lows, len(highs))[:, None]
        b = np.tile(highs, len(lows))[:, None]
        a = np.minimum(a, 0.0)
        b = np.maximum(b, 0.0)
        scale = np.maximum(b - a, 1e-30) / (self.levels - 1)
        q = np.clip(np.round((centers[None, :] - a) / scale), 0, self.levels - 1) * scale + a
        err = ((centers[None, :] - q) ** 2 * counts[None, :]).sum(axis=1)
        k = int(np.argmin(err))
        return float(max(lo, a[k, 0])), float(min(hi, b[k, 0]))


def make_observer(kind: str, *, percentile: float = 99.99, num_bins: int = 2048,
                  moving_average_constant: float = 0.01, levels: int = 256) -> Observer:
    """A fresh observer of the named kind.

    Raises:
        QuantizationError: unknown kind.
    """
    if kind == "minmax":
        return MinMaxObserver()
    if kind == "moving_average":
        return MovingAverageObserver(moving_average_constant)
    if kind == "percentile":
        return PercentileObserver(percentile, num_bins)
    if kind == "entropy":
        return EntropyObserver(num_bins, levels)
    if kind == "mse":
        return MSEObserver(num_bins, levels)
    raise QuantizationError(f"unknown observer {kind!r}")
