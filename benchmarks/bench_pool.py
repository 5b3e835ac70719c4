"""Does the thread pool pay, and do this machine's CPUs scale? Two diagnostics for issue 15.

1. **Pool**: a synthetic ``nogil`` kernel of W microseconds, cut into the pool's chunks
   (``pool.chunks_for``) and run back to back like the layers of a model, at 1 and at 2
   threads (``pool.run``); prints the speed-up per W. This isolates the pool's own costs
   (posting a job, waking the helper, claiming chunks) from the kernels'.
2. **CPUs**: the same vectorized loop over L1-resident data, and a scalar dependency
   chain, on one thread and on two threads at once (twice the work); prints the
   throughput gain. Two real cores give about 2x on both; two hyperthreads of one core
   (or a host that schedules the vCPUs so) give about 1x on the vectorized loop.

Never gates CI; needs Numba. Run it on an otherwise idle machine, more than once: on a VM
the second figure can change from run to run.

Usage:
    python benchmarks/bench_pool.py [--layers 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_interpreter import machine_info  # noqa: E402
from edgelite.interpreter.compute import pool  # noqa: E402
from edgelite.interpreter.compute.jit import njit, wait_until_warm  # noqa: E402
from edgelite.interpreter.compute.pool import fetch_add  # noqa: E402


@njit
def _work(x, iters, n_chunks, ctr):
    """Chunks of a dependent multiply-add chain (``iters`` steps each), claimed from ``ctr``."""
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        s = 0.0
        for i in range(iters):
            s = s * 0.999999 + x[i & 1023]
        x[ch & 1023] = s
        fetch_add(ctr, 1, 1)


@njit
def _simd(a, b, reps):
    s = np.zeros_like(a)
    for _ in range(reps):
        for i in range(a.shape[0]):
            s[i] = s[i] * b[i] + a[i]
    return s[0]


@njit
def _chain(n):
    s = 0.0
    for _ in range(n):
        s = s * 0.999999 + 1.0
    return s


def pool_speedups(layers: int) -> None:
    x = np.ones(1024)
    _work(x, 1000, np.int64(1), np.zeros(pool.CTR_LEN, np.int64))
    t = time.perf_counter()
    _work(x, 2_000_000, np.int64(1), np.zeros(pool.CTR_LEN, np.int64))
    per_us = 2_000_000 / ((time.perf_counter() - t) * 1e6)
    print(f"pool: {layers} jobs back to back, median of 30 rounds")
    for work_us in (100, 200, 500, 1000, 3000):
        res = {}
        for threads in (1, 2):
            n_chunks = pool.chunks_for(work_us * 1000, 10**6, threads)
            iters = max(1, int(per_us * work_us / n_chunks))
            times = []
            for _ in range(30):
                t = time.perf_counter()
                for _ in range(layers):
                    pool.run(_work, (x, np.int64(iters), np.int64(n_chunks)), n_chunks, threads)
                times.append((time.perf_counter() - t) / layers * 1e6)
            res[threads] = (statistics.median(times), n_chunks)
        print(f"  job of {work_us:5d} us: 1 thread {res[1][0]:8.1f} us, 2 threads {res[2][0]:8.1f} us "
              f"({res[2][1]} chunks): {res[1][0] / res[2][0]:.2f}x")


def cpu_scaling() -> None:
    a = np.random.default_rng(0).random(2048).astype(np.float32)
    b = np.random.default_rng(1).random(2048).astype(np.float32)
    _simd(a, b, 1)
    _chain(10)

    def run(fn, args, n):
        ts = [threading.Thread(target=fn, args=args) for _ in range(n)]
        t = time.perf_counter()
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        return time.perf_counter() - t

    print("CPUs: two threads doing twice the work of one")
    for name, fn, args in [("vectorized loop, L1 data", _simd, (a, b, 300_000)), ("scalar chain", _chain, (100_000_000,))]:
        one = min(run(fn, args, 1) for _ in range(3))
        two = min(run(fn, args, 2) for _ in range(3))
        print(f"  {name}: 1 thread {one * 1e3:.0f} ms, 2 threads {two * 1e3:.0f} ms: throughput {2 * one / two:.2f}x")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=10, help="jobs run back to back per timing")
    args = ap.parse_args(argv)
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cpus']} CPUs, Python {info['python']}; load average {os.getloadavg()[0]:.2f}")
    wait_until_warm()
    pool_speedups(args.layers)
    cpu_scaling()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
