"""GPU delegate figures next to edgelite's CPU path and LiteRT, in one run.

For each model: median latency of edgelite CPU (Numba kernels), edgelite + GPU
delegate (fp32, and fp16 where the adapter has shader-f16) and LiteRT (default
XNNPACK path), runs interleaved; per-partition time (the DELEGATE step: upload,
dispatches, one submission, readback); dispatches and submissions per invoke; bytes
uploaded and read back per invoke; weight bytes uploaded once.

lavapipe (Mesa's Vulkan on the CPU, what CI and this dev machine have) is a slow
software emulation of a GPU: its figures check the *counts* (one submission, readback
only at partition outputs) and say nothing about GPU speed. The script prints the
adapter and flags a CPU adapter next to every figure.

Usage:
    python benchmarks/bench_gpu.py [MODEL.tflite ...] [--runs 10] [--warmup 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgelite import load_delegate  # noqa: E402
from edgelite.errors import DelegateError  # noqa: E402
from edgelite.interpreter import Interpreter  # noqa: E402
from edgelite.interpreter.cli_run import random_input  # noqa: E402
from edgelite.interpreter.profiling import OpProfiler  # noqa: E402

DEFAULT_MODELS = ["mobilenet_v1_025_96_float32", "mobilenet_v2_035_96_float16", "resnet_small_64_float32",
                  "unet_small_64_float32"]


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
        cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), cpu)
        flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
        cpu += " [" + " ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "fma") if f in flags) + "]"
    except OSError:
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version()}


def _litert(model: Path):
    try:
        from ai_edge_litert.interpreter import Interpreter as LiteRT
    except ImportError:
        return None
    return LiteRT(model_path=str(model), num_threads=1)


def bench(model: Path, runs: int, warmup: int) -> dict:
    runtimes = {"edgelite-cpu": Interpreter(model_path=str(model), num_threads=1)}
    delegates = {"gpu-fp32": load_delegate("gpu", {"max_delegated_partitions": 0})}
    f16 = load_delegate("gpu", {"max_delegated_partitions": 0, "is_precision_loss_allowed": 1})
    if f16.fp16:
        delegates["gpu-fp16"] = f16
    for name, d in delegates.items():
        runtimes[f"edgelite-{name}"] = Interpreter(model_path=str(model), num_threads=1, experimental_delegates=[d])
    lr = _litert(model)
    if lr is not None:
        runtimes["litert"] = lr
    rng = np.random.default_rng(0)
    feeds = {d["index"]: random_input(d, rng) for d in runtimes["edgelite-cpu"].get_input_details()}
    for it in runtimes.values():
        it.allocate_tensors()
        for i, v in feeds.items():
            it.set_tensor(i, v)
        for _ in range(warmup + 1):
            it.invoke()
    times = {k: [] for k in runtimes}
    for _ in range(runs):  # interleaved: every runtime sees the same machine load
        for name, it in runtimes.items():
            t0 = time.perf_counter()
            it.invoke()
            times[name].append(1000 * (time.perf_counter() - t0))
    out = {"model": model.name, "median_ms": {k: statistics.median(v) for k, v in times.items()}, "delegates": {}}
    for name in delegates:
        it = runtimes[f"edgelite-{name}"]
        prof = OpProfiler()
        it.set_profiler(prof)
        for _ in range(max(1, runs // 2)):
            it.invoke()
        it.set_profiler(None)
        plan = it.get_delegation_plan()
        rows = {r.index: r for r in prof.summary()}
        parts = []
        for p in plan.partitions:
            row = rows.get(p.node_index)
            parts.append({"ops": len(p.nodes), "ms": row.avg_ms if row else None, **p.kernel.stats()})
        cpu_ms = sum(r.avg_ms for r in prof.summary() if r.op_name != "DELEGATE")
        out["delegates"][name] = {"delegated_nodes": plan.delegated_nodes, "total_nodes": plan.total_nodes,
                                  "partitions": parts, "cpu_ops_ms": cpu_ms}
    out["adapter"] = delegates["gpu-fp32"].gpu.describe()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    models = [Path(m) for m in args.models] or [ROOT / "tests" / "fixtures" / f"{m}.tflite" for m in DEFAULT_MODELS]
    try:
        results = [bench(m, args.runs, args.warmup) for m in models]
    except DelegateError as e:
        print(f"GPU delegate unavailable: {e}")
        return 1
    info = machine_info()
    if args.json:
        print(json.dumps({"machine": info, "results": results}, indent=2))
        return 0
    print(f"machine: {info['cpu']}, {info['cpus']} cpus, {info['platform']}, Python {info['python']}")
    print(f"adapter: {results[0]['adapter']}")
    for r in results:
        med = r["median_ms"]
        base = med["edgelite-cpu"]
        print(f"\n{r['model']}: median ms (ratio to edgelite-cpu)")
        for k, v in med.items():
            print(f"  {k:<20} {v:>10.2f}  ({v / base:.2f}x)")
        for name, d in r["delegates"].items():
            print(f"  {name}: {d['delegated_nodes']}/{d['total_nodes']} nodes delegated, CPU ops {d['cpu_ops_ms']:.2f} ms")
            for k, p in enumerate(d["partitions"]):
                ms = f"{p['ms']:.2f} ms" if p["ms"] is not None else "-"
                print(f"    partition {k}: {p['ops']} ops, {ms}, {p['dispatches_per_invoke']} dispatches, "
                      f"{p['submissions_per_invoke']} submission(s), upload {p['upload_bytes_per_invoke']} B, "
                      f"readback {p['readback_bytes_per_invoke']} B per invoke; weights {p['weight_bytes']} B once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
