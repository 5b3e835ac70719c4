"""``edgelite benchmark MODEL``: latency and memory of one model, optionally beside LiteRT.

Reports, like LiteRT's ``benchmark_model``: initialisation time (load + allocate),
first inference, warm-up average, then median / p90 / mean / min over ``--runs``, the
arena size and the peak resident memory added by the model. ``--profile`` adds a
per-operator table (run order, top operators, per-type totals); ``--compare litert``
measures ``ai_edge_litert`` on the same file and inputs in the same process and prints
both side by side with ratios.

Example:
    $ edgelite benchmark model.tflite --num-threads 2 --runs 50 --compare litert
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
from dataclasses import asdict, field

import numpy as np

from edgelite.quick_dataclass import dataclass


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "benchmark",
        help="measure a model's latency and memory (optionally next to LiteRT)",
        description="Benchmark a .tflite model on the edgelite interpreter: init time, first "
        "inference, median and p90 latency, arena bytes and peak memory.",
    )
    p.add_argument("model", help="path to a .tflite file")
    p.add_argument("--num-threads", type=int, default=1, help="threads for parallel kernels (default 1)")
    p.add_argument("--runs", type=int, default=50, help="timed runs (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs after the first (default 5)")
    p.add_argument("--profile", action="store_true", help="print a per-operator timing table")
    p.add_argument("--compare", choices=["litert"], help="also measure another runtime on the same inputs")
    p.add_argument("--reference", action="store_true", help="use the reference numpy kernels only (BUILTIN_REF)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=run)


@dataclass
class BenchResult:
    """Figures of one runtime on one model (times in milliseconds)."""

    runtime: str
    num_threads: int
    init_ms: float
    first_ms: float
    warmup_ms: float
    median_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    runs: int
    arena_bytes: int | None
    peak_rss_delta_bytes: int
    profile: list[dict] = field(default_factory=list)


def measure(make_interpreter, values: dict[int, np.ndarray], *, runtime: str, num_threads: int,
            runs: int, warmup: int, profiler=None) -> BenchResult:
    """Time one interpreter (anything with LiteRT's API) on fixed inputs.

    Args:
        make_interpreter: zero-argument callable returning a new interpreter.
        values: input tensor index -> value (shapes must match the model's).
        runtime: label for the report.
        profiler: an ``OpProfiler`` to attach for a per-op table (edgelite only).
    """
    from edgelite.interpreter.profiling import peak_rss_bytes, reset_peak_rss, rss_bytes

    if runs < 1 or warmup < 0:
        raise ValueError("--runs must be >= 1 and --warmup >= 0")
    gc.collect()
    base = rss_bytes()
    reset_peak_rss()
    t0 = time.perf_counter()
    interp = make_interpreter()
    interp.allocate_tensors()
    init = time.perf_counter() - t0
    for index, value in values.items():
        interp.set_tensor(index, value)
    t0 = time.perf_counter()
    interp.invoke()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(warmup):
        interp.invoke()
    warm = (time.perf_counter() - t0) / max(warmup, 1)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        interp.invoke()
        times.append(time.perf_counter() - t0)
    peak = max(peak_rss_bytes() - base, 0)
    profile_rows = []
    if profiler is not None:
        interp.set_profiler(profiler)
        for _ in range(max(1, min(runs, 20))):
            interp.invoke()
        interp.set_profiler(None)
        profile_rows = [asdict(r) for r in profiler.summary()]
    ms = sorted(1000.0 * t for t in times)
    result = BenchResult(
        runtime=runtime,
        num_threads=num_threads,
        init_ms=1000.0 * init,
        first_ms=1000.0 * first,
        warmup_ms=1000.0 * warm if warmup else 0.0,
        median_ms=statistics.median(ms),
        p90_ms=ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))],
        mean_ms=statistics.fmean(ms),
        min_ms=ms[0],
        runs=runs,
        arena_bytes=getattr(interp, "arena_bytes", None),
        peak_rss_delta_bytes=peak,
        profile=profile_rows,
    )
    del interp
    gc.collect()
    return result


def _litert_factory(model: str, num_threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter as LiteRT
    except ImportError as e:
        from edgelite.errors import EdgeliteError

        raise EdgeliteError("--compare litert needs the ai-edge-litert package (pip install ai-edge-litert)") from e
    return lambda: LiteRT(model_path=model, num_threads=num_threads)


def format_results(results: list[BenchResult]) -> str:
    """A table with one column per runtime (and a ratio column for two)."""
    rows = [
        ("init (load+allocate) ms", "init_ms"),
        ("first inference ms", "first_ms"),
        ("warm-up avg ms", "warmup_ms"),
        ("median ms", "median_ms"),
        ("p90 ms", "p90_ms"),
        ("mean ms", "mean_ms"),
        ("min ms", "min_ms"),
        ("arena KiB", "arena_bytes"),
        ("peak RSS added MiB", "peak_rss_delta_bytes"),
    ]
    header = f"{'':<26}" + "".join(f"{r.runtime:>14}" for r in results)
    if len(results) == 2:
        header += f"{'ratio':>10}"
    lines = [header]
    for label, key in rows:
        vals = [getattr(r, key) for r in results]
        if key == "arena_bytes":
            vals = [None if v is None else v / 1024 for v in vals]
        elif key == "peak_rss_delta_bytes":
            vals = [v / (1 << 20) for v in vals]
        line = f"{label:<26}" + "".join(f"{'-':>14}" if v is None else f"{v:>14.3f}" for v in vals)
        if len(vals) == 2 and None not in vals:
            line += f"{vals[0] / vals[1]:>10.2f}" if vals[1] else f"{'-':>10}"
        lines.append(line)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from edgelite.interpreter import Interpreter, OpResolverType
    from edgelite.interpreter.cli_run import random_input
    from edgelite.interpreter.profiling import OpProfiler, format_table

    resolver = OpResolverType.BUILTIN_REF if args.reference else OpResolverType.AUTO

    def make():
        return Interpreter(model_path=args.model, num_threads=args.num_threads, experimental_op_resolver_type=resolver)

    probe = make()
    rng = np.random.default_rng(args.seed)
    values = {d["index"]: random_input(d, rng) for d in probe.get_input_details()}
    del probe
    profiler = OpProfiler() if args.profile else None
    results = [
        measure(make, values, runtime="edgelite", num_threads=args.num_threads, runs=args.runs,
                warmup=args.warmup, profiler=profiler)
    ]
    if args.compare == "litert":
        results.append(
            measure(_litert_factory(args.model, args.num_threads), values, runtime="litert",
                    num_threads=args.num_threads, runs=args.runs, warmup=args.warmup)
        )
    if args.json:
        payload = {
            "model": args.model,
            "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine()},
            "results": [asdict(r) for r in results],
        }
        print(json.dumps(payload, indent=2))
        return 0
    print(f"model: {args.model}   threads: {args.num_threads}   runs: {args.runs}   warm-up: {args.warmup}")
    print(format_results(results))
    if profiler is not None:
        print()
        print(format_table(profiler))
    return 0
