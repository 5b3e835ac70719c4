"""edgelite next to LiteRT while another CPU-bound process runs: does the tail hold?

Starts ``--busy`` CPU-bound processes of its own (a pure Python loop each, default one:
on a 2-core machine it takes the other core), then runs edgelite and LiteRT (XNNPACK,
the default) on the same model and input, alternating invoke by invoke at
``--threads`` threads, and prints median / p90 / p99 wall latency, p90 / median, the
calling thread's CPU time, and how much CPU the process's *other* threads burned
(a spinning OpenMP or BLAS worker shows up there) and the calling thread's voluntary
(it blocked: a lock, a pool's barrier) and involuntary (preempted) context switches per
invoke. The same is done first without the
busy processes, so the two rows say what contention costs each runtime. Benchmarks
never gate CI; on a machine that is already busy every figure moves.

Usage:
    python benchmarks/bench_contention.py                       # ResNet-like float fixture
    python benchmarks/bench_contention.py model.tflite --runs 200 --busy 1 --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_interpreter import machine_info  # noqa: E402
from edgelite.interpreter import Interpreter  # noqa: E402
from edgelite.interpreter.cli_run import random_input  # noqa: E402

BUSY = "import time\nend = time.time() + float(__import__('sys').argv[1])\nwhile time.time() < end:\n    pass\n"


def other_threads_cpu_s() -> float:
    """CPU seconds used by every thread of this process except the calling one."""
    me = str(__import__("threading").get_native_id())
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for tid in os.listdir("/proc/self/task"):
        if tid == me:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def context_switches() -> tuple[int, int]:
    """(voluntary, involuntary) context switches of the calling thread so far."""
    vol = invol = 0
    with open("/proc/thread-self/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches"):
                vol = int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches"):
                invol = int(line.split()[1])
    return vol, invol


def run(model: Path, threads: int, runs: int, warmup: int) -> dict:
    from ai_edge_litert.interpreter import Interpreter as LiteRT

    its = {"edgelite": Interpreter(model_path=str(model), num_threads=threads),
           "litert": LiteRT(model_path=str(model), num_threads=threads)}
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
    others = {n: 0.0 for n in its}
    switches = {n: [0, 0] for n in its}
    for _ in range(runs):
        for name, it in its.items():
            o0 = other_threads_cpu_s()
            v0, i0 = context_switches()
            t0, c0 = time.perf_counter(), time.thread_time()
            it.invoke()
            c1, t1 = time.thread_time(), time.perf_counter()
            v1, i1 = context_switches()
            others[name] += other_threads_cpu_s() - o0
            switches[name][0] += v1 - v0
            switches[name][1] += i1 - i0
            wall[name].append(1e3 * (t1 - t0))
            cpu[name].append(1e3 * (c1 - c0))
    rows = {}
    for name in its:
        w = sorted(wall[name])
        med = statistics.median(w)
        rows[name] = {"median": med, "p90": w[int(0.9 * (len(w) - 1))], "p99": w[int(0.99 * (len(w) - 1))],
                      "cpu": statistics.median(cpu[name]), "others_ms": 1e3 * others[name] / runs,
                      "threads": len(os.listdir("/proc/self/task")),
                      "vol": switches[name][0] / runs, "invol": switches[name][1] / runs}
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", default=str(ROOT / "tests" / "fixtures" / "resnet_small_64_float32.tflite"))
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--busy", type=int, default=1, help="CPU-bound processes started for the contended run")
    args = ap.parse_args(argv)
    model = Path(args.model)
    m = machine_info()
    print(f"model {model.name}, {args.threads} thread(s), {args.runs} alternating runs each")
    print(f"machine: {m['cpu']}, {m['cpus']} CPUs; load average before: {os.getloadavg()[0]:.1f}")
    print(f"{'':<22}{'median ms':>10}{'p90 ms':>9}{'p99 ms':>9}{'p90/med':>9}{'cpu ms':>8}{'other thr ms':>13}{'thr':>5}{'vcsw':>6}{'ivcsw':>6}")
    for label, busy in (("idle", 0), (f"{args.busy} busy process(es)", args.busy)):
        procs = [subprocess.Popen([sys.executable, "-c", BUSY, "600"]) for _ in range(busy)]
        try:
            rows = run(model, args.threads, args.runs, args.warmup)
        finally:
            for p in procs:
                p.kill()
                p.wait()
        for name, r in rows.items():
            print(f"{name + ', ' + label:<22}{r['median']:>10.2f}{r['p90']:>9.2f}{r['p99']:>9.2f}"
                  f"{r['p90'] / r['median']:>9.2f}{r['cpu']:>8.2f}{r['others_ms']:>13.2f}{r['threads']:>5}"
                  f"{r['vol']:>6.1f}{r['invol']:>6.1f}")
        e, lt = rows["edgelite"], rows["litert"]
        print(f"  edgelite / litert: median {e['median'] / lt['median']:.2f}x, p90 {e['p90'] / lt['p90']:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
