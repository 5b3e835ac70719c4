"""Per-operator timing, the way LiteRT's benchmark tool reports it.

Attach an ``OpProfiler`` to an interpreter (``interpreter.set_profiler(p)``) and every
``invoke`` records the wall time of each operator. ``summary()`` gives one row per
operator in run order (average over the recorded runs, share of the total), and
``format_table`` prints it along with the top operators by time and a per-op-type
breakdown. A step the executor fused (:mod:`edgelite.interpreter.fusion`) is one row,
under its last operator's index and the fused name (``LOGISTIC+MUL``).

Example:
    >>> from edgelite.interpreter.profiling import OpProfiler
    >>> p = OpProfiler()
    >>> class Op: index, name = 0, "ADD"
    >>> p.record(Op, 0.002); p.record(Op, 0.004)
    >>> p.summary()[0].avg_ms
    3.0
"""

from __future__ import annotations

from edgelite.quick_dataclass import dataclass


@dataclass
class OpTiming:
    """Averaged timing of one operator over the recorded runs."""

    index: int
    op_name: str
    runs: int
    avg_ms: float
    total_ms: float
    percent: float = 0.0


class OpProfiler:
    """Accumulates per-operator wall times across ``invoke`` calls."""

    def __init__(self) -> None:
        self._totals: dict[int, float] = {}
        self._counts: dict[int, int] = {}
        self._names: dict[int, str] = {}

    def record(self, op, seconds: float) -> None:
        """Add one sample for operator ``op`` (anything with ``index`` and ``name``)."""
        i = op.index
        self._totals[i] = self._totals.get(i, 0.0) + seconds
        self._counts[i] = self._counts.get(i, 0) + 1
        self._names[i] = op.name

    def reset(self) -> None:
        self._totals.clear()
        self._counts.clear()
        self._names.clear()

    def summary(self) -> list[OpTiming]:
        """One row per operator that ran, in run order."""
        rows = [
            OpTiming(
                index=i,
                op_name=self._names[i],
                runs=self._counts[i],
                avg_ms=1000.0 * self._totals[i] / self._counts[i],
                total_ms=1000.0 * self._totals[i],
            )
            for i in sorted(self._totals)
        ]
        total = sum(r.avg_ms for r in rows) or 1.0
        for r in rows:
            r.percent = 100.0 * r.avg_ms / total
        return rows

    def by_type(self) -> list[tuple[str, int, float, float]]:
        """``(op_name, count, avg_ms summed over ops of that type, percent)``, slowest first."""
        rows = self.summary()
        total = sum(r.avg_ms for r in rows) or 1.0
        agg: dict[str, list] = {}
        for r in rows:
            a = agg.setdefault(r.op_name, [0, 0.0])
            a[0] += 1
            a[1] += r.avg_ms
        out = [(name, n, ms, 100.0 * ms / total) for name, (n, ms) in agg.items()]
        return sorted(out, key=lambda x: -x[2])


def format_table(profiler: OpProfiler, top: int = 10) -> str:
    """Text tables: operators in run order, the ``top`` slowest, and totals per op type."""
    rows = profiler.summary()
    lines = ["Operator-wise profiling (run order)", f"{'node':>5} {'op':<28} {'avg ms':>10} {'%':>7} {'cdf %':>7}"]
    cdf = 0.0
    for r in rows:
        cdf += r.percent
        lines.append(f"{r.index:>5} {r.op_name:<28} {r.avg_ms:>10.4f} {r.percent:>6.2f}% {cdf:>6.2f}%")
    lines += ["", f"Top {top} operators by time", f"{'node':>5} {'op':<28} {'avg ms':>10} {'%':>7}"]
    for r in sorted(rows, key=lambda r: -r.avg_ms)[:top]:
        lines.append(f"{r.index:>5} {r.op_name:<28} {r.avg_ms:>10.4f} {r.percent:>6.2f}%")
    lines += ["", "By operator type", f"{'op':<28} {'count':>6} {'avg ms':>10} {'%':>7}"]
    for name, n, ms, pct in profiler.by_type():
        lines.append(f"{name:<28} {n:>6} {ms:>10.4f} {pct:>6.2f}%")
    return "\n".join(lines)


# -- process memory -------------------------------------------------------------------------
# tracemalloc is far too slow around kernels; the kernel's own counters are cheap. On Linux
# /proc/self/status gives the resident size (VmRSS) and its high-water mark (VmHWM), and
# writing "5" to /proc/self/clear_refs resets the mark. Elsewhere getrusage's ru_maxrss
# (a never-reset peak) is the fallback.


def _proc_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int:
    """Current resident set size of this process, in bytes (0 when unknown)."""
    kib = _proc_status_kib("VmRSS")
    return 1024 * kib if kib is not None else 0


def reset_peak_rss() -> bool:
    """Reset the peak-RSS mark to the current RSS; False where the OS cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """Peak resident set size since start (or since ``reset_peak_rss``), in bytes."""
    kib = _proc_status_kib("VmHWM")
    if kib is not None:
        return 1024 * kib
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
