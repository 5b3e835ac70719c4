"""Converter benchmark: conversion time, then LiteRT and ONNX Runtime latency of the network.

Uses the full-size models written by ``python tests/converter/models/make_models.py
--full`` into ``models/`` (falls back to the small committed copies when absent).
Both runtimes run single-threaded on the same input; never gates CI.

    python benchmarks/bench_convert.py [resnet18 mobilenet_v2 ...] [--runs 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FULL = os.path.join(ROOT, "models")
SMALL = os.path.join(ROOT, "tests", "converter", "models")


def _median_ms(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def bench(name: str, runs: int) -> None:
    import onnx
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    import edgelite

    path = os.path.join(FULL, f"{name}.onnx")
    size = "full"
    if not os.path.exists(path):
        path, size = os.path.join(SMALL, f"{name}.onnx"), "small (run make_models.py --full for full size)"
    t = time.perf_counter()
    tfl = edgelite.convert(path)
    first = time.perf_counter() - t
    conv = [first]
    for _ in range(3):
        t = time.perf_counter()
        edgelite.convert(path)
        conv.append(time.perf_counter() - t)

    model = onnx.load(path)
    rng = np.random.default_rng(0)
    feeds = {}
    for vi in model.graph.input:
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        if vi.type.tensor_type.elem_type == onnx.TensorProto.INT64:
            feeds[vi.name] = rng.integers(0, 2, shape).astype(np.int64)
        else:
            feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    ort_ms = _median_ms(lambda: sess.run(None, feeds), runs)

    it = Interpreter(model_content=tfl, num_threads=1)
    it.allocate_tensors()
    for d in it.get_input_details():
        x = feeds[d["name"]]
        it.set_tensor(d["index"], x if tuple(d["shape"]) == x.shape else np.ascontiguousarray(np.moveaxis(x, 1, -1)))
    litert_ms = _median_ms(it.invoke, runs)
    print(
        f"{name:22s} [{size}] convert first {first * 1e3:7.1f} ms, median {statistics.median(conv) * 1e3:7.1f} ms"
        f" | LiteRT {litert_ms:7.2f} ms | ONNX Runtime {ort_ms:7.2f} ms | LiteRT/ORT {litert_ms / ort_ms:5.2f}"
        f" | {len(tfl) / 1e6:.1f} MB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description="edgelite converter benchmark")
    ap.add_argument("names", nargs="*", default=["resnet18"])
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cores={os.cpu_count()} "
        f"python {platform.python_version()}; 1 thread per runtime"
    )
    for name in a.names:
        bench(name, a.runs)


if __name__ == "__main__":
    main()
