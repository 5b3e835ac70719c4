"""How long reading and writing a large model takes (acceptance: 100 MB read < 0.3 s).

Builds a ~100 MB float model (a stack of FULLY_CONNECTED layers, ~600 tensors) with
ModelBuilder, writes it to a temporary file, then times ``edgelite.schema.read_model``
(memory-mapped, zero-copy) next to LiteRT's own load (``Interpreter(model_path=...)``)
in the same run, and prints the ratio.

    python benchmarks/bench_schema.py [--mb 100]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

import numpy as np

from edgelite.schema import read_model, write_model
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT


def build(mb: int) -> bytes:
    rng = np.random.default_rng(0)
    width = 1024
    layers = max(1, mb * 2**20 // (width * width * 4))
    b = ModelBuilder()
    x = b.add_input("x", (1, width), np.float32)
    for i in range(layers):
        w = b.add_constant(f"fc{i}/w", rng.standard_normal((width, width), dtype=np.float32))
        bias = b.add_constant(f"fc{i}/b", np.zeros(width, np.float32))
        y = b.add_tensor(f"fc{i}", (1, width), np.float32)
        b.add_operator("FULLY_CONNECTED", [x, w, bias], [y], FullyConnectedOptionsT())
        x = y
    b.mark_output(x)
    return write_model(b.model)


def timeit(fn, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = build(args.mb)
    t_write = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "big.tflite")
        with open(path, "wb") as f:
            f.write(data)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}")
        print(f"model: {len(data) / 2**20:.1f} MiB; build+write {t_write:.2f} s")
        t_read = timeit(lambda: read_model(path))
        print(f"edgelite read_model (mmap, zero-copy): {t_read * 1000:.1f} ms  (target < 300 ms)")
        m = read_model(path)
        t_rw = timeit(lambda: write_model(m), repeat=3)
        print(f"edgelite write_model: {t_rw * 1000:.1f} ms")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            return
        t_lite = timeit(lambda: Interpreter(model_path=path))
        print(f"LiteRT Interpreter(model_path) load: {t_lite * 1000:.1f} ms; edgelite/LiteRT = {t_read / t_lite:.2f}x")


if __name__ == "__main__":
    main()
