"""Do two threads pay? edgelite and LiteRT+XNNPACK at 1 and 2 threads, in one run.

For each model four interpreters (edgelite 1 / 2 threads, LiteRT 1 / 2 threads, the
same input) are invoked in turn, round after round, so that all four see the same
machine state; prints per runtime the median and p90 wall time, the process CPU time
per invoke (every thread: a pool that spins or wakes for nothing shows up here as
CPU above wall), the calling thread's CPU time (median), the speed-up of 2 threads
over 1, and edgelite / LiteRT at each thread count. On a loaded machine the calling
thread's CPU at 1 / 2 threads is the figure that still says how much of the work
left the caller (LiteRT's caller waits by spinning, so its figure says little). It also checks that edgelite's outputs at 1 and 2 threads are
identical. The CPU model and the load average go with the figures: on a machine
where other jobs run, the wall times and speed-ups say little (CPU per invoke
still says what the second thread costs).

Models: the MobileNetV2 fixtures (int8, and float16 weights computing in float32),
plus ``models/mobilenet_v2_224_{int8,float32}.tflite`` when present
(``benchmarks/make_real_models.py`` writes them).

Usage:
    python benchmarks/bench_threads.py                  # every model found
    python benchmarks/bench_threads.py models/mobilenet_v2_224_int8.tflite --runs 100
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_interpreter import machine_info  # noqa: E402
from edgelite.interpreter import Interpreter  # noqa: E402
from edgelite.interpreter.cli_run import random_input  # noqa: E402

MODELS = ("tests/fixtures/mobilenet_v2_035_96_int8.tflite", "tests/fixtures/mobilenet_v2_035_96_float16.tflite",
          "models/mobilenet_v2_224_int8.tflite", "models/mobilenet_v2_224_float32.tflite")


def default_models() -> list[Path]:
    return [ROOT / m for m in MODELS if (ROOT / m).exists()]


def run(model: Path, runs: int, warmup: int) -> tuple[dict, bool]:
    """Alternating invokes of the four interpreters; figures in ms, and whether edgelite's
    1- and 2-thread outputs are identical."""
    from ai_edge_litert.interpreter import Interpreter as LiteRT

    its = {}
    for n in (1, 2):
        its[f"edgelite {n}t"] = Interpreter(model_path=str(model), num_threads=n)
        its[f"litert {n}t"] = LiteRT(model_path=str(model), num_threads=n)
    rng = np.random.default_rng(0)
    feeds = {d["index"]: random_input(d, rng) for d in its["litert 1t"].get_input_details()}
    for it in its.values():
        it.allocate_tensors()
        for i, v in feeds.items():
            it.set_tensor(i, v)
        for _ in range(warmup):
            it.invoke()
    outs = {n: [its[n].get_tensor(d["index"]).copy() for d in its[n].get_output_details()]
            for n in ("edgelite 1t", "edgelite 2t")}
    same = all(np.array_equal(a, b) for a, b in zip(outs["edgelite 1t"], outs["edgelite 2t"]))
    wall = {n: [] for n in its}
    cpu = {n: [] for n in its}
    caller = {n: [] for n in its}
    for _ in range(runs):
        for name, it in its.items():
            c0, t0, k0 = time.process_time(), time.perf_counter(), time.thread_time()
            it.invoke()
            k1, t1, c1 = time.thread_time(), time.perf_counter(), time.process_time()
            wall[name].append(1e3 * (t1 - t0))
            cpu[name].append(1e3 * (c1 - c0))
            caller[name].append(1e3 * (k1 - k0))
    rows = {}
    for name in its:
        w = sorted(wall[name])
        rows[name] = {"median": statistics.median(w), "min": w[0], "p90": w[int(0.9 * (len(w) - 1))],
                      "cpu": sum(cpu[name]) / runs, "caller": statistics.median(caller[name])}
    return rows, same


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args(argv)
    m = machine_info()
    print(f"machine: {m['cpu']}, {m['cpus']} CPUs; load average before: {os.getloadavg()[0]:.2f}")
    for model in args.models or default_models():
        rows, same = run(model, args.runs, args.warmup)
        print(f"\n{model.name}: {args.runs} alternating rounds; edgelite 1t == 2t outputs: {same}")
        print(f"{'':<14}{'median ms':>10}{'min ms':>8}{'p90 ms':>8}{'cpu ms':>8}{'caller cpu':>11}")
        for name, r in rows.items():
            print(f"{name:<14}{r['median']:>10.2f}{r['min']:>8.2f}{r['p90']:>8.2f}{r['cpu']:>8.2f}{r['caller']:>11.2f}")
        e1, e2, l1, l2 = (rows[k]["median"] for k in ("edgelite 1t", "edgelite 2t", "litert 1t", "litert 2t"))
        print(f"  2t speed-up (median 1t / 2t): edgelite {e1 / e2:.2f}x, litert {l1 / l2:.2f}x;"
              f" min-based: edgelite {rows['edgelite 1t']['min'] / rows['edgelite 2t']['min']:.2f}x,"
              f" litert {rows['litert 1t']['min'] / rows['litert 2t']['min']:.2f}x")
        print(f"  edgelite / litert: 1t {e1 / l1:.2f}x, 2t {e2 / l2:.2f}x;"
              f" cpu of 2t / 1t: edgelite {rows['edgelite 2t']['cpu'] / rows['edgelite 1t']['cpu']:.2f},"
              f" litert {rows['litert 2t']['cpu'] / rows['litert 1t']['cpu']:.2f}")
        print(f"  calling thread's CPU 1t / 2t (how much work left the caller; on two free cores about"
              f" the wall speed-up): edgelite {rows['edgelite 1t']['caller'] / rows['edgelite 2t']['caller']:.2f}x,"
              f" litert {rows['litert 1t']['caller'] / rows['litert 2t']['caller']:.2f}x")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
