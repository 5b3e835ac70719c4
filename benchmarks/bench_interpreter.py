"""edgelite's interpreter next to LiteRT: latency at 1 and 2 threads, cold start, memory.

For each model (default: MobileNetV2 224 float32 and int8 from ``models/``, written by
``benchmarks/make_real_models.py``; else the largest float fixture), three runtimes
run in this process on the same file and inputs, *interleaved* run by run so that a
busy machine slows them alike:

* ``litert``: LiteRT 2.3 default (XNNPACK delegate),
* ``litert-ref``: LiteRT with ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (its own kernels),
* ``edgelite``: this project's interpreter (Numba kernels when Numba is installed).

It prints median / p90 / min wall latency, the median CPU time of the calling thread
(less sensitive to other processes than wall time at one thread) and ratios. Then it
starts fresh processes for the cold start (import, load, allocate, first invoke, and
for edgelite the second invoke, which waits for Numba when the first did not): the
first with an empty Numba cache (it compiles), then ``--cold`` more that load the
cache; their peak resident memory (VmHWM) and the process CPU time spent up to the
end of the first and of the second invoke (all threads; steadier than wall time on a
busy machine) are reported too. ``--cold-only`` skips the latency runs. The load average is printed
before and after: benchmarks never gate CI, and figures depend on the machine.

Usage:
    python benchmarks/bench_interpreter.py                    # MobileNetV2 float32 + int8
    python benchmarks/bench_interpreter.py model.tflite --runs 100 --threads 1 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgelite.errors import UnsupportedOperatorError  # noqa: E402
from edgelite.interpreter import Interpreter  # noqa: E402
from edgelite.interpreter.cli_run import random_input  # noqa: E402

RUNTIMES = ("litert", "litert-ref", "edgelite")


def default_models() -> list[Path]:
    """MobileNetV2 224 float32 and int8 when present, else the largest runnable float fixture."""
    real = [ROOT / "models" / f"mobilenet_v2_224_{m}.tflite" for m in ("float32", "int8")]
    if all(p.exists() for p in real):
        return real
    for path in sorted((ROOT / "tests" / "fixtures").glob("*float32*.tflite"), key=lambda p: -p.stat().st_size):
        try:
            Interpreter(model_path=str(path))
        except UnsupportedOperatorError:
            continue
        return [path]
    raise SystemExit("no model to run: pass a .tflite path")


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__}


def make_runtime(name: str, model: Path, threads: int):
    if name == "edgelite":
        return Interpreter(model_path=str(model), num_threads=threads)
    from ai_edge_litert.interpreter import Interpreter as LiteRT
    from ai_edge_litert.interpreter import OpResolverType

    resolver = OpResolverType.AUTO if name == "litert" else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return LiteRT(model_path=str(model), num_threads=threads, experimental_op_resolver_type=resolver)


def latency(model: Path, threads: int, runs: int, warmup: int) -> dict:
    """Interleaved runs of every runtime; per-runtime wall and thread-CPU figures (ms)."""
    its = {name: make_runtime(name, model, threads) for name in RUNTIMES}
    rng = np.random.default_rng(0)
    feeds = {d["index"]: random_input(d, rng) for d in its["litert"].get_input_details()}
    for it in its.values():
        it.allocate_tensors()
        for i, v in feeds.items():
            it.set_tensor(i, v)
        for _ in range(warmup):
            it.invoke()
    wall = {n: [] for n in its}
    cpu = {n: [] for n in its}
    for _ in range(runs):
        for name, it in its.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            it.invoke()
            c1, t1 = time.thread_time(), time.perf_counter()
            wall[name].append(1e3 * (t1 - t0))
            cpu[name].append(1e3 * (c1 - c0))
    outs = {n: it.get_tensor(it.get_output_details()[0]["index"]).astype(np.float64) for n, it in its.items()}
    ref = outs["litert-ref"]
    rows = {}
    for name in its:
        w = sorted(wall[name])
        rows[name] = {"median_ms": statistics.median(w), "p90_ms": w[max(0, int(0.9 * len(w)) - 1)], "min_ms": w[0],
                      "thread_cpu_median_ms": statistics.median(cpu[name]),
                      "max_abs_diff_vs_litert_ref": float(np.abs(outs[name] - ref).max())}
    return rows


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
    t4, c4 = time.perf_counter(), time.process_time()
    it.invoke()
    t5, c5 = time.perf_counter(), time.process_time()
    hwm = 0
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    print(json.dumps({"import_ms": 1e3 * (t1 - t0), "load_ms": 1e3 * (t2 - t1), "allocate_ms": 1e3 * (t3 - t2),
                      "first_invoke_ms": 1e3 * (t4 - t3), "total_ms": 1e3 * (t4 - t0),
                      "second_invoke_ms": 1e3 * (t5 - t4), "peak_rss_mib": hwm / (1 << 20),
                      "cpu_to_first_ms": 1e3 * c4, "cpu_to_second_ms": 1e3 * c5,
                      "numba_loaded": "numba" in sys.modules}))
    """
)
COLD_KEYS = ("import_ms", "load_ms", "allocate_ms", "first_invoke_ms", "total_ms", "second_invoke_ms", "peak_rss_mib",
             "cpu_to_first_ms", "cpu_to_second_ms")


def cold_start(runtime: str, model: Path, repeats: int, cache_dir: str) -> dict:
    """First process (empty Numba cache: it compiles), then the median of ``repeats`` more.

    The children may write ``.pyc`` files (``PYTHONDONTWRITEBYTECODE`` is dropped), as an
    installed package would have them.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", NUMBA_CACHE_DIR=cache_dir)
    rows = []
    for _ in range(repeats + 1):
        out = subprocess.run([sys.executable, "-c", COLD_START, runtime, str(model)],
                             capture_output=True, text=True, env=env, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {k: float(np.median([r[k] for r in rows[1:]])) for k in COLD_KEYS}
    return {"first_process": rows[0], "median": med}


def print_latency(model: str, threads: int, rows: dict) -> None:
    base = rows["litert"]["median_ms"]
    ref = rows["litert-ref"]["median_ms"]
    print(f"\n== {model}  threads={threads}")
    print(f"{'runtime':<12}{'median ms':>11}{'p90 ms':>9}{'min ms':>9}{'cpu ms':>9}"
          f"{'x litert':>10}{'x lt-ref':>10}{'max|diff|':>11}")
    for name, r in rows.items():
        print(f"{name:<12}{r['median_ms']:>11.2f}{r['p90_ms']:>9.2f}{r['min_ms']:>9.2f}{r['thread_cpu_median_ms']:>9.2f}"
              f"{r['median_ms'] / base:>10.2f}{r['median_ms'] / ref:>10.2f}{r['max_abs_diff_vs_litert_ref']:>11.2g}")


def print_cold(model: str, rows: dict) -> None:
    print(f"\n== cold start, {model} (fresh process: import, load, allocate, first invoke; then a second invoke)")
    print(f"{'':<26}" + "".join(f"{k.replace('_ms', '').replace('_mib', ' MiB'):>17}" for k in COLD_KEYS))
    for runtime, r in rows.items():
        for label, row in ((f"{runtime} 1st (no cache)", r["first_process"]), (f"{runtime} median", r["median"])):
            print(f"{label:<26}" + "".join(f"{row[k]:>17.1f}" for k in COLD_KEYS))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help=".tflite files (default: MobileNetV2 224 float32 and int8)")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cold", type=int, default=5, help="cold-start processes after the first (default 5)")
    ap.add_argument("--cold-only", action="store_true", help="only the cold-start processes")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.cold_only:
        args.threads = []
    models = [Path(m) for m in args.models] or default_models()
    report = {"machine": machine_info(), "load_before": os.getloadavg(), "latency": {}, "cold_start": {}}
    for model in models:
        name = str(model.relative_to(ROOT) if model.resolve().is_relative_to(ROOT) else model)
        for n in args.threads:
            rows = latency(model, n, args.runs, args.warmup)
            report["latency"][f"{name}@{n}"] = rows
            if not args.json:
                print_latency(name, n, rows)
        with tempfile.TemporaryDirectory(prefix="edgelite-numba-cache-") as cache:
            rows = {rt: cold_start(rt, model, args.cold, cache) for rt in ("edgelite", "litert")}
        report["cold_start"][name] = rows
        if not args.json:
            print_cold(name, rows)
    report["load_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    m = report["machine"]
    print(f"\nmachine: {m['cpu']}, {m['cpus']} CPUs, {m['platform']}, Python {m['python']}, numpy {m['numpy']}")
    print("load average (1, 5, 15 min) before: {:.1f} {:.1f} {:.1f}".format(*report["load_before"])
          + "   after: {:.1f} {:.1f} {:.1f}".format(*report["load_after"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
