"""edgelite's interpreter next to LiteRT on one model: latency, cold start, memory.

Runs both runtimes in this process on the same file and the same inputs, with 1 and
2 threads, and prints median latencies and ratios; then starts fresh processes to
measure cold start (import, load, allocate, first invoke) and their peak memory.
Never part of the tests: figures depend on the machine (printed with the results).

Usage:
    python benchmarks/bench_interpreter.py                   # largest float fixture edgelite runs
    python benchmarks/bench_interpreter.py model.tflite --runs 100 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import textwrap
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgelite.errors import UnsupportedOperatorError  # noqa: E402
from edgelite.interpreter import Interpreter  # noqa: E402
from edgelite.interpreter.cli_benchmark import format_results, measure  # noqa: E402
from edgelite.interpreter.cli_run import random_input  # noqa: E402


def default_model() -> Path:
    """The largest float32 fixture that edgelite has every kernel for."""
    candidates = sorted((ROOT / "tests" / "fixtures").glob("*float32*.tflite"), key=lambda p: -p.stat().st_size)
    for path in candidates:
        try:
            Interpreter(model_path=str(path))
        except UnsupportedOperatorError:
            continue
        return path
    raise SystemExit("no float fixture that edgelite can run; pass a model path")


COLD_START = textwrap.dedent(
    """
    import sys, time, json
    t0 = time.perf_counter()
    runtime, path = sys.argv[1], sys.argv[2]
    if runtime == "edgelite":
        from edgelite.interpreter import Interpreter
    else:
        from ai_edge_litert.interpreter import Interpreter
    import numpy as np
    t1 = time.perf_counter()
    it = Interpreter(model_path=path)
    t2 = time.perf_counter()
    it.allocate_tensors()
    t3 = time.perf_counter()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    it.invoke()
    t4 = time.perf_counter()
    hwm = 0
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    print(json.dumps({"import_ms": 1e3 * (t1 - t0), "load_ms": 1e3 * (t2 - t1), "allocate_ms": 1e3 * (t3 - t2),
                      "first_invoke_ms": 1e3 * (t4 - t3), "total_ms": 1e3 * (t4 - t0), "peak_rss_bytes": hwm}))
    """
)


def cold_start(runtime: str, model: Path, repeats: int = 3) -> dict:
    """Median over ``repeats`` fresh processes (the first also warms the OS file cache)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    rows = []
    for _ in range(repeats + 1):
        out = subprocess.run(
            [sys.executable, "-c", COLD_START, runtime, str(model)],
            capture_output=True, text=True, env=env, check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = rows[1:]
    return {k: float(np.median([r[k] for r in rows])) for k in rows[0]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", help="a .tflite file (default: the largest float fixture edgelite runs)")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from ai_edge_litert.interpreter import Interpreter as LiteRT
    from ai_edge_litert.interpreter import OpResolverType as LiteRTResolver

    model = Path(args.model) if args.model else default_model()
    probe = Interpreter(model_path=str(model))
    rng = np.random.default_rng(0)
    values = {d["index"]: random_input(d, rng) for d in probe.get_input_details()}
    del probe

    report = {
        "model": str(model.relative_to(ROOT) if model.is_relative_to(ROOT) else model),
        "machine": {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "python": platform.python_version()},
        "latency": [],
        "cold_start": {},
    }
    for n in args.threads:
        common = dict(num_threads=n, runs=args.runs, warmup=args.warmup)
        results = [
            measure(lambda: Interpreter(model_path=str(model), num_threads=n), values, runtime="edgelite", **common),
            measure(lambda: LiteRT(model_path=str(model), num_threads=n), values, runtime="litert", **common),
            measure(
                lambda: LiteRT(model_path=str(model), num_threads=n,
                               experimental_op_resolver_type=LiteRTResolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES),
                values, runtime="litert-noxnn", **common,
            ),
        ]
        report["latency"].append([asdict(r) for r in results])
        if not args.json:
            print(f"\n== {report['model']}  threads={n}  runs={args.runs}")
            print(format_results(results[:2]))
            noxnn = results[2]
            print(f"{'litert without XNNPACK':<26}{noxnn.median_ms:>14.3f} ms median   "
                  f"edgelite/that = {results[0].median_ms / noxnn.median_ms:.2f}")
    for runtime in ("edgelite", "litert"):
        report["cold_start"][runtime] = cold_start(runtime, model)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("\n== cold start (fresh process; median of 3): import, load, allocate, first invoke")
    keys = ["import_ms", "load_ms", "allocate_ms", "first_invoke_ms", "total_ms", "peak_rss_bytes"]
    print(f"{'':<18}" + "".join(f"{k:>16}" for k in keys))
    for runtime, row in report["cold_start"].items():
        cells = [f"{row[k] / (1 << 20):>13.1f}MiB" if k == "peak_rss_bytes" else f"{row[k]:>16.1f}" for k in keys]
        print(f"{runtime:<18}" + "".join(cells))
    m = report["machine"]
    print(f"\nmachine: {m['platform']}, {m['cpus']} CPUs, {m['cpu']}, Python {m['python']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
